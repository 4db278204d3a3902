"""Most popular: every item scored by its training count, whatever the session."""
import numpy as np

from zoo.baselines.baseline import Baseline


class Pop(Baseline):
    """Items ranked by their number of training events.

    It also has the recurrent models' `step` / `score_all` shape (a state that never changes), so the
    user protocol of `zoo.evaluation` can play it too.
    """

    state_keys = ("counts",)

    def __init__(self, n_items, counts=None, **options):
        super().__init__(n_items, **options)
        self.counts = np.zeros(n_items) if counts is None else np.asarray(counts, np.float64)

    def fit(self, order):
        self.counts = np.bincount(order.items, minlength=self.n_items).astype(np.float64)

    def score_sessions(self, histories):
        return np.tile(self.counts, (len(histories), 1))

    def initial_states(self, batch_size):
        import tensorflow as tf

        return [tf.zeros((batch_size, 1))]

    @staticmethod
    def reset_states(states, reset):
        return states

    def start_sessions(self, states, reset, user_start=None, training=False):
        return states

    def step(self, items, states, training=False, users=None):
        return states[0], states

    def score_all(self, hidden):
        return hidden + self.counts[np.newaxis, :].astype(np.float32)
