import numpy as np
import pytest
import tensorflow as tf

from zoo.datasets.sampling import alias_table, sample_store, with_negatives

COUNTS = np.array([1, 10, 100, 1000, 0])


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_samples_follow_count_to_the_alpha(alpha):
    rows = list(sample_store(COUNTS, 2000, alpha, seed=3, rows_needed=50).take(50).as_numpy_iterator())
    drawn = np.bincount(np.concatenate(rows), minlength=len(COUNTS)) / (50 * 2000)
    weights = COUNTS.astype(float) ** alpha
    weights[COUNTS == 0] = 0.0 if alpha > 0 else 1.0  # 0**0 is 1: alpha=0 is uniform over all items
    expected = weights / weights.sum()
    np.testing.assert_allclose(drawn, expected, atol=0.005)


@pytest.mark.parametrize("counts, alpha", [([1, 10, 100, 1000, 0], 0.5), ([3, 3, 3], 1.0), ([5, 0, 1, 2], 1.0),
                                           ([7, 1, 1, 1, 1, 1, 1, 1], 0.0), ([2, 1000, 1], 1.0)])
def test_alias_table_gives_every_item_exactly_its_share(counts, alpha):
    # P(j) = (keep[j] + sum over the columns k aliased to j of (1 - keep[k])) / n
    keep, alias = alias_table(counts, alpha)
    n = len(counts)
    share = (keep + np.bincount(alias, weights=1.0 - keep, minlength=n)) / n
    weights = np.asarray(counts, float) ** alpha
    np.testing.assert_allclose(share, weights / weights.sum(), rtol=1e-12, atol=1e-15)
    assert np.all((0.0 <= keep) & (keep <= 1.0))


def test_store_is_reproducible_by_seed_and_fresh_every_pass():
    def two_passes(seed):
        store = sample_store(COUNTS, 8, 0.0, seed=seed, rows_needed=4)
        return [np.stack(list(store.take(6).as_numpy_iterator())) for _ in range(2)]

    first, again, other = two_passes(1), two_passes(1), two_passes(2)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])  # a new epoch draws new samples
    assert not np.array_equal(first[0], other[0])


def test_with_negatives_merges_inputs_targets_and_samples_into_distinct_candidates():
    steps = tf.data.Dataset.from_tensor_slices(
        ({"item": [[0, 1], [2, 3]], "reset": [[True, True], [False, False]], "mask": [[True, True], [True, False]]},
         [[1, 2], [3, 0]]))
    out = list(with_negatives(steps, COUNTS, n_sample=3, sample_alpha=0.5, seed=0, rows_needed=2).as_numpy_iterator())
    store = next(sample_store(COUNTS, 3, 0.5, seed=0, rows_needed=2).batch(2).as_numpy_iterator())
    log_count = np.log(np.maximum(COUNTS, 1))
    assert len(out) == 2
    for (inputs, targets), negatives in zip(out, store):
        cands = inputs["candidates"]
        assert len(set(cands)) == len(cands)  # distinct
        np.testing.assert_array_equal(cands[inputs["target_column"]], targets)
        np.testing.assert_array_equal(cands[inputs["input_column"]], inputs["item"])
        # Each candidate counts its active targets and its samples: together the reference's columns.
        np.testing.assert_array_equal(inputs["target_counts"], [np.sum((targets == c) & inputs["mask"]) for c in cands])
        np.testing.assert_array_equal(inputs["sample_counts"], [np.sum(negatives == c) for c in cands])
        # log Q of the item as a target (log count) and as a sample (0.5 log count), zero where it is none
        np.testing.assert_allclose(inputs["target_log_q"], np.where(np.isin(cands, targets), log_count[cands], 0), rtol=1e-6)
        np.testing.assert_allclose(inputs["sample_log_q"], np.where(np.isin(cands, negatives), 0.5 * log_count[cands], 0),
                                   rtol=1e-6)
    without = list(with_negatives(steps, COUNTS, n_sample=0, sample_alpha=0.5).as_numpy_iterator())
    inputs, targets = without[1]
    assert sorted(inputs["candidates"]) == [0, 2, 3] and not inputs["sample_counts"].any()
    np.testing.assert_array_equal(inputs["target_counts"][inputs["target_column"]], [1, 0])  # slot 1 is idle


def test_a_store_started_at_pass_p_draws_what_pass_p_drew():
    full = sample_store(COUNTS, 8, 0.5, seed=4, rows_needed=3)
    passes = [np.stack(list(full.take(5).as_numpy_iterator())) for _ in range(3)]
    resumed = sample_store(COUNTS, 8, 0.5, seed=4, rows_needed=3, first_pass=2)
    np.testing.assert_array_equal(np.stack(list(resumed.take(5).as_numpy_iterator())), passes[2])
