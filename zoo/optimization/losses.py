"""Sampled ranking losses shared by every model, as defined by the reference GRU4Rec.

Every loss takes a score matrix `scores` [B, C]: row i is slot i of the mini-batch and column j a
candidate item, and the candidate columns, either as

* `col_mask` [C] (bool), the reference's layout: the first B columns are the mini-batch's own
  targets, so the target of row i sits on the diagonal, `r_i = scores[i, i]`; the remaining C - B
  columns are the extra negatives shared by the batch; `col_mask` marks the columns that exist (an
  idle slot's target is not a candidate). Every other valid column of a row is a negative `r_j` for
  it (as in the reference, an in-batch or sampled negative that happens to equal the target item
  is kept);
* or `Columns`, the same candidates with equal items merged into one column (`merged_columns`):
  each column then stands for as many of the reference's columns as hold that item, and every sum
  over negatives below counts it that many times. The losses are the same numbers; the merged
  layout scores each distinct item once, which makes training cheaper.

Each function returns the per-row loss [B], and `reduce_loss` sums it over active rows and divides
by the batch size B, as the reference does.

Example:

    >>> scores = tf.constant([[2.0, 0.5, -1.0], [0.1, 1.0, 0.3]])
    >>> per_row = bpr(scores, tf.constant([True, True, True]))  # the reference layout
    >>> float(reduce_loss(per_row, tf.constant([True, True])))  # mean over rows here
"""
from typing import NamedTuple

import tensorflow as tf

EPSILON = 1e-24  # the reference adds this inside every log


class Columns(NamedTuple):
    """What the columns of a score matrix [B, U] stand for.

    Attributes:
        positive: int [B], the column of row i's target item.
        negative_counts: float [B, U], how many negatives of row i column u stands for.
        log_weights: float [B, U] (or [1, U]), for cross-entropy: log of the sum, over the candidates
            column u stands for (the row's own target included), of exp(-logq * log Q).
        positive_shift: float [B], for cross-entropy: -logq * log Q of row i's target.
    """

    positive: tf.Tensor
    negative_counts: tf.Tensor
    log_weights: tf.Tensor
    positive_shift: tf.Tensor


def diagonal_columns(scores, col_mask, col_log_q=None, logq=0.0):
    """`Columns` of the reference's layout: row i's target in column i, `col_mask` [C] valid columns."""
    b, c = tf.shape(scores)[0], tf.shape(scores)[1]
    is_target = tf.eye(b, c, dtype=tf.bool)
    negatives = tf.logical_and(col_mask[tf.newaxis, :], tf.logical_not(is_target))
    shift = tf.zeros([c]) if col_log_q is None or not logq else -logq * tf.cast(col_log_q, tf.float32)
    valid = tf.logical_or(col_mask[tf.newaxis, :], is_target)
    log_weights = tf.where(valid, shift[tf.newaxis, :], tf.fill([b, c], -float("inf")))
    return Columns(tf.range(b), tf.cast(negatives, tf.float32), log_weights, shift[:b])


def merged_columns(positive, row_mask, target_counts, sample_counts, target_log_q, sample_log_q, logq=0.0):
    """`Columns` of distinct candidate items (`zoo.datasets.sampling.merge_candidates` makes the inputs).

    Column u stands, for row i, for n_u = target_counts[u] + sample_counts[u] candidate columns
    of the reference's layout, less row i's own target column. Cross-entropy sums exp(-logq log Q)
    over them: target columns with log Q = `target_log_q`, sample columns with `sample_log_q`.

    Args:
        positive: int [B], the column of each row's target.
        row_mask: bool [B], the active rows (an idle row's target is no candidate).
        target_counts: [U], how many active rows target each column's item.
        sample_counts: [U], how many times each column's item was sampled as an extra negative.
        target_log_q, sample_log_q: [U], log Q of the item as a target and as a sample.
        logq: weight of the logQ correction (cross-entropy).
    """
    target_counts, sample_counts = tf.cast(target_counts, tf.float32), tf.cast(sample_counts, tf.float32)
    own = tf.one_hot(positive, tf.shape(target_counts)[0]) * tf.cast(row_mask, tf.float32)[:, tf.newaxis]
    negative_counts = (target_counts + sample_counts)[tf.newaxis, :] - own
    weights = target_counts * tf.exp(-logq * target_log_q) + sample_counts * tf.exp(-logq * sample_log_q)
    positive_shift = -logq * tf.gather(target_log_q, positive)
    return Columns(positive, negative_counts, tf.math.log(weights)[tf.newaxis, :], positive_shift)


def _columns(scores, columns):
    return columns if isinstance(columns, Columns) else diagonal_columns(scores, columns)


def _target_scores(scores, columns):
    """[B, 1]: r_i, the score of row i's target."""
    return tf.gather(scores, columns.positive, axis=1, batch_dims=1)[:, tf.newaxis]


def _counted_mean(values, counts):
    return tf.reduce_sum(values * counts, axis=1) / tf.maximum(tf.reduce_sum(counts, axis=1), 1.0)


def _negative_softmax(scores, counts):
    """s_ij = n_ij exp(r_j) / sum_k n_ik exp(r_k), over the negatives of row i (n: their counts),
    computed as the softmax of r_ij + log n_ij (minus infinity where n_ij = 0; all zero for a row
    without negatives)."""
    logits = scores + tf.math.log(counts)
    top = tf.maximum(tf.reduce_max(logits, axis=1, keepdims=True), scores.dtype.min)
    shifted = tf.exp(logits - top)
    return shifted / tf.maximum(tf.reduce_sum(shifted, axis=1, keepdims=True), EPSILON)


def candidate_softmax(scores, columns):
    """The reference's `softmax` final activation, over all the candidate columns of each row:

        p_ij = exp(r_ij) / sum_k n_ik exp(r_ik)

    where k runs over the row's columns, its own target's included, and n_ik is how many of the
    reference's columns column k stands for (1 in the reference's layout, where an idle slot's
    column does not count). A merged column returns the probability of one of its copies, so the
    losses, which count each column n_ik times, see the reference's numbers. The logQ correction
    is left out (it belongs to cross-entropy, which does not use this).
    """
    columns = _columns(scores, columns)
    counts = columns.negative_counts + tf.one_hot(columns.positive, tf.shape(scores)[1])
    log_norm = tf.reduce_logsumexp(scores + tf.math.log(counts), axis=1, keepdims=True)
    return tf.exp(scores - log_norm)


def cross_entropy(scores, columns, col_log_q=None, logq=0.0):
    """Softmax cross-entropy over the candidates, with optional logQ correction.

        z_ij = r_ij - logq * log Q_j
        L_i  = -log( exp(z_ii) / sum_j exp(z_ij) + 1e-24 )

    `col_log_q` [C] is log Q_j, the log of the sampling weight of column j: the item's training
    count for the in-batch targets (they are drawn with the data) and count^sample_alpha for the
    extra samples, unnormalized, exactly as the reference computes it. (With `Columns` the
    correction is part of the columns: see `merged_columns`.)
    """
    if not isinstance(columns, Columns):
        columns = diagonal_columns(scores, columns, col_log_q, logq)
    target = _target_scores(scores, columns)[:, 0] + columns.positive_shift
    log_norm = tf.reduce_logsumexp(scores + columns.log_weights, axis=1)
    return -tf.math.log(tf.exp(target - log_norm) + EPSILON)


def bpr(scores, columns):
    """Bayesian personalized ranking, averaged over the negatives j of row i.

        L_i = mean_j  -log sigma(r_i - r_j)

    Named deviation: the Theano reference SUMS over all C columns, the target's own column included
    (a constant log 2); the mean over negatives used here has the same minimizer and a gradient
    1/(C-1) times the reference's, so BPR learning rates do not carry over between the two.
    """
    columns = _columns(scores, columns)
    pairwise = -tf.math.log(tf.sigmoid(_target_scores(scores, columns) - scores) + EPSILON)
    return _counted_mean(pairwise, columns.negative_counts)


def bpr_max(scores, columns, bpreg=0.0):
    """BPR-max (Hidasi & Karatzoglou, 2018) with score regularization.

        s_ij = softmax over the negatives j of r_ij
        L_i  = -log( sum_j s_ij * sigma(r_i - r_j) + 1e-24 ) + bpreg * sum_j s_ij * r_j^2
    """
    columns = _columns(scores, columns)
    weights = _negative_softmax(scores, columns.negative_counts)
    pairwise = tf.reduce_sum(weights * tf.sigmoid(_target_scores(scores, columns) - scores), axis=1)
    return -tf.math.log(pairwise + EPSILON) + bpreg * tf.reduce_sum(weights * tf.square(scores), axis=1)


def top1(scores, columns):
    """TOP1 (Hidasi et al., 2016): a ranking term plus a term pushing negative scores to zero.

    As the reference computes it, the mean runs over all N candidate columns, the target's included,
    and the target's own regularization term is taken out again:

        L_i = (1/N) sum_j [ sigma(r_j - r_i) + sigma(r_j^2) ]  -  sigma(r_i^2) / N
            = ( sum_{j != i} [ sigma(r_j - r_i) + sigma(r_j^2) ] + 1/2 ) / N
    """
    columns = _columns(scores, columns)
    counts = columns.negative_counts
    terms = tf.sigmoid(scores - _target_scores(scores, columns)) + tf.sigmoid(tf.square(scores))
    return (tf.reduce_sum(terms * counts, axis=1) + 0.5) / (tf.reduce_sum(counts, axis=1) + 1.0)


def top1_max(scores, columns):
    """TOP1-max (Hidasi & Karatzoglou, 2018): TOP1 weighted by the softmax over the negatives.

        L_i = sum_j s_ij * [ sigma(r_j - r_i) + sigma(r_j^2) ]
    """
    columns = _columns(scores, columns)
    weights = _negative_softmax(scores, columns.negative_counts)
    terms = tf.sigmoid(scores - _target_scores(scores, columns)) + tf.sigmoid(tf.square(scores))
    return tf.reduce_sum(weights * terms, axis=1)


LOSSES = {
    "cross-entropy": cross_entropy,
    "bpr": bpr,
    "bpr-max": bpr_max,
    "top1": top1,
    "top1-max": top1_max,
}


def reduce_loss(per_row, row_mask):
    """Sum of the active rows' losses divided by the batch size B (the reference's normalization)."""
    per_row = tf.where(row_mask, per_row, tf.zeros_like(per_row))
    return tf.reduce_sum(per_row) / tf.cast(tf.shape(per_row)[0], per_row.dtype)
