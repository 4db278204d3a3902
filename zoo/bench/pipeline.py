"""`zoo bench pipeline`: how fast event logs become session-parallel mini-batches."""
import time
from pathlib import Path

import zoo

DEFAULT_DATA = Path("shared", "data", "rsc15-100k", "yoochoose-clicks-100k_train_full.txt")
SYNTHETIC_EVENTS = 1_000_000


def default_data():
    """The rsc15-100k train file in shared/ of the repository or of its parent folder, or None."""
    root = Path(zoo.__file__).resolve().parents[1]
    return next((p for p in (root / DEFAULT_DATA, root.parent / DEFAULT_DATA) if p.is_file()), None)


def synthetic_events(n_events=SYNTHETIC_EVENTS, seed=0):
    """A canonical frame of about `n_events` clicks: sessions of 2+ events, Zipf-like items, int ids."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    lengths = 1 + rng.geometric(0.25, n_events // 4)
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), n_events) + 1]
    starts = np.sort(rng.uniform(0, 30 * 86400, len(lengths)))
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return pd.DataFrame(
        {
            "SessionId": np.repeat(np.arange(len(lengths)), lengths),
            "ItemId": rng.zipf(1.3, lengths.sum()) % 50_000,
            "Time": np.repeat(starts, lengths) + 30.0 * within,
        }
    )


def bench_pipeline(data=None, batch_size=32):
    """Times loading, vocabulary, NumPy batch building and one pass of the tf.data dataset.

    Args:
        data: path of an event log; None for the rsc15-100k sample if present, else a synthetic
            log of about 1M events.
        batch_size: number of session-parallel slots.

    Returns:
        dict with `source`, `events`, `sessions`, `batch_size`, `steps`, `load_s`, `vocab_s`,
        `batch_s`, `batch_events_per_s` (order_sessions + session_parallel_batches), `tfdata_s` and
        `tfdata_events_per_s` (building the dataset and one full pass over it, in graph mode).
    """
    from zoo.datasets.batches import order_sessions, session_parallel_batches
    from zoo.datasets.io import load_events
    from zoo.datasets.pipeline import session_parallel_dataset
    from zoo.datasets.vocab import Vocabulary

    path = data if data is not None else default_data()
    clock = time.perf_counter()
    events = synthetic_events() if path is None else load_events(path)
    load_s, clock = _lap(clock)
    vocab = Vocabulary.fit(events["ItemId"])
    vocab_s, clock = _lap(clock)
    order = order_sessions(events, vocab)
    batches = session_parallel_batches(order, batch_size)
    batch_s, clock = _lap(clock)
    dataset = session_parallel_dataset(batches)
    steps = int(dataset.reduce(0, lambda n, _: n + 1))
    tfdata_s, _ = _lap(clock)
    return {
        "source": "synthetic" if path is None else str(path),
        "events": len(events),
        "sessions": order.n_sessions,
        "batch_size": batch_size,
        "steps": steps,
        "load_s": load_s,
        "vocab_s": vocab_s,
        "batch_s": batch_s,
        "batch_events_per_s": len(events) / batch_s,
        "tfdata_s": tfdata_s,
        "tfdata_events_per_s": len(events) / tfdata_s,
    }


def _lap(start):
    """(seconds since `start`, now)."""
    now = time.perf_counter()
    return now - start, now
