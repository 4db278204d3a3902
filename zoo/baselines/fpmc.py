"""FPMC for sessions: the factorized first-order Markov chain (FMC) plus an item bias, trained with BPR.

Rendle et al. 2010 ("Factorizing personalized Markov chains for next-basket recommendation") score
x(u, l, i) = <V_UI[u], V_IU[i]> + <V_IL[i], V_LI[l]> averaged over the items l of the last basket.
Session logs have no users, so the user-item (MF) term is dropped and the last basket is the
session's last item l, as usual for session-based FPMC; an item bias b_i is added:

    x(l, i) = <V_LI[l], V_IL[i]> + b_i

Training: BPR (Rendle et al. 2009) on every consecutive pair (l, i) of the training sessions with a
negative j drawn uniformly from all items: maximize ln sigmoid(x(l, i) - x(l, j)) - reg * ||params||^2
by SGD in shuffled mini-batches of `batch_size` pairs (each pair's update as in per-pair SGD, summed
where a batch repeats an index), `epochs` passes, initial factors N(0, 0.1^2), biases 0.
"""
import numpy as np

from zoo.baselines.baseline import Baseline, last_items


class FPMC(Baseline):
    """FMC + item bias, BPR-trained; see the module docstring."""

    defaults = {"factors": 64, "epochs": 10, "learning_rate": 0.05, "reg": 0.0025, "batch_size": 256, "seed": 42}
    state_keys = ("last_factors", "next_factors", "bias")

    def fit(self, order):
        o = self.options
        rng = np.random.default_rng(o["seed"])
        self.last_factors = rng.normal(0, 0.1, (self.n_items, o["factors"]))
        self.next_factors = rng.normal(0, 0.1, (self.n_items, o["factors"]))
        self.bias = np.zeros(self.n_items)
        session = order.event_sessions
        pair = session[:-1] == session[1:]
        previous, following = order.items[:-1][pair], order.items[1:][pair]
        log = []
        for epoch in range(o["epochs"]):
            perm = rng.permutation(len(previous))
            losses = [self._step(previous[b], following[b], rng.integers(0, self.n_items, len(b)))
                      for b in np.array_split(perm, max(1, len(perm) // o["batch_size"]))]
            log.append({"epoch": epoch + 1, "loss": float(np.sum(losses) / max(1, len(previous)))})
        return log

    def _step(self, l, i, j):
        """One BPR-SGD step on the pairs (l, i) with negatives j; returns the summed -ln sigmoid."""
        lr, reg = self.options["learning_rate"], self.options["reg"]
        vl, vi, vj = self.last_factors[l], self.next_factors[i], self.next_factors[j]
        x = np.sum(vl * (vi - vj), axis=1) + self.bias[i] - self.bias[j]
        g = 1 / (1 + np.exp(x))  # d ln sigmoid(x) / dx
        np.add.at(self.last_factors, l, lr * (g[:, None] * (vi - vj) - reg * vl))
        np.add.at(self.next_factors, i, lr * (g[:, None] * vl - reg * vi))
        np.add.at(self.next_factors, j, lr * (-g[:, None] * vl - reg * vj))
        np.add.at(self.bias, i, lr * (g - reg * self.bias[i]))
        np.add.at(self.bias, j, lr * (-g - reg * self.bias[j]))
        return float(np.logaddexp(0, -x).sum())

    def score_sessions(self, histories, past=None, start_times=None):
        return self.last_factors[last_items(histories)] @ self.next_factors.T + self.bias
