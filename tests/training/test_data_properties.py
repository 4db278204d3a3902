"""Property-based checks (hypothesis) of the training pipeline on random small logs (the loaders' are in
test_io.py)."""
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from zoo.training import presets
from zoo import training
from zoo.datasets.batches import order_sessions, session_parallel_batches
from zoo.datasets.vocab import Vocabulary

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
        candidates = features["candidates"]
        assert len(set(candidates)) == len(candidates) and ((0 <= candidates) & (candidates < len(vocab))).all()
        np.testing.assert_array_equal(candidates[features["target_column"]], targets)
        np.testing.assert_array_equal(candidates[features["input_column"]], features["item"])
        assert features["sample_counts"].sum() == n_sample
        assert features["target_counts"].sum() == features["mask"].sum()
        log_q = np.log(np.maximum(counts, 1)).astype(np.float32)
        np.testing.assert_allclose(features["target_log_q"][features["target_column"]], log_q[targets], rtol=1e-6)
    mask = batches.mask
    got = sorted(zip(vocab.decode(batches.items[mask]), vocab.decode(batches.targets[mask]), batches.reset[mask]))
    assert got == expected_pairs(events)
