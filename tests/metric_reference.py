"""A NumPy reference of the session protocol's figures, for tests that check a figure rather than its range.

Nothing of `zoo.evaluation` is used: every history is scored by a call of the model on it (the Keras call on
-1-padded item indices, or a baseline's `score_sessions`), and the conservative rank of a target is the number
of items scored at least as high as it, the target included.
"""
import numpy as np


def scores_after(model, histories, batch=256):
    """Scores [N, n_items] of the next item after each history (a list of item indices)."""
    width = max(map(len, histories))
    padded = np.array([list(h) + [-1] * (width - len(h)) for h in histories], np.int32)
    score = model.score_sessions if hasattr(model, "score_sessions") else (lambda rows: model(rows).numpy())
    return np.concatenate([np.asarray(score(padded[i:i + batch])) for i in range(0, len(padded), batch)])


def conservative_ranks(scores, targets):
    """1 + the number of other items scored at least as high as each row's target."""
    targets = np.asarray(targets)
    return (scores >= scores[np.arange(len(targets)), targets][:, None]).sum(axis=1)


def session_metrics(model, test, vocab, cutoffs):
    """Recall@K, MRR@K and `events` of the session protocol (conservative ties) on the test event frame.

    Events of items unknown to `vocab` are dropped first; every later event of a session is a target after
    the session's events before it.
    """
    items = vocab.encode(test["ItemId"])
    known = test[items >= 0].assign(index=items[items >= 0]).sort_values("Time", kind="stable")
    histories, targets = [], []
    for session in known.groupby("SessionId", sort=False)["index"].agg(list):
        histories += [session[:j] for j in range(1, len(session))]
        targets += session[1:]
    ranks = conservative_ranks(scores_after(model, histories), targets)
    figures = {"events": len(ranks)}
    for k in cutoffs:
        figures[f"recall@{k}"] = float(np.mean(ranks <= k))
        figures[f"mrr@{k}"] = float(np.mean(np.where(ranks <= k, 1 / ranks, 0)))
    return figures
