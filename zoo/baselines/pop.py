"""Most popular: every item scored by its training count, whatever the session."""
import numpy as np

from zoo.baselines.baseline import Baseline


class Pop(Baseline):
    """Items ranked by their number of training events."""

    state_keys = ("counts",)

    def __init__(self, n_items, counts=None, **options):
        super().__init__(n_items, **options)
        self.counts = np.zeros(n_items) if counts is None else np.asarray(counts, np.float64)

    def fit(self, order):
        self.counts = np.bincount(order.items, minlength=self.n_items).astype(np.float64)

    def score_sessions(self, histories, past=None, start_times=None):
        return np.tile(self.counts, (len(histories), 1))
