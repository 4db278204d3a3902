"""Top-k recommendations after a session, from a trained model or a fitted baseline."""
import numpy as np
import tensorflow as tf

from zoo.errors import UserError
from zoo.evaluation.ranking import check_chunk_size, chunk_scorer, item_chunks, item_table

TOP_K_CHUNK = 2 ** 17  # a larger catalogue is scored and ranked in chunks of this many items


def recommend(model, vocab, item_ids, k=10, exclude_history=False, earlier_sessions=(), user=None, users=None,
              chunk_size=TOP_K_CHUNK):
    """Top-k next items after the session `item_ids` (ids as given; unknown ids are skipped).

    Personalized models: `earlier_sessions` (the user's sessions before this one, oldest first, each
    a list of item ids) are replayed first (each one's last event only as a target, as in training),
    so HRNN builds its user state from them (GRU4Rec-Concat plays them and this session as one
    sequence); `user` (an id of `users`, the run's user vocabulary) picks the user-gated GRU's user
    vector, and an unseen or absent user gets its fallback vector. Session-aware baselines see the
    earlier sessions' items as the user's past. Other models start the session from zero whatever
    came before.

    A catalogue of more than `chunk_size` items is scored `chunk_size` items at a time, each chunk's
    best k merged into a running top-k (`running_top_k`): the same items, scores and order (ties by
    lower index first) as ranking the whole score row.

    Returns:
        (list of (item id, score) best first, list of the ids that were skipped as unknown).
    """
    chunk_size = check_chunk_size(chunk_size)
    given = [list(session) for session in (*earlier_sessions, item_ids)]
    codes = [vocab.encode(session) for session in given]
    unknown = [i for session, c in zip(given, codes) for i, x in zip(session, c) if x < 0]
    played = [c[c >= 0] for c in codes]
    known = played[-1]
    if known.size == 0:
        raise UserError("none of the given items is known to the model")
    played = [c for c in played if c.size]
    items = np.concatenate(played)[np.newaxis, :]
    starts = np.zeros(items.shape, bool)
    if not getattr(model, "concatenates_sessions", False):  # one sequence: no session start
        starts[0, np.cumsum([len(c) for c in played])[:-1]] = True
    inputs = {"items": items, "session_starts": starts}
    if user is not None and users is not None:
        inputs["users"] = users.encode([user])
    table = None if hasattr(model, "score_sessions") else item_table(model)
    if table is not None and model.n_items > chunk_size:
        top, scores = running_top_k(_score_chunks(model, inputs, table, chunk_size), k,
                                    known if exclude_history else ())
        return list(zip(vocab.decode(top), scores.tolist())), unknown
    if hasattr(model, "score_sessions"):  # a baseline; the earlier sessions are its user's past
        past = np.concatenate(played[:-1])[np.newaxis, :] if len(played) > 1 else None
        scores = model.score_sessions(known[np.newaxis, :], past=past)[0]
    else:
        scores = model(inputs).numpy()[0]
    if exclude_history:
        scores[known] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    top = np.argsort(-scores, kind="stable")[:k]
    return list(zip(vocab.decode(top), scores[top].tolist())), unknown


def _score_chunks(model, inputs, table, chunk_size):
    """(start, scores [stop - start]) of the session's item chunks (`ranking.item_chunks`): the bits of
    the whole score row `model(inputs)[0]`."""
    users = inputs.get("users")
    hidden, _ = model.encode(tf.constant(inputs["items"]), users=None if users is None else tf.constant(users),
                             session_starts=tf.constant(inputs["session_starts"]))
    scores = chunk_scorer(hidden, *table)
    for start, stop in item_chunks(model.n_items, chunk_size):
        yield start, scores(start, stop).numpy()[0]


def running_top_k(chunks, k, excluded=()):
    """Item indices and scores of the k best of a score row given in chunks (start, scores), best first.

    The order is `np.argsort(-row, kind="stable")`'s: ties by lower index first. Each chunk's k best
    are merged with the k best before it; those have lower indices, so a stable sort of the two in
    that order keeps the rule. Items in `excluded` score -inf; as for a whole row, only the finite
    scores count towards k.
    """
    excluded = np.asarray(excluded, np.int64)
    best, best_scores, finite = np.zeros(0, np.int64), np.zeros(0, np.float32), 0
    for start, scores in chunks:
        scores = np.array(scores)
        inside = excluded[(excluded >= start) & (excluded < start + len(scores))]
        scores[inside - start] = -np.inf
        finite += int(np.isfinite(scores).sum())
        top = np.argsort(-scores, kind="stable")[:k]
        merged_scores = np.concatenate([best_scores, scores[top]])
        merged = np.concatenate([best, start + top])
        order = np.argsort(-merged_scores, kind="stable")[:k]
        best, best_scores = merged[order], merged_scores[order]
    k = min(k, finite)
    return best[:k], best_scores[:k]
