"""Ranks from score counts under the three tie modes, and Recall@K / MRR@K (HR@K / NDCG@K) from ranks."""
import numpy as np
import tensorflow as tf

from zoo.errors import ConfigError

TIE_MODES = ("standard", "conservative", "median")


def ranks_from_counts(greater, equal, ties):
    """Rank of the target from #scores above it and #scores equal to it (the target included)."""
    greater, equal = np.asarray(greater, np.float64), np.asarray(equal, np.float64)
    if ties == "standard":
        return greater + 1
    if ties == "conservative":
        return greater + equal
    if ties == "median":
        return greater + 1 + (equal - 1) / 2
    raise ConfigError(f"ties must be one of {', '.join(TIE_MODES)}, got {ties!r}")


def metrics_from_ranks(ranks, cutoffs, prefix=""):
    """Recall@K and MRR@K (or HR@K and NDCG@K with prefix `sampled_`) for every cutoff K."""
    ranks = np.asarray(ranks, np.float64)
    result = {}
    for k in cutoffs:
        hit = ranks <= k
        if prefix:
            result[f"{prefix}hr@{k}"] = float(hit.mean()) if len(ranks) else 0.0
            result[f"{prefix}ndcg@{k}"] = float(np.where(hit, 1 / np.log2(ranks + 1), 0).mean()) if len(ranks) else 0.0
        else:
            result[f"recall@{k}"] = float(hit.mean()) if len(ranks) else 0.0
            result[f"mrr@{k}"] = float(np.where(hit, 1 / ranks, 0).mean()) if len(ranks) else 0.0
    return result




def greater_equal(scores, targets):
    """#scores above and #scores equal to each row's target score (the target included)."""
    target_scores = tf.gather(scores, targets, batch_dims=1)[:, tf.newaxis]
    greater = tf.reduce_sum(tf.cast(scores > target_scores, tf.int32), axis=1)
    equal = tf.reduce_sum(tf.cast(scores == target_scores, tf.int32), axis=1)
    return greater, equal










def check_ranking(ties, cutoffs):
    if ties not in TIE_MODES:
        raise ConfigError(f"ties must be one of {', '.join(TIE_MODES)}, got {ties!r}")
    if not cutoffs or min(cutoffs) < 1:
        raise ConfigError(f"cutoffs must be positive integers, got {cutoffs}")
















