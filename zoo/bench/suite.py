"""`zoo bench all`: pipeline, training, evaluation and serving figures in one JSON object."""
import os
import tempfile
import time

from zoo.bench.pipeline import bench_pipeline, default_data
from zoo.bench.serve import bench_serve
from zoo.bench.train import bench_train
from zoo.errors import UserError

PRESET = "rsc15-xe-shared"


def bench_all(train_path=None, test_path=None, requests=200, progress=None):
    """Pipeline, training (1 epoch of GRU4Rec `rsc15-xe-shared`), evaluation and serving figures.

    Args:
        train_path: training log; None for the rsc15-100k sample (`zoo.bench.pipeline.default_data`),
            with its test file as `test_path` unless one is given.
        test_path: test log to time the evaluation on; None (and not the default data) skips it.
        requests: timed requests per serving case.
        progress: a stream for one line per finished part, or None (not `keras.utils.Progbar`: four
            named parts on stderr; Progbar writes to stdout, where the JSON report goes).

    Returns:
        {"pipeline": ..., "train": ..., "evaluate": {"seconds", "events", "events_per_s", "recall@20",
        "mrr@20"} or None, "serve": ...}: the dicts of `zoo bench pipeline`, `zoo bench train` and
        `zoo bench serve` (on a fresh export of the trained model, in a temporary directory).
    """
    from zoo.datasets.io import load_events
    from zoo.evaluation import evaluate
    from zoo.export.exporter import export_run

    if train_path is None:
        train_path = default_data()
        if train_path is None:
            raise UserError("the rsc15-100k sample is not in shared/data: pass --train (and --test)")
        test_path = test_path or str(train_path).replace("_train_full.txt", "_test.txt")
    report = {"pipeline": bench_pipeline(train_path)}
    _done(progress, "pipeline")
    report["train"], run = bench_train(str(train_path), PRESET, with_model=True)
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
        report["serve"] = bench_serve(os.path.join(export_dir, "export"), requests)
    _done(progress, "serve")
    return report


def _done(progress, part):
    if progress is not None:
        print(f"zoo bench all: {part} done", file=progress, flush=True)
