"""How the zoo reads the order of a log, repeated events and one-event sessions.

Events are sorted by time within each session (the GRU4Rec way), so a file whose rows are not in time
order gives the same data, batches and metrics as the sorted file. Exact repeats (same session, item and
time) are kept as repeated clicks unless `zoo datasets prep --dedupe`; one-event sessions are dropped by
prep (counted) and contribute nothing to training.
"""
import json

import numpy as np
import pandas as pd
import pytest

from zoo.training import presets
from zoo.cli import main
from zoo.datasets.batches import order_sessions, session_parallel_batches
from zoo.datasets.io import load_events
from zoo.datasets.vocab import Vocabulary
from zoo.evaluation import evaluate
from zoo.models.registry import get_model


@pytest.fixture(scope="module")
def log():
    """40 sessions of 2-6 clicks over 15 items, distinct times, sessions on 3 days."""
    rng = np.random.default_rng(3)
    rows = [(f"s{s}", f"i{rng.integers(15)}", s * 6000.0 + t * 7.0)
            for s in range(40) for t in range(int(rng.integers(2, 7)))]
    return pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time"])


def prep(path, out, *options):
    assert main(["datasets", "prep", str(path), "--out", str(out), "--min-item-support", "1",
                 "--test-seconds", "40000", *options]) in (0, None)
    report = json.loads((out / "prep_report.json").read_text())
    return (out / "train.tsv").read_text(), (out / "test.tsv").read_text(), report["steps"]


def same_batches(a, b):
    for field in ("items", "targets", "reset", "mask"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_a_shuffled_file_gives_the_same_prep_batches_and_metrics(log, tmp_path):
    log.to_csv(tmp_path / "sorted.tsv", sep="\t", index=False)
    shuffled = log.sample(frac=1.0, random_state=0)
    assert (shuffled.Time.diff().dropna() < 0).any()  # time goes backwards in file order
    shuffled.to_csv(tmp_path / "shuffled.tsv", sep="\t", index=False)
    assert prep(tmp_path / "shuffled.tsv", tmp_path / "a") == prep(tmp_path / "sorted.tsv", tmp_path / "b")

    events, mixed = load_events(tmp_path / "sorted.tsv"), load_events(tmp_path / "shuffled.tsv")
    vocab = Vocabulary.fit(events.ItemId)
    same_batches(session_parallel_batches(order_sessions(mixed, vocab), 8),
                 session_parallel_batches(order_sessions(events, vocab), 8))
    config = presets.resolve(sets=["layers=8"])
    model = get_model("gru4rec", n_items=len(vocab), **presets.model_options(config))
    assert evaluate(model, mixed, vocab) == evaluate(model, events, vocab)


def test_exact_repeats_are_kept_unless_dedupe_drops_and_counts_them(log, tmp_path):
    repeats = log.iloc[::5]
    pd.concat([log, repeats]).to_csv(tmp_path / "log.tsv", sep="\t", index=False)
    train, test, _ = prep(tmp_path / "log.tsv", tmp_path / "kept")
    assert len(train.splitlines()) + len(test.splitlines()) - 2 == len(log) + len(repeats)
    vocab = Vocabulary.fit(log.ItemId)
    events = load_events(tmp_path / "log.tsv")
    assert order_sessions(events, vocab).n_pairs == len(events) - log.SessionId.nunique()  # a repeat is a click

    train, test, steps = prep(tmp_path / "log.tsv", tmp_path / "deduped", "--dedupe")
    assert [s["events_removed"] for s in steps if s["step"] == "duplicate events"] == [len(repeats)]
    assert (train, test) == prep(_save(log, tmp_path / "clean.tsv"), tmp_path / "clean")[:2]


def _save(frame, path):
    frame.to_csv(path, sep="\t", index=False)
    return path


def test_one_event_sessions_are_dropped_by_prep_and_add_nothing_to_training(log, tmp_path):
    singles = pd.DataFrame({"SessionId": [f"one{i}" for i in range(7)], "ItemId": log.ItemId[:7].tolist(),
                            "Time": np.arange(7) * 6000.0 + 3.0})
    with_singles = pd.concat([log, singles], ignore_index=True)
    _, _, steps = prep(_save(with_singles, tmp_path / "log.tsv"), tmp_path / "out")
    assert steps[1]["step"] == "sessions < 2 events (round 1)" and steps[1]["sessions_removed"] == 7

    vocab = Vocabulary.fit(log.ItemId)
    order, bare = order_sessions(with_singles, vocab), order_sessions(log, vocab)
    assert order.n_pairs == bare.n_pairs
    same_batches(session_parallel_batches(order, 8), session_parallel_batches(bare, 8))
