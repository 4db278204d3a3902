import numpy as np
import pytest
import tensorflow as tf

from zoo.datasets.sampling import sample_store, sampling_cdf, with_negatives

COUNTS = np.array([1, 10, 100, 1000, 0])


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_samples_follow_count_to_the_alpha(alpha):
    rows = list(sample_store(COUNTS, 2000, alpha, seed=3, rows_needed=50).take(50).as_numpy_iterator())
    drawn = np.bincount(np.concatenate(rows), minlength=len(COUNTS)) / (50 * 2000)
    weights = COUNTS.astype(float) ** alpha
    weights[COUNTS == 0] = 0.0 if alpha > 0 else 1.0  # 0**0 is 1: alpha=0 is uniform over all items
    expected = weights / weights.sum()
    np.testing.assert_allclose(drawn, expected, atol=0.005)


def test_cdf_ends_at_exactly_one():
    cdf = sampling_cdf([3, 3, 3], 1.0)
    assert cdf[-1] == 1.0 and np.all(np.diff(cdf) >= 0)


def test_store_is_reproducible_by_seed_and_fresh_every_pass():
    def two_passes(seed):
        store = sample_store(COUNTS, 8, 0.0, seed=seed, rows_needed=4)
        return [np.stack(list(store.take(6).as_numpy_iterator())) for _ in range(2)]

    first, again, other = two_passes(1), two_passes(1), two_passes(2)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])  # a new epoch draws new samples
    assert not np.array_equal(first[0], other[0])


def test_with_negatives_adds_samples_and_log_q_columns():
    steps = tf.data.Dataset.from_tensor_slices(
        ({"item": [[0, 1], [2, 3]], "reset": [[True, True], [False, False]], "mask": [[True, True], [True, False]]},
         [[1, 2], [3, 0]]))
    out = list(with_negatives(steps, COUNTS, n_sample=3, sample_alpha=0.5, seed=0, rows_needed=2).as_numpy_iterator())
    assert len(out) == 2
    for inputs, targets in out:
        negatives = inputs["negatives"]
        assert negatives.shape == (3,)
        log_count = np.log(np.maximum(COUNTS, 1))
        expected = np.concatenate([log_count[targets], 0.5 * log_count[negatives]])
        np.testing.assert_allclose(inputs["col_log_q"], expected, rtol=1e-6)
    without = list(with_negatives(steps, COUNTS, n_sample=0, sample_alpha=0.5).as_numpy_iterator())
    assert "negatives" not in without[0][0] and without[0][0]["col_log_q"].shape == (2,)


def test_a_store_started_at_pass_p_draws_what_pass_p_drew():
    full = sample_store(COUNTS, 8, 0.5, seed=4, rows_needed=3)
    passes = [np.stack(list(full.take(5).as_numpy_iterator())) for _ in range(3)]
    resumed = sample_store(COUNTS, 8, 0.5, seed=4, rows_needed=3, first_pass=2)
    np.testing.assert_array_equal(np.stack(list(resumed.take(5).as_numpy_iterator())), passes[2])
