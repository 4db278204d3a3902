"""Catalogue-scale measurements: GRU4Rec trained, evaluated and exported over catalogues of 10^4 to 10^7 items.

    zoo bench scale --out DIR [--items 10000,100000,1000000,5000000] [--train-events 1000000]
    zoo bench scale-run DIR [--items 1000000] [--layers 64] [--events 2000] [--seed 0]
    zoo bench measure -- zoo evaluate DIR/run --test DIR/test.tsv --batch-size 512

`scale` (`bench_scale`), for each catalogue size N: writes a synthetic training log in which every
one of the N items occurs (sessions of 2 to 8 clicks, max(N, `--train-events`) events, the rest drawn
uniformly) and a test log of `--test-events` events; then, each command in a child process of its
own, `zoo train` (1 epoch, 64 units, 256 sampled negatives: events/s and the median training step
time from train_log.json), `zoo evaluate` (full ranking, batch 512), `zoo export` (SavedModel by
default) and `zoo bench serve` (the SavedModel's `step` and `serving_default` p50, one session a
request, in process as TF Serving runs them), with each one's wall time and peak resident memory,
and the export's size on disk. `tables_mb` is
what the catalogue itself costs in training: the item table, its bias and the optimizer's two slots
per row, 3 N (H + 1) float32. A row whose peak memory grows faster than `tables_mb` has a cost that
grows with the catalogue beyond the tables.

`scale-run` (`make_scale_run`) writes `DIR/run` (a GRU4Rec run directory, random weights: no training
is needed to measure time and memory) and `DIR/test.tsv` (sessions of 2 to 8 clicks on random items, `--events` events in
all). `measure` runs a command in a child process and prints its wall time and peak resident memory
(`os.wait4`'s `ru_maxrss` of that child alone) as one JSON line.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np

SIZES = (10_000, 100_000, 1_000_000, 5_000_000)


def make_scale_run(out_dir, n_items=1_000_000, layers=(64,), n_events=2000, seed=0):
    """Writes `out_dir/run` (GRU4Rec with `n_items` items, random weights) and `out_dir/test.tsv`.

    Returns:
        (run directory, test log path).
    """
    import pandas as pd

    import zoo
    from zoo.datasets.vocab import Vocabulary
    from zoo.runs.directory import save_run

    rng = np.random.default_rng(seed)
    ids = np.array([f"item-{i}" for i in range(n_items)], dtype=object)
    vocab = Vocabulary(ids, "str")
    model = zoo.get_model("gru4rec", n_items=n_items, layers=list(layers), batch_size=32)
    model.item_bias.assign(rng.standard_normal(n_items).astype(np.float32) * 0.1)
    info = {"model": "gru4rec", "config": {"layers": list(layers)}, "synthetic": True}
    run_dir = os.path.join(out_dir, "run")
    save_run(run_dir, model, vocab, info, [])
    sessions = np.repeat(*_sessions(rng, n_events))
    test = pd.DataFrame({"SessionId": sessions, "ItemId": ids[rng.integers(0, n_items, n_events)],
                         "Time": 1_600_000_000.0 + np.arange(n_events)})
    test_path = os.path.join(out_dir, "test.tsv")
    test.to_csv(test_path, sep="\t", index=False)
    return run_dir, test_path


def _sessions(rng, n_events):
    """(session index of each session, its length): sessions of 2 to 8 events, `n_events` in all."""
    lengths = rng.integers(2, 9, n_events // 2 + 1)
    lengths = lengths[:np.searchsorted(np.cumsum(lengths), n_events) + 1]
    lengths[-1] -= lengths.sum() - n_events
    if lengths[-1] < 2:  # the remainder joins the session before it
        lengths = np.r_[lengths[:-2], lengths[-2] + lengths[-1]]
    return np.arange(len(lengths)), lengths


def write_scale_logs(out_dir, n_items, train_events, test_events, seed=0):
    """`out_dir/train.tsv` (every one of the `n_items` items at least once, max(n_items, train_events)
    events) and `out_dir/test.tsv` (`test_events` events, after the training log); returns both paths."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_train = max(n_items, train_events)
    items = np.concatenate([rng.permutation(n_items), rng.integers(0, n_items, n_train - n_items)])
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, chosen, start in (("train", items, 0), ("test", rng.integers(0, n_items, test_events), n_train)):
        path = os.path.join(out_dir, f"{name}.tsv")
        sessions = np.repeat(*_sessions(rng, len(chosen)))
        pd.DataFrame({"SessionId": sessions, "ItemId": chosen, "Time": 1_600_000_000.0 + start + np.arange(len(chosen))}
                     ).to_csv(path, sep="\t", index=False)
        paths.append(path)
    return tuple(paths)


def bench_scale(out_dir, sizes=SIZES, train_events=1_000_000, test_events=10_000, units=64, n_sample=256,
                export_format="saved_model", progress=None):
    """One row per catalogue size (see the module docstring); `progress`: a stream for each row as it ends.

    Raises:
        UserError: a child command failed (its command line and exit code).
    """
    rows = []
    for n_items in sizes:
        folder = os.path.join(out_dir, f"items-{n_items}")
        train_path, test_path = write_scale_logs(folder, n_items, train_events, test_events)
        run_dir, export_dir = os.path.join(folder, "run"), os.path.join(folder, "export")
        zoo = [sys.executable, "-m", "zoo.cli"]
        train = _checked(zoo + ["train", "--model", "gru4rec", "--train", train_path, "--set", f"layers={units}",
                                "--set", f"n_sample={n_sample}", "--epochs", "1", "--out", run_dir, "--overwrite",
                                "--quiet"])
        with open(os.path.join(run_dir, "train_log.json")) as f:
            epoch = json.load(f)[0]
        evaluate = _checked(zoo + ["evaluate", run_dir, "--test", test_path, "--batch-size", "512", "--json"])
        row = {"items": n_items, "train_events": max(n_items, train_events), "units": units, "n_sample": n_sample,
               "events_per_s": epoch["events_per_s"], "step_ms_p50": epoch.get("step_ms_p50"),
               "train_s": train["seconds"], "train_peak_rss_mb": train["peak_rss_mb"],
               "tables_mb": round(3 * n_items * (units + 1) * 4 / 2 ** 20, 1),
               "test_events": test_events, "evaluate_s": evaluate["seconds"],
               "evaluate_peak_rss_mb": evaluate["peak_rss_mb"]}
        if export_format != "none":
            export = _checked(zoo + ["export", run_dir, "--out", export_dir, "--format", export_format, "--overwrite"])
            row.update({"export_format": export_format, "export_s": export["seconds"],
                        "export_peak_rss_mb": export["peak_rss_mb"], "export_mb": round(_size(export_dir) / 2 ** 20, 1)})
            if export_format != "tflite":
                row.update(_serve_latency(zoo, export_dir))
        rows.append(row)
        if progress:
            print(json.dumps(row), file=progress, flush=True)
    return rows


def _serve_latency(zoo, export_dir, requests=100):
    """`step` and `serving_default` p50 (ms, one request of one session, in process as TF Serving runs
    the SavedModel) and the serving process's peak memory, from `zoo bench serve`."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out:
        result = measure(zoo + ["bench", "serve", export_dir, "--requests", str(requests), "--json"], stdout=out)
        if result["returncode"] != 0:
            from zoo.errors import UserError

            raise UserError(f"{result['command']} exited with {result['returncode']}")
        out.seek(0)
        latency = json.loads(out.read().strip().splitlines()[-1])["latency"]
    return {"step_p50_ms": latency["saved_model.step.in_process"]["p50_ms"],
            "recommend_p50_ms": latency["saved_model.serving_default.in_process"]["p50_ms"],
            "serve_peak_rss_mb": result["peak_rss_mb"]}


def _checked(command):
    result = measure(command, quiet=True)
    if result["returncode"] != 0:
        from zoo.errors import UserError

        raise UserError(f"{result['command']} exited with {result['returncode']}")
    return result


def _size(folder):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)


def format_scale(rows):
    """The rows as a Markdown table."""
    head = ("| items | train events | events/s | train step p50 ms | train peak MB | tables MB | evaluate s "
            "(test events) | evaluate peak MB | export s | export peak MB | export MB | `step` p50 ms | "
            "serve peak MB |")
    lines = [head, "|" + "---:|" * 13]
    for r in rows:
        export = [f"{r['export_s']:.0f}", f"{r['export_peak_rss_mb']:,.0f}", f"{r['export_mb']:,.0f}"] \
            if "export_s" in r else ["-", "-", "-"]
        serve = [f"{r['step_p50_ms']}", f"{r['serve_peak_rss_mb']:,.0f}"] if "step_p50_ms" in r else ["-", "-"]
        lines.append(f"| {r['items']:,} | {r['train_events']:,} | {r['events_per_s']:,.0f} | {r['step_ms_p50']} | "
                     f"{r['train_peak_rss_mb']:,.0f} | {r['tables_mb']:,.1f} | {r['evaluate_s']:.0f} "
                     f"({r['test_events']:,}) | {r['evaluate_peak_rss_mb']:,.0f} | " + " | ".join(export + serve) + " |")
    return "\n".join(lines)


def measure(command, quiet=False, stdout=None):
    """Runs `command` (a list) and returns {seconds, peak_rss_mb, returncode} of that child process
    (`quiet`: its standard output is discarded; `stdout`: a file it goes to)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL if quiet else stdout)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "returncode": process.returncode, "command": " ".join(command)}

