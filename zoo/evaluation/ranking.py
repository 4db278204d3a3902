"""Ranks from score counts under the three tie modes, and Recall@K / MRR@K (HR@K / NDCG@K) from ranks."""
import numpy as np
import tensorflow as tf

from zoo.errors import ConfigError
from zoo.optimization.optimizers import read_rows

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


# --- the catalogue in item chunks ------------------------------------------------------------------
ITEM_CHUNK = 2 ** 12  # items scored at once: a batch of 512 rows holds 512 x 4096 scores (8 MiB) at a time


def check_chunk_size(chunk_size):
    if int(chunk_size) < 2:
        raise ConfigError(f"the item chunk size must be at least 2, got {chunk_size}")
    return int(chunk_size)


def n_item_chunks(n_items, chunk_size):
    """How many chunks `n_items` items make: `chunk_size` items each, the last one what is left.

    A remainder of one item joins the chunk before it: a score product one column wide runs another
    matmul kernel (a matrix-vector product), whose sums can differ in the last bit from the same
    column's in a wider product, and the chunks must give exactly the scores of the whole row.
    """
    n = -(-int(n_items) // int(chunk_size))
    return n - 1 if n > 1 and n_items % chunk_size == 1 else n


def item_chunks(n_items, chunk_size):
    """[(start, stop)] of the chunks of `n_item_chunks`, in item order."""
    n_chunks = n_item_chunks(n_items, chunk_size)
    return [(i * chunk_size, n_items if i == n_chunks - 1 else (i + 1) * chunk_size) for i in range(n_chunks)]


def chunk_bounds(index, n_chunks, n_items, chunk_size):
    """(start, stop) of chunk `index` (a scalar tensor) of `n_item_chunks(n_items, chunk_size)`."""
    start = index * chunk_size
    return start, tf.where(tf.equal(index, n_chunks - 1), n_items, start + chunk_size)


def item_table(model):
    """(item vectors, item bias) when `model.score_all(hidden)` is `hidden @ vectors^T + bias` (every
    `SessionRecommender` that keeps the base class's scoring), else None."""
    from zoo.models.recommender import SessionRecommender

    if isinstance(model, SessionRecommender) and type(model).score_all is SessionRecommender.score_all:
        return model.item_vectors, model.item_bias
    return None


def chunk_scorer(hidden, vectors, bias):
    """scores(start, stop): `hidden @ vectors[start:stop]^T + bias[start:stop]`, rows read by gather
    (a whole read of a variable that sparse updates touched copies all of it)."""
    def scores(start, stop):
        rows = tf.range(start, stop)
        return tf.matmul(hidden, read_rows(vectors, rows), transpose_b=True) + read_rows(bias, rows)

    return scores


def scores_of(hidden, vectors, bias, items):
    """[B]: row b's score of item `items[b]`, with the bits it has in the row's whole score row.

    The items' vectors make a product of B + 1 columns (the first again: never one column wide, see
    `n_item_chunks`) with the same B rows, read on its diagonal.
    """
    columns = tf.concat([items, items[:1]], axis=0)
    product = tf.matmul(hidden, read_rows(vectors, columns), transpose_b=True)
    return tf.linalg.diag_part(product[:, :-1]) + read_rows(bias, items)


def rank_counts(model, hidden, targets, chunk_size=ITEM_CHUNK):
    """`greater_equal(model.score_all(hidden), targets)`, the catalogue scored `chunk_size` items at a time.

    Graph code (inside a `tf.function`). Both counts are sums over the items, so the chunks' counts
    add up to the whole row's exactly; the scores, and the target's score they are compared with, are
    the bits of the whole score row (`n_item_chunks`, `scores_of`), so the counts are the same numbers,
    ties included. Memory: B x `chunk_size` scores at a time, not B x n_items. A catalogue of at most
    `chunk_size` items, or a model that does not say its `n_items`, is scored whole, and a model with
    its own `score_all` is scored whole and compared in chunks.
    """
    n_items = getattr(model, "n_items", None)
    if n_items is None or n_items <= chunk_size:
        return greater_equal(model.score_all(hidden), targets)
    n_items = int(n_items)
    table = item_table(model)
    if table is None:
        scores = model.score_all(hidden)
        target_scores = tf.gather(scores, targets, batch_dims=1)

        def chunk(start, stop):
            return scores[:, start:stop]
    else:
        target_scores = scores_of(hidden, *table, targets)
        chunk = chunk_scorer(hidden, *table)
    n_chunks, target_scores = n_item_chunks(n_items, chunk_size), target_scores[:, tf.newaxis]

    def body(index, greater, equal):
        scores = chunk(*chunk_bounds(index, n_chunks, n_items, chunk_size))
        return (index + 1, greater + tf.reduce_sum(tf.cast(scores > target_scores, tf.int32), axis=1),
                equal + tf.reduce_sum(tf.cast(scores == target_scores, tf.int32), axis=1))

    zeros = tf.zeros(tf.shape(targets), tf.int32)
    _, greater, equal = tf.while_loop(lambda index, *_: index < n_chunks, body, [tf.constant(0), zeros, zeros],
                                      parallel_iterations=1)  # one chunk's scores at a time
    return greater, equal


def array_rank_counts(scores, targets, chunk_size=ITEM_CHUNK):
    """`greater_equal` of a score array [B, n_items] (NumPy), compared `chunk_size` items at a time."""
    scores, targets = np.asarray(scores), np.asarray(targets)
    if scores.shape[1] <= chunk_size:
        greater, equal = greater_equal(scores, targets)
        return greater.numpy(), equal.numpy()
    target_scores = scores[np.arange(len(scores)), targets][:, np.newaxis]
    greater, equal = np.zeros(len(scores), np.int64), np.zeros(len(scores), np.int64)
    for start in range(0, scores.shape[1], chunk_size):
        chunk = scores[:, start:start + chunk_size]
        greater += np.count_nonzero(chunk > target_scores, axis=1)
        equal += np.count_nonzero(chunk == target_scores, axis=1)
    return greater, equal










def check_ranking(ties, cutoffs):
    if ties not in TIE_MODES:
        raise ConfigError(f"ties must be one of {', '.join(TIE_MODES)}, got {ties!r}")
    if not cutoffs or min(cutoffs) < 1:
        raise ConfigError(f"cutoffs must be positive integers, got {cutoffs}")
















