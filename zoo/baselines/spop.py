"""Session popularity: the items of the current session first, by their count in it."""
import numpy as np

from zoo.baselines.baseline import Baseline, history_matrix


class SPop(Baseline):
    """score(i) = count of i in the session + pop(i) / (max pop + 1).

    The second term is below 1, so items of the session rank by their count in it, ties (and all
    other items) by training popularity.
    """

    state_keys = ("counts",)

    def fit(self, order):
        self.counts = np.bincount(order.items, minlength=self.n_items).astype(np.float64)

    def score_sessions(self, histories, past=None, start_times=None):
        in_session = history_matrix(histories, self.n_items).toarray()
        return in_session + self.counts / (self.counts.max() + 1)
