"""`zoo bench ...` subcommands: timings of parts of the system, and `zoo bench all` grouping them."""
import json
import os
import sys
import tempfile
import time

from zoo import bench_pipeline, bench_train
from zoo.errors import UserError
from zoo.export import bench as export_bench

PRESET = "rsc15-xe-shared"


def bench_all(train_path=None, test_path=None, requests=200, progress=None):
    """Pipeline, training (1 epoch of GRU4Rec `rsc15-xe-shared`), evaluation and serving figures.

    Args:
        train_path: training log; None for the rsc15-100k sample (`bench_pipeline.default_data`),
            with its test file as `test_path` unless one is given.
        test_path: test log to time the evaluation on; None (and not the default data) skips it.
        requests: timed requests per serving case.
        progress: a stream for one line per finished part, or None.

    Returns:
        {"pipeline": ..., "train": ..., "evaluate": {"seconds", "events", "events_per_s", "recall@20",
        "mrr@20"} or None, "serve": ...}: the dicts of `zoo bench pipeline`, `zoo bench train` and
        `zoo bench serve` (on a fresh export of the trained model, in a temporary directory).
    """
    from zoo.datasets.io import load_events
    from zoo.evaluate import evaluate
    from zoo.export.exporter import export_run

    if train_path is None:
        train_path = bench_pipeline.default_data()
        if train_path is None:
            raise UserError("the rsc15-100k sample is not in shared/data: pass --train (and --test)")
        test_path = test_path or str(train_path).replace("_train_full.txt", "_test.txt")
    report = {"pipeline": bench_pipeline.bench_pipeline(train_path)}
    _done(progress, "pipeline")
    report["train"], run = bench_train.bench_train(str(train_path), PRESET, with_model=True)
    _done(progress, "train")
    report["evaluate"] = None
    if test_path:
        test = load_events(test_path)
        start = time.perf_counter()
        metrics = evaluate(run.model, test, run.vocab, cutoffs=(20,))
        seconds = time.perf_counter() - start
        report["evaluate"] = {"seconds": round(seconds, 3), "events": metrics["events"],
                              "events_per_s": round(metrics["events"] / seconds, 1),
                              "recall@20": metrics["recall@20"], "mrr@20": metrics["mrr@20"]}
        _done(progress, "evaluate")
    with tempfile.TemporaryDirectory() as export_dir:
        export_run(run, os.path.join(export_dir, "export"))
        report["serve"] = export_bench.bench_serve(os.path.join(export_dir, "export"), requests)
    _done(progress, "serve")
    return report


def _done(progress, part):
    if progress is not None:
        print(f"zoo bench all: {part} done", file=progress, flush=True)


def add_commands(subparsers):
    p = subparsers.add_parser("bench", help="time parts of the system")
    commands = p.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")
    commands.required = True
    bench_pipeline.add_commands(commands)
    bench_train.add_commands(commands)
    export_bench.add_commands(commands)
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
    report = bench_all(args.train, args.test, args.requests, progress=sys.stderr)
    if args.out:
        from zoo.files import write_json

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
