"""`zoo bench ...`: timings of parts of the system (pipeline, train, serve, load, quantization, parity, all)."""
import argparse
import json
import sys
from pathlib import Path

from zoo.atomic import write_json
from zoo.cli.common import add_threads_option
from zoo.errors import UserError


def add_commands(subparsers):
    p = subparsers.add_parser("bench", help="time parts of the system")
    commands = p.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")
    commands.required = True
    for add in (_add_pipeline, _add_train, _add_serve, _add_load, _add_prep, _add_scale):
        add(commands)
    p = commands.add_parser("all", help="pipeline, train, evaluate and serve figures in one JSON object")
    p.add_argument("--train", metavar="PATH", help="training log (default: the rsc15-100k sample and its test file)")
    p.add_argument("--test", metavar="PATH", help="test log to time the evaluation on")
    p.add_argument("--requests", type=int, default=200, help="timed requests per serving case (default 200)")
    p.add_argument("--out", metavar="FILE", help="also write the JSON object to FILE (atomically)")
    p.add_argument("--json", action="store_true", help="print the JSON object (default: a summary)")
    p.set_defaults(func=_all)


def _all(args):
    if args.requests < 1:
        raise UserError(f"--requests must be >= 1, got {args.requests}")
    from zoo.bench.suite import PRESET, bench_all

    report = bench_all(args.train, args.test, args.requests, progress=sys.stderr)
    if args.out:
        write_json(args.out, report)
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return
    evaluation = report["evaluate"]
    print(f"pipeline: {report['pipeline']['batch_events_per_s']:,.0f} batch events/s, "
          f"tf.data {report['pipeline']['tfdata_events_per_s']:,.0f} events/s")
    print(f"train: {report['train']['events_per_s']:,.0f} events/s (1 epoch {PRESET})")
    if evaluation:
        print(f"evaluate: {evaluation['seconds']:.2f} s for {evaluation['events']} events "
              f"(Recall@20 {evaluation['recall@20']:.4f}, MRR@20 {evaluation['mrr@20']:.4f})")
    for case, times in report["serve"]["latency"].items():
        print(f"serve {case:<38} p50 {times['p50_ms']:8.3f} ms   p99 {times['p99_ms']:8.3f} ms")


def _add_pipeline(commands):
    p = commands.add_parser("pipeline", help="time event log -> session-parallel batches -> tf.data")
    p.add_argument("--data", type=Path, help="event log (default: the rsc15-100k sample, else synthetic)")
    p.add_argument("--batch-size", type=int, default=32, help="session-parallel slots (default 32)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=_pipeline)


def _pipeline(args):
    from zoo.bench.pipeline import bench_pipeline

    result = bench_pipeline(args.data, args.batch_size)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"data: {result['source']} ({result['events']:,} events, {result['sessions']:,} sessions)")
    print(f"load: {result['load_s']:.3f} s, vocabulary: {result['vocab_s']:.3f} s")
    print(
        f"batch building (NumPy): {result['batch_s']:.3f} s, {result['batch_events_per_s']:,.0f} events/s"
        f" ({result['steps']:,} steps of {result['batch_size']})"
    )
    print(f"tf.data pass: {result['tfdata_s']:.3f} s, {result['tfdata_events_per_s']:,.0f} events/s")


def _add_train(commands):
    p = commands.add_parser("train", help="training events/s and peak memory of a preset")
    p.add_argument("--train", required=True, metavar="PATH", help="training event log")
    p.add_argument("--preset", help="named hyper-parameters, e.g. rsc15-xe-shared")
    p.add_argument("--model", default="gru4rec")
    p.add_argument("--epochs", type=int, default=1, help="epochs to time (default 1)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one option")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_threads_option(p)
    p.set_defaults(func=_train)


def _train(args):
    from zoo.bench.train import bench_train

    result = bench_train(args.train, args.preset, args.model, args.epochs, args.set)
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return
    print(f"{result['model']} {result['preset'] or ''}: {result['events_per_s']:.0f} training events/s "
          f"({result['events']} events/epoch, {result['epochs']} epochs; first epoch with tracing "
          f"{result['first_epoch_events_per_s']:.0f}/s), peak memory {result['peak_rss_mb']:.0f} MB",
          file=sys.stdout)


def _add_serve(commands):
    p = commands.add_parser("serve", help="latencies of an export: SavedModel in process, gRPC, REST, TFLite")
    p.add_argument("dir", metavar="DIR", help="deployment directory of `zoo export`")
    p.add_argument("--requests", type=int, default=200, help="timed requests per case (default 200)")
    p.add_argument("--load", type=int, nargs=2, metavar=("CLIENTS", "REQUESTS"),
                   help="also load-test the local server by gRPC and REST (as `zoo bench load`), e.g. 32 20000")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_serve)
    p = commands.add_parser("quantization", help="Recall@N / MRR@N of the TFLite variants of an export on a test log")
    p.add_argument("dir", metavar="DIR", help="deployment directory of `zoo export` (with TFLite files)")
    p.add_argument("--test", required=True, metavar="PATH", help="test event log")
    p.add_argument("--cutoff", type=int, default=20, help="N of Recall@N and MRR@N (default 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_quantization)
    p = commands.add_parser("parity", help="how closely an export's answers match the Keras model of its run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("dir", metavar="DIR", help="deployment directory of `zoo export` of that run")
    p.add_argument("--test", required=True, metavar="PATH", help="test event log")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_parity)


def _serve(args):
    if args.requests < 1:
        raise UserError(f"--requests must be >= 1, got {args.requests}")
    from zoo.bench.serve import bench_serve

    result = bench_serve(args.dir, args.requests)
    if args.load:
        from zoo.bench.load import load_test

        clients, requests = args.load
        result["load"] = {protocol: load_test(args.dir, clients, requests, protocol) for protocol in ("grpc", "rest")}
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return
    for case, times in result["latency"].items():
        print(f"{case:<44} p50 {times['p50_ms']:8.3f} ms   p99 {times['p99_ms']:8.3f} ms")
    for protocol, load in result.get("load", {}).items():
        print(f"load {protocol:<39} {load['errors']} errors of {load['sent']}, p50 {load['p50_ms']:.1f} ms, "
              f"p99 {load['p99_ms']:.1f} ms, {load['requests_per_s']:.0f} requests/s")
    for name, size in result["sizes"].items():
        print(f"{name:<44} {size / 1e6:8.2f} MB")


def _quantization(args):
    if args.cutoff < 1:
        raise UserError(f"--cutoff must be >= 1, got {args.cutoff}")
    from zoo.bench.quantization import TFLITE, bench_quantization

    result = bench_quantization(args.dir, args.test, args.cutoff)
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return
    print(f"{result['events']} test events in {result['sessions']} sessions")
    for name in TFLITE:
        metrics = result[name]
        change = metrics.get("recall_change")
        change = f"  (recall {change:+.2%} vs float32)" if change is not None else ""
        print(f"{name:<20} recall@{args.cutoff} {metrics[f'recall@{args.cutoff}']:.4f}  "
              f"mrr@{args.cutoff} {metrics[f'mrr@{args.cutoff}']:.4f}{change}")


def _parity(args):
    from zoo import runs
    from zoo.bench.parity import bench_parity

    result = bench_parity(runs.load_run(args.run_dir), args.dir, args.test)
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return
    print(f"{result['sessions']} test sessions, whole session as history")
    for name, r in result.items():
        if isinstance(r, dict):
            print(f"{name:<20} max |score diff| {r['max_abs_score_diff']:.2e}  p99 {r['p99_abs_score_diff']:.2e}  "
                  f"within {result['tolerance']:g}: {r['share_within_tolerance']:.2%}  "
                  f"top-10 identical: {r['top10_identical']:.2%}")


def _add_load(commands):
    p = commands.add_parser("load", help="bounded load test of `zoo serve` on 127.0.0.1: errors, p50/p99, requests/s")
    p.add_argument("dir", metavar="DIR", help="deployment directory of `zoo export`")
    p.add_argument("--clients", type=int, default=32, help="concurrent client threads (default 32)")
    p.add_argument("--requests", type=int, default=20000, help="requests in all (default 20000)")
    p.add_argument("--protocol", default="grpc", choices=("grpc", "rest"), help="gRPC stub or REST (default grpc)")
    p.add_argument("--malformed-every", type=int, default=0, metavar="N",
                   help="make every N-th request malformed; it must be refused (default 0: none)")
    p.add_argument("--max-seconds", type=int, default=300, help="start no request after this many seconds (default 300)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_load)


def _load(args):
    from zoo.bench.load import load_test

    result = load_test(args.dir, args.clients, args.requests, args.protocol, args.malformed_every, args.max_seconds)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"{result['protocol']}: {result['sent']} requests from {result['clients']} clients in "
              f"{result['seconds']} s: {result['errors']} errors, {result['refused']} malformed refused, "
              f"{result['not_sent']} not sent; p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
              f"{result['requests_per_s']} requests/s")
        for message in result["first_errors"]:
            print(f"  error: {message}")
    return 1 if result["errors"] else 0


def _add_prep(commands):
    p = commands.add_parser("prep", help="zoo datasets prep and the batch builder on a Yoochoose-sized synthetic "
                                         "log: time and peak memory")
    p.add_argument("--events", type=int, default=30_000_000, help="events of the synthetic log (default 30M)")
    p.add_argument("--items", type=int, default=50_000, help="items of the synthetic log (default 50,000)")
    p.add_argument("--dir", metavar="DIR",
                   help="where the log and the sets go meanwhile (default: a temporary folder)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_prep)


def _prep(args):
    from zoo.bench.prep import bench_prep

    if args.events < 10 or args.items < 1:
        raise UserError("--events must be >= 10 and --items >= 1")
    result = bench_prep(args.events, args.items, args.dir, progress=sys.stderr)
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return
    log, prep, pipeline = result["log"], result["prep"], result["pipeline"]
    print(f"log: {log['events']:,} events, {log['sessions']:,} sessions, {log['items']:,} items")
    print(f"zoo datasets prep: {prep['seconds']:.1f} s, peak {prep['peak_rss_mb']:,.0f} MB")
    print(f"batch building: {pipeline['batch_events_per_s']:,.0f} events/s, tf.data pass "
          f"{pipeline['tfdata_events_per_s']:,.0f} events/s; the whole bench pipeline {pipeline['seconds']:.1f} s, "
          f"peak {pipeline['peak_rss_mb']:,.0f} MB")


def _add_scale(commands):
    p = commands.add_parser("scale", help="GRU4Rec trained, evaluated and exported over catalogues of 10k to 5M "
                                          "items: time, peak memory, size")
    p.add_argument("--out", required=True, metavar="DIR", help="where the logs, runs and exports go (kept)")
    p.add_argument("--items", default="10000,100000,1000000,5000000", help="catalogue sizes, comma-separated")
    p.add_argument("--train-events", type=int, default=1_000_000,
                   help="training events (default 1,000,000; at least the catalogue size, so every item occurs)")
    p.add_argument("--test-events", type=int, default=10_000, help="test events ranked (default 10,000)")
    p.add_argument("--units", type=int, default=64, help="GRU units (default 64)")
    p.add_argument("--n-sample", type=int, default=256, help="sampled negatives (default 256)")
    p.add_argument("--export", default="saved_model", choices=("saved_model", "tflite", "all", "none"),
                   help="what zoo export writes (default saved_model; TFLite over 2 GB is refused)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    p.set_defaults(func=_scale)
    p = commands.add_parser("scale-run", help="write an untrained GRU4Rec run of a large catalogue and a test log")
    p.add_argument("out", metavar="DIR")
    p.add_argument("--items", type=int, default=1_000_000, help="catalogue size (default 1,000,000)")
    p.add_argument("--layers", type=int, nargs="+", default=[64], help="hidden sizes (default 64)")
    p.add_argument("--events", type=int, default=2000, help="test events (default 2000)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_scale_run)
    p = commands.add_parser("measure", help="run a command in a child process: its wall time and peak memory")
    p.add_argument("command_argv", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    p.set_defaults(func=_measure)


def _scale(args):
    from zoo.bench.scale import bench_scale, format_scale

    try:
        sizes = [int(n) for n in args.items.split(",")]
    except ValueError:
        raise UserError(f"--items {args.items!r}: expected comma-separated integers") from None
    if min(sizes) < 1 or args.train_events < 1 or args.test_events < 2 or args.units < 1 or args.n_sample < 1:
        raise UserError("--items, --train-events, --units and --n-sample must be >= 1, --test-events >= 2")
    rows = bench_scale(args.out, sizes, args.train_events, args.test_events, args.units, args.n_sample, args.export,
                       progress=sys.stderr)
    print(json.dumps(rows) if args.json else format_scale(rows))


def _scale_run(args):
    from zoo.bench.scale import make_scale_run

    run_dir, test_path = make_scale_run(args.out, args.items, args.layers, args.events, args.seed)
    print(json.dumps({"run": run_dir, "test": test_path}))


def _measure(args):
    from zoo.bench.scale import measure

    argv = args.command_argv[1:] if args.command_argv[:1] == ["--"] else args.command_argv
    if not argv:
        raise UserError("zoo bench measure needs a command: zoo bench measure -- COMMAND ...")
    result = measure(argv)
    print(json.dumps(result))
    return 0 if result["returncode"] == 0 else 1

