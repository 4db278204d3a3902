"""Property-based checks (hypothesis) of the loaders and the training pipeline on random small logs."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo import presets, training
from zoo.datasets.batches import order_sessions, session_parallel_batches
from zoo.datasets.io import load_events, save_events
from zoo.datasets.vocab import Vocabulary

# Any printable Unicode (emoji, combining marks, right-to-left, spaces) and the separators and quotes
# of the text formats; no control characters but tab and newline.
odd_ids = st.text(st.one_of(st.characters(blacklist_categories=("Cs", "Cc")), st.sampled_from("\t\n,;\"' ")),
                  min_size=1, max_size=6)
odd_frames = st.lists(st.tuples(odd_ids, odd_ids, st.floats(0, 2e9, allow_nan=False), odd_ids), min_size=1,
                      max_size=6).map(lambda rows: pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time", "UserId"]))


@pytest.mark.parametrize("name", ["log.csv", "log.tsv", "log.parquet"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=odd_frames)
def test_odd_unicode_ids_round_trip_exactly(tmp_path, name, frame):
    save_events(frame, tmp_path / name)
    loaded = load_events(tmp_path / name)
    assert loaded.drop(columns="Time").values.tolist() == frame.drop(columns="Time").values.tolist()
    np.testing.assert_allclose(loaded.Time, frame.Time, rtol=1e-15)


logs = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 9), st.integers(0, 50)), min_size=1, max_size=40).map(
    lambda rows: pd.DataFrame([(f"s{s}", f"i{i}", float(t)) for s, i, t in rows],
                              columns=["SessionId", "ItemId", "Time"]))


def expected_pairs(events):
    """(input, target, first of its session) of every consecutive pair of each session in time order."""
    pairs = []
    for _, session in events.sort_values("Time", kind="stable").groupby("SessionId", sort=False):
        items = session.ItemId.tolist()
        pairs += [(a, b, k == 0) for k, (a, b) in enumerate(zip(items, items[1:]))]
    return sorted(pairs)


@settings(max_examples=15, deadline=None)
@given(events=logs, batch_size=st.integers(1, 5), n_sample=st.sampled_from([0, 3]))
def test_the_tf_data_steps_match_the_numpy_batches_and_the_log(events, batch_size, n_sample):
    vocab = Vocabulary.fit(events.ItemId)
    order = order_sessions(events, vocab)
    if order.n_pairs == 0:
        return
    batches = session_parallel_batches(order, batch_size)
    config = presets.resolve(sets=[f"batch_size={batch_size}", f"n_sample={n_sample}"])
    steps = list(training.train_dataset(events, vocab, config).as_numpy_iterator())
    assert len(steps) == batches.n_steps
    counts = training.item_counts(events, vocab)
    for t, (features, targets) in enumerate(steps):
        np.testing.assert_array_equal(features["item"], batches.items[t])
        np.testing.assert_array_equal(targets, batches.targets[t])
        np.testing.assert_array_equal(features["reset"], batches.reset[t])
        np.testing.assert_array_equal(features["mask"], batches.mask[t])
        assert not features["reset"][~features["mask"]].any()
        assert (features["item"][~features["mask"]] == 0).all() and (targets[~features["mask"]] == 0).all()
        negatives = features.get("negatives", np.zeros(0, np.int32))
        assert negatives.shape == (n_sample,) and ((0 <= negatives) & (negatives < len(vocab))).all()
        log_q = np.log(np.maximum(counts, 1)).astype(np.float32)
        np.testing.assert_allclose(features["col_log_q"][:batch_size], log_q[targets], rtol=1e-6)
    mask = batches.mask
    got = sorted(zip(vocab.decode(batches.items[mask]), vocab.decode(batches.targets[mask]), batches.reset[mask]))
    assert got == expected_pairs(events)
