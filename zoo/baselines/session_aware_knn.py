"""V-SKNN_E: V-SKNN whose short sessions are extended with the user's latest items (Latifi, Mauro &
Jannach 2021, "Session-aware recommendation: a surprising quest for the state of the art")."""
import numpy as np

from zoo.baselines.knn import VSKNN


class SessionAwareVSKNN(VSKNN):
    """V-SKNN (`zoo.baselines.knn.VSKNN`) on the session extended by the user's earlier sessions.

    With h the session so far (L items) and p the user's earlier items, oldest first (the user
    protocol's `past`): when L < `extend_length`, h is prefixed with the last `extend_length` - L
    items of p, and the neighbours and scores are V-SKNN's of that extended session, so the user's
    items weigh less than the session's own by the position decay. Without a past (the session
    protocol, `zoo recommend` without earlier sessions) it is V-SKNN.

    This is the "extend" (E) of the paper's extensions; its "boost" (B: the neighbours that are the
    user's own sessions weigh more) and "reminders" (R: the user's past items added to the list) are
    not implemented, a named difference with its V-SKNN_EBR.
    """

    personalized = True  # the user protocol by default (`zoo.evaluation.resolve_protocol`)
    defaults = {"k": 100, "sample_size": 1000, "extend_length": 5}

    def score_sessions(self, histories, past=None, start_times=None):
        if past is not None:
            histories = extend(np.asarray(histories), np.asarray(past), self.options["extend_length"])
        return super().score_sessions(histories)


def extend(histories, past, length):
    """int [B, max(T, length)]: each -1-padded history prefixed with the last `length` - L items of its
    row of `past` (-1-padded) when its length L is below `length`."""
    lengths, past_lengths = (histories >= 0).sum(axis=1), (past >= 0).sum(axis=1)
    taken = np.minimum(np.maximum(length - lengths, 0), past_lengths)
    width = max(histories.shape[1], int((lengths + taken).max()) if len(histories) else 0, 1)
    out = np.full((len(histories), width), -1, histories.dtype)
    for row, (n, t, p) in enumerate(zip(lengths, taken, past_lengths)):
        out[row, :t] = past[row, p - t:p]
        out[row, t:t + n] = histories[row, :n]
    return out
