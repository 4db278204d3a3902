"""Catalogue-scale measurements: evaluation and export of an untrained model of millions of items.

    zoo bench scale-run DIR [--items 1000000] [--layers 64] [--events 2000] [--seed 0]
    zoo bench measure -- zoo evaluate DIR/run --test DIR/test.tsv --batch-size 512

`scale-run` (`make_scale_run`) writes `DIR/run` (a GRU4Rec run directory, random weights: no training
is needed to measure time and memory) and `DIR/test.tsv` (sessions of 2 to 8 clicks on random items, `--events` events in
all). `measure` runs a command in a child process and prints its wall time and peak resident memory
(`os.wait4`'s `ru_maxrss` of that child alone) as one JSON line.
"""
import os
import subprocess
import time

import numpy as np


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
    lengths = []
    while sum(lengths) < n_events:
        lengths.append(int(rng.integers(2, 9)))
    lengths[-1] -= sum(lengths) - n_events
    if lengths[-1] < 2:  # the remainder joins the session before it
        last = lengths.pop()
        lengths[-1] += last
    sessions = np.repeat(np.arange(len(lengths)), lengths)
    test = pd.DataFrame({"SessionId": sessions, "ItemId": ids[rng.integers(0, n_items, n_events)],
                         "Time": 1_600_000_000.0 + np.arange(n_events)})
    test_path = os.path.join(out_dir, "test.tsv")
    test.to_csv(test_path, sep="\t", index=False)
    return run_dir, test_path


def measure(command):
    """Runs `command` (a list) and returns {seconds, peak_rss_mb, returncode} of that child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "returncode": process.returncode, "command": " ".join(command)}

