"""`zoo bench prep`: `zoo datasets prep` and the batch builder on a Yoochoose-sized synthetic log, with
the wall time and peak memory of each, measured in a child process of its own.

    result = bench_prep(n_events=30_000_000)
    result["prep"]["seconds"], result["prep"]["peak_rss_mb"], result["pipeline"]["batch_events_per_s"]

The log (`synthetic_clicks`) has the shape of Yoochoose's clicks: sessions of geometric length (mean
about 3.7 clicks, half of them one click), item popularity following Zipf's law over `n_items`
items, session starts spread over `days` days, 45 s between clicks; integer ids, Unix seconds.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def synthetic_clicks(path, n_events=30_000_000, n_items=50_000, days=180, seed=0):
    """Writes the synthetic click log to the Parquet file `path` (row groups of 1M events).

    Returns:
        (number of events, number of sessions).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    lengths = rng.geometric(0.27, size=int(n_events / 3.7) + 1)
    lengths = lengths[np.cumsum(lengths) <= n_events]
    n, sessions = int(lengths.sum()), len(lengths)
    starts = np.sort(rng.uniform(1.396e9, 1.396e9 + days * 86400, sessions))
    first = np.cumsum(lengths) - lengths
    times = np.repeat(starts, lengths) + (np.arange(n) - np.repeat(first, lengths)) * 45
    items = (rng.zipf(1.1, n) % n_items) * 7919 % n_items  # popular items spread over the id range
    table = pa.table({"SessionId": np.repeat(np.arange(sessions, dtype=np.int64), lengths),
                      "ItemId": items.astype(np.int64) + 1_000_000, "Time": times.astype(np.int64)})
    pq.write_table(table, path, row_group_size=1_000_000)
    return n, sessions


def run_measured(argv):
    """Runs `argv` in a child process: (its stdout, wall seconds, its peak resident memory in MB).

    Raises:
        RuntimeError: the child failed (its last stderr line says why).
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(argv, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0), err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[2:4])} failed: {(err.read().strip().splitlines() or ['?'])[-1]}")
        return out.read(), round(seconds, 1), round(usage.ru_maxrss / 1024, 1)


def bench_prep(n_events=30_000_000, n_items=50_000, work_dir=None, progress=None):
    """Times `zoo datasets prep` (time split, last day as test) and `zoo bench pipeline` (batch building
    and one tf.data pass) on a synthetic log of `n_events` events, each in a child process.

    Args:
        n_events, n_items: the size of the synthetic log.
        work_dir: where the log and the prepared sets go (default: a temporary folder, removed).
        progress: a stream for one line per finished part, or None.

    Returns:
        {"log": {"events", "sessions", "items", "seconds"}, "prep": {"seconds", "peak_rss_mb"},
         "pipeline": the dict of `zoo bench pipeline` with its "seconds" and "peak_rss_mb"}.
    """
    with tempfile.TemporaryDirectory(dir=work_dir) as folder:
        log = os.path.join(folder, "clicks.parquet")
        start = time.perf_counter()
        events, sessions = synthetic_clicks(log, n_events, n_items)
        result = {"log": {"events": events, "sessions": sessions, "items": n_items,
                          "seconds": round(time.perf_counter() - start, 1)}}
        _done(progress, "log")
        zoo = [sys.executable, "-m", "zoo.cli"]
        _, seconds, peak = run_measured([*zoo, "datasets", "prep", log, "--out", os.path.join(folder, "prep"),
                                         "--test-days", "1"])
        result["prep"] = {"seconds": seconds, "peak_rss_mb": peak}
        _done(progress, "prep")
        out, seconds, peak = run_measured([*zoo, "bench", "pipeline", "--data", log, "--json"])
        result["pipeline"] = {**json.loads(out), "seconds": seconds, "peak_rss_mb": peak}
        _done(progress, "pipeline")
    return result


def _done(progress, part):
    if progress is not None:
        print(f"zoo bench prep: {part} done", file=progress, flush=True)
