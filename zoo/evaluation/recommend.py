"""Top-k recommendations after a session, from a trained model or a fitted baseline."""
import numpy as np

from zoo.errors import UserError


def recommend(model, vocab, item_ids, k=10, exclude_history=False, earlier_sessions=(), user=None, users=None):
    """Top-k next items after the session `item_ids` (ids as given; unknown ids are skipped).

    Personalized models: `earlier_sessions` (the user's sessions before this one, oldest first, each
    a list of item ids) are replayed first (each one's last event only as a target, as in training),
    so HRNN builds its user state from them; `user` (an id of `users`, the run's user vocabulary)
    picks the user-gated GRU's user vector, and an unseen or absent user gets its fallback vector.
    Other models start the session from zero whatever came before.

    Returns:
        (list of (item id, score) best first, list of the ids that were skipped as unknown).
    """
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
    starts[0, np.cumsum([len(c) for c in played])[:-1]] = True
    inputs = {"items": items, "session_starts": starts}
    if user is not None and users is not None:
        inputs["users"] = users.encode([user])
    if hasattr(model, "score_sessions"):  # a baseline
        scores = model.score_sessions(known[np.newaxis, :])[0]
    else:
        scores = model(inputs).numpy()[0]
    if exclude_history:
        scores[known] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    top = np.argsort(-scores, kind="stable")[:k]
    return list(zip(vocab.decode(top), scores[top].tolist())), unknown
