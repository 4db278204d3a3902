"""Sampled ranking losses shared by every model, as defined by the reference GRU4Rec.

Every loss takes a score matrix `scores` of shape [B, C]: row i is slot i of the mini-batch and
column j a candidate item. The first B columns are the mini-batch's own targets, so the target of
row i sits on the diagonal, `r_i = scores[i, i]`; the remaining C - B columns are the extra
negatives shared by the batch. Every other valid column of a row is a negative `r_j` for it (as in
the reference, an in-batch or sampled negative that happens to equal the target item is kept).

`col_mask` [C] marks the columns that exist (an idle slot's target is not a candidate);
each function returns the per-row loss [B], and `reduce_loss` sums it over active rows and divides by
the batch size B, as the reference does.

Example:

    >>> scores = tf.constant([[2.0, 0.5, -1.0], [0.1, 1.0, 0.3]])
    >>> per_row = bpr(scores, col_mask=tf.constant([True, True, True]))
    >>> float(reduce_loss(per_row, tf.constant([True, True])))  # mean over rows here
"""
import tensorflow as tf

EPSILON = 1e-24  # the reference adds this inside every log


def _negative_mask(scores, col_mask):
    """[B, C] bool: column j is a valid negative for row i (exists and is not i's target)."""
    b, c = tf.shape(scores)[0], tf.shape(scores)[1]
    is_target = tf.eye(b, c, dtype=tf.bool)
    return tf.logical_and(col_mask[tf.newaxis, :], tf.logical_not(is_target))


def _target_scores(scores):
    """[B, 1]: r_i, the diagonal."""
    return tf.linalg.diag_part(scores)[:, tf.newaxis]


def _masked_mean(values, mask):
    mask = tf.cast(mask, values.dtype)
    return tf.reduce_sum(values * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)


def _negative_softmax(scores, neg_mask):
    """s_ij = exp(r_j) / sum_k exp(r_k), over the valid negatives k of row i only (zero elsewhere)."""
    masked = tf.where(neg_mask, scores, tf.fill(tf.shape(scores), scores.dtype.min))
    shifted = tf.exp(masked - tf.reduce_max(masked, axis=1, keepdims=True))
    shifted = tf.where(neg_mask, shifted, tf.zeros_like(shifted))
    return shifted / tf.maximum(tf.reduce_sum(shifted, axis=1, keepdims=True), EPSILON)


def cross_entropy(scores, col_mask, col_log_q=None, logq=0.0):
    """Softmax cross-entropy over the candidates, with optional logQ correction.

        z_ij = r_ij - logq * log Q_j
        L_i  = -log( exp(z_ii) / sum_j exp(z_ij) + 1e-24 )

    `col_log_q` [C] is log Q_j, the log of the sampling weight of column j: the item's training
    count for the in-batch targets (they are drawn with the data) and count^sample_alpha for the
    extra samples, unnormalized, exactly as the reference computes it.
    """
    if col_log_q is not None and logq:
        scores = scores - logq * col_log_q[tf.newaxis, :]
    valid = tf.logical_or(col_mask[tf.newaxis, :], tf.eye(tf.shape(scores)[0], tf.shape(scores)[1], dtype=tf.bool))
    masked = tf.where(valid, scores, tf.fill(tf.shape(scores), scores.dtype.min))
    probs = tf.nn.softmax(masked, axis=1)
    return -tf.math.log(tf.linalg.diag_part(probs) + EPSILON)


def bpr(scores, col_mask):
    """Bayesian personalized ranking, averaged over the negatives j of row i.

        L_i = mean_j  -log sigma(r_i - r_j)

    Named deviation: the Theano reference SUMS over all C columns, the target's own column included
    (a constant log 2); the mean over negatives used here has the same minimizer and a gradient
    1/(C-1) times the reference's, so BPR learning rates do not carry over between the two.
    """
    neg_mask = _negative_mask(scores, col_mask)
    return _masked_mean(-tf.math.log(tf.sigmoid(_target_scores(scores) - scores) + EPSILON), neg_mask)


def bpr_max(scores, col_mask, bpreg=0.0):
    """BPR-max (Hidasi & Karatzoglou, 2018) with score regularization.

        s_ij = softmax over the negatives j of r_ij
        L_i  = -log( sum_j s_ij * sigma(r_i - r_j) + 1e-24 ) + bpreg * sum_j s_ij * r_j^2
    """
    neg_mask = _negative_mask(scores, col_mask)
    weights = _negative_softmax(scores, neg_mask)
    pairwise = tf.reduce_sum(weights * tf.sigmoid(_target_scores(scores) - scores), axis=1)
    return -tf.math.log(pairwise + EPSILON) + bpreg * tf.reduce_sum(weights * tf.square(scores), axis=1)


def top1(scores, col_mask):
    """TOP1 (Hidasi et al., 2016): a ranking term plus a term pushing negative scores to zero.

    As the reference computes it, the mean runs over all N candidate columns, the target's included,
    and the target's own regularization term is taken out again:

        L_i = (1/N) sum_j [ sigma(r_j - r_i) + sigma(r_j^2) ]  -  sigma(r_i^2) / N
            = ( sum_{j != i} [ sigma(r_j - r_i) + sigma(r_j^2) ] + 1/2 ) / N
    """
    neg_mask = _negative_mask(scores, col_mask)
    terms = tf.sigmoid(scores - _target_scores(scores)) + tf.sigmoid(tf.square(scores))
    n = tf.reduce_sum(tf.cast(neg_mask, scores.dtype), axis=1) + 1.0
    return (tf.reduce_sum(tf.where(neg_mask, terms, tf.zeros_like(terms)), axis=1) + 0.5) / n


def top1_max(scores, col_mask):
    """TOP1-max (Hidasi & Karatzoglou, 2018): TOP1 weighted by the softmax over the negatives.

        L_i = sum_j s_ij * [ sigma(r_j - r_i) + sigma(r_j^2) ]
    """
    neg_mask = _negative_mask(scores, col_mask)
    weights = _negative_softmax(scores, neg_mask)
    terms = tf.sigmoid(scores - _target_scores(scores)) + tf.sigmoid(tf.square(scores))
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
