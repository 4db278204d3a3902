"""Popularity-sampled negatives from a pre-drawn sample store, as in the reference GRU4Rec.

Each training step gets `n_sample` extra negative items shared by the whole mini-batch, drawn with

    P(j) = count_j^sample_alpha / sum_k count_k^sample_alpha

(`sample_alpha=0`: uniform; 1: proportional to popularity). Draws use Walker's alias method (an
exact sampler of the same distribution in constant time per draw; the reference searches the CDF).
Like the reference's sample cache, the store holds `store_size // n_sample` rows drawn at once and
is refilled with fresh draws when used up; draws are deterministic given the seed and the epoch. Accidental hits
(a sample equal to a target) are kept, as in the reference.

The reference scores B + n_sample candidate columns per step: the mini-batch's targets and the
samples, the same item as often as it occurs among them. `with_negatives` hands the step the
distinct items instead (`candidates`, with how often each occurs as a target and as a sample), so
the model scores each once and the losses count it as often as it occurs (`zoo.optimization.losses.Columns`):
the same losses, with fewer columns and no duplicate rows in the embedding gradient. The logQ
correction of cross-entropy uses log count for the in-batch targets (they come with the data) and
sample_alpha * log count for the samples, unnormalized, as the reference computes it.
"""
import numpy as np
import tensorflow as tf

STORE_SIZE = 10_000_000  # samples drawn at once (the reference's sample_cache_max_size)


def alias_table(item_counts, sample_alpha):
    """Walker's alias table (Vose's construction) for P(j) ∝ count_j^sample_alpha.

    A draw picks a column k uniformly and keeps it with probability `keep[k]`, else takes
    `alias[k]`; so P(j) = (keep[j] + sum_{k: alias[k] = j} (1 - keep[k])) / n, which the
    construction makes equal to the weight's share.

    Returns:
        (keep float64 [n], alias int32 [n]).
    """
    weights = np.asarray(item_counts, dtype=np.float64) ** sample_alpha
    n = len(weights)
    scaled = weights * n / weights.sum()
    keep, alias = np.ones(n), np.arange(n, dtype=np.int32)
    small, large = list(np.flatnonzero(scaled < 1.0)), list(np.flatnonzero(scaled >= 1.0))
    while small and large:
        s, l = small.pop(), large.pop()
        keep[s], alias[s] = scaled[s], l
        scaled[l] -= 1.0 - scaled[s]
        (small if scaled[l] < 1.0 else large).append(l)
    return keep, alias


def sample_store(item_counts, n_sample, sample_alpha, seed=0, store_size=STORE_SIZE, rows_needed=None, first_pass=0):
    """An endless tf.data.Dataset of int32 rows [n_sample], drawn in blocks from the store.

    Every pass over the dataset (every epoch) draws new blocks: block b of pass p comes from
    NumPy's generator seeded with (seed, p, b), so the samples are reproducible, and a run resumed at epoch p
    (`first_pass=p`) draws exactly what the uninterrupted run drew there. `rows_needed` (e.g. the
    steps of one epoch) caps the block size so small data sets do not draw more than they use.
    """
    keep, alias = alias_table(item_counts, sample_alpha)
    rows = max(1, store_size // n_sample)
    if rows_needed:
        rows = min(rows, int(rows_needed))
    passes = tf.Variable(int(first_pass), dtype=tf.int64, trainable=False)  # passes started so far

    def start_pass(_):
        return passes.assign_add(1) - 1

    def draw(pass_index, block):  # a block in one NumPy call
        uniform = np.random.default_rng([seed, int(pass_index), int(block)]).random((2, rows * n_sample))
        column = np.minimum((uniform[0] * len(keep)).astype(np.int32), len(keep) - 1)
        return np.where(uniform[1] < keep[column], column, alias[column]).reshape(rows, n_sample)

    def draw_block(pass_index, block):
        return tf.ensure_shape(tf.numpy_function(draw, [pass_index, block], tf.int32, stateful=False), [rows, n_sample])

    def blocks(pass_index):
        return tf.data.Dataset.range(2**40).map(lambda block: draw_block(pass_index, block)).unbatch()

    return tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).map(start_pass).flat_map(blocks)


def merge_candidates(inputs, targets, negatives=None, col_log_q=None):
    """The distinct candidate items of one step and what each stands for.

    Args:
        inputs: the step's features (`item` [B], `mask` [B], ...).
        targets: int [B], the slots' next items.
        negatives: int [n], the extra negatives (None: none).
        col_log_q: [B + n], log Q of every candidate column of the reference's layout (targets,
            then negatives; None: zero).

    Returns:
        `inputs` with `candidates` [U] (the distinct items among the step's inputs, targets and
        negatives), `input_column` / `target_column` [B] (where each slot's input and target sit in
        `candidates`), `target_counts` [U] (active slots targeting the item), `sample_counts` [U]
        (times it was sampled), `target_log_q` and `sample_log_q` [U] (its log Q as a target and
        as a sample; zero where it is none).
    """
    b = tf.shape(targets)[0]
    negatives = tf.zeros([0], tf.int32) if negatives is None else tf.cast(negatives, tf.int32)
    items = tf.concat([tf.cast(targets, tf.int32), tf.cast(inputs["item"], tf.int32), negatives], 0)
    candidates, column = tf.unique(items, out_idx=tf.int32)
    n = tf.shape(candidates)[0]
    target_column, sample_column = column[:b], column[2 * b:]
    if col_log_q is None:
        col_log_q = tf.zeros([b + tf.shape(negatives)[0]])
    by_column = lambda where, values: tf.tensor_scatter_nd_update(tf.zeros([n]), where[:, tf.newaxis], values)
    return {**inputs, "candidates": candidates, "target_column": target_column, "input_column": column[b:2 * b],
            "target_counts": tf.math.unsorted_segment_sum(tf.cast(inputs["mask"], tf.float32), target_column, n),
            "sample_counts": tf.math.bincount(sample_column, minlength=n, maxlength=n, dtype=tf.float32),
            "target_log_q": by_column(target_column, col_log_q[:b]),
            "sample_log_q": by_column(sample_column, col_log_q[b:])}


def with_negatives(dataset, item_counts, n_sample, sample_alpha, seed=0, rows_needed=None, first_pass=0):
    """Adds `n_sample` popularity-sampled negatives to each step of `dataset`, as merged candidates.

    `dataset` yields `(inputs: dict, targets [B])` per step; see `merge_candidates` for what is
    added. With `n_sample=0` the in-batch targets are the only candidates.
    """
    log_counts = tf.constant(np.log(np.maximum(np.asarray(item_counts, np.float64), 1.0)), tf.float32)

    def add_candidates(step, negatives):
        inputs, targets = step
        col_log_q = tf.concat([tf.gather(log_counts, targets), sample_alpha * tf.gather(log_counts, negatives)], 0)
        return merge_candidates(inputs, targets, negatives, col_log_q), targets

    if n_sample > 0:
        store = sample_store(item_counts, n_sample, sample_alpha, seed, rows_needed=rows_needed, first_pass=first_pass)
    else:
        store = tf.data.Dataset.from_tensors(tf.zeros([0], tf.int32)).repeat()
    steps = dataset.cardinality()
    dataset = tf.data.Dataset.zip((dataset, store)).map(add_candidates)
    if steps >= 0:  # the store is endless but its length is unknown to tf.data: the steps decide
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(steps))
    return dataset.prefetch(tf.data.AUTOTUNE)
