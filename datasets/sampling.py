"""Popularity-sampled negatives from a pre-drawn sample store, as in the reference GRU4Rec.

Each training step gets `n_sample` extra negative items shared by the whole mini-batch, drawn with

    P(j) = count_j^sample_alpha / sum_k count_k^sample_alpha

(`sample_alpha=0`: uniform; 1: proportional to popularity) by inverse-CDF search on uniform numbers.
Like the reference's sample cache, the store holds `store_size // n_sample` rows drawn at once and
is refilled with fresh draws when used up; draws are deterministic given the seed and the epoch. Accidental hits
(a sample equal to a target) are kept, as in the reference.

The step also gets `col_log_q` [B + n_sample], the log sampling weight of every candidate column for
the logQ correction of cross-entropy: log count for the in-batch targets (they come with the data)
and sample_alpha * log count for the samples, unnormalized, as the reference computes it.
"""
import numpy as np
import tensorflow as tf

STORE_SIZE = 10_000_000  # samples drawn at once (the reference's sample_cache_max_size)


def sampling_cdf(item_counts, sample_alpha):
    """Cumulative distribution over items for count^sample_alpha, last entry exactly 1."""
    weights = np.asarray(item_counts, dtype=np.float64) ** sample_alpha
    cdf = np.cumsum(weights) / weights.sum()
    cdf[-1] = 1.0
    return cdf


def sample_store(item_counts, n_sample, sample_alpha, seed=0, store_size=STORE_SIZE, rows_needed=None, first_pass=0):
    """An endless tf.data.Dataset of int32 rows [n_sample], drawn in blocks from the store.

    Every pass over the dataset (every epoch) draws new blocks: block b of pass p comes from the
    stateless seed (seed, p, b), so the samples are reproducible, and a run resumed at epoch p
    (`first_pass=p`) draws exactly what the uninterrupted run drew there. `rows_needed` (e.g. the
    steps of one epoch) caps the block size so small data sets do not draw more than they use.
    """
    cdf = tf.constant(sampling_cdf(item_counts, sample_alpha), tf.float64)
    rows = max(1, store_size // n_sample)
    if rows_needed:
        rows = min(rows, int(rows_needed))
    passes = tf.Variable(int(first_pass), dtype=tf.int64, trainable=False)  # passes started so far

    def start_pass(_):
        return passes.assign_add(1) - 1

    def draw_block(pass_index, block):
        seed_pair = tf.stack([tf.constant(seed, tf.int64), pass_index * 2**20 + block])
        uniform = tf.random.stateless_uniform([rows * n_sample], seed=seed_pair, dtype=tf.float64)
        return tf.reshape(tf.cast(tf.searchsorted(cdf, uniform), tf.int32), [rows, n_sample])

    def blocks(pass_index):
        return tf.data.Dataset.range(2**40).map(lambda block: draw_block(pass_index, block)).unbatch()

    return tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).map(start_pass).flat_map(blocks)


def with_negatives(dataset, item_counts, n_sample, sample_alpha, seed=0, rows_needed=None, first_pass=0):
    """Adds `negatives` [n_sample] and `col_log_q` [B + n_sample] to each step of `dataset`.

    `dataset` yields `(inputs: dict, targets [B])` per step; with `n_sample=0` only `col_log_q` is
    added (the in-batch targets are then the only candidates).
    """
    log_counts = tf.constant(np.log(np.maximum(np.asarray(item_counts, np.float64), 1.0)), tf.float32)

    def add_log_q(inputs, targets):
        return {**inputs, "col_log_q": tf.gather(log_counts, targets)}, targets

    def add_negatives(step, negatives):
        inputs, targets = step
        col_log_q = tf.concat([tf.gather(log_counts, targets), sample_alpha * tf.gather(log_counts, negatives)], 0)
        return {**inputs, "negatives": negatives, "col_log_q": col_log_q}, targets

    if n_sample > 0:
        store = sample_store(item_counts, n_sample, sample_alpha, seed, rows_needed=rows_needed, first_pass=first_pass)
        steps = dataset.cardinality()
        dataset = tf.data.Dataset.zip((dataset, store)).map(add_negatives)
        if steps >= 0:  # the store is endless but its length is unknown to tf.data: the steps decide
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps))
    else:
        dataset = dataset.map(add_log_q)
    return dataset.prefetch(tf.data.AUTOTUNE)
