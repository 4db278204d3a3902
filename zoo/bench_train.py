"""`zoo bench train`: training throughput (events/s) and peak memory of a preset on a log."""
import json
import resource
import sys
import time

from zoo.cli import add_threads_option


def bench_train(train_path, preset=None, model="gru4rec", epochs=1, sets=(), with_model=False):
    """Trains `epochs` epochs and times them; the first epoch includes tracing, so also reported apart.

    Returns:
        dict with `events_per_s` (over all epochs after the first when there are several, else the
        first), `first_epoch_events_per_s`, `epochs`, `events` (training pairs per epoch), `load_s`,
        `peak_rss_mb` and the configuration; with `with_model`, (that dict, the trained `zoo.runs.Run`).
    """
    from zoo import presets, training
    from zoo.datasets.io import load_events

    config = presets.resolve(preset, sets, epochs=epochs)
    start = time.perf_counter()
    events = load_events(train_path)
    load_s = time.perf_counter() - start
    trained, vocab, log = training.fit(model, events, config, verbose=0)
    steady = log[1:] or log
    seconds = sum(row["seconds"] for row in steady)
    pairs = int(len(events) - events["SessionId"].nunique())
    result = {
        "events_per_s": round(pairs * len(steady) / seconds, 1),
        "first_epoch_events_per_s": log[0]["events_per_s"],
        "epochs": len(log),
        "events": pairs,
        "load_s": round(load_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "model": model,
        "preset": preset,
        "final_loss": log[-1]["loss"],
    }
    if not with_model:
        return result
    from zoo.runs import Run

    return result, Run(trained, vocab, {"model": model, "preset": preset, "config": config})


def add_commands(commands):
    p = commands.add_parser("train", help="training events/s and peak memory of a preset")
    p.add_argument("--train", required=True, metavar="PATH", help="training event log")
    p.add_argument("--preset", help="named hyper-parameters, e.g. rsc15-xe-shared")
    p.add_argument("--model", default="gru4rec")
    p.add_argument("--epochs", type=int, default=1, help="epochs to time (default 1)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one option")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_threads_option(p)
    p.set_defaults(func=_run)


def _run(args):
    result = bench_train(args.train, args.preset, args.model, args.epochs, args.set)
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return
    print(f"{result['model']} {result['preset'] or ''}: {result['events_per_s']:.0f} training events/s "
          f"({result['events']} events/epoch, {result['epochs']} epochs; first epoch with tracing "
          f"{result['first_epoch_events_per_s']:.0f}/s), peak memory {result['peak_rss_mb']:.0f} MB",
          file=sys.stdout)
