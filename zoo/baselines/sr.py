"""Sequential rules (Ludewig & Jannach 2018, "Evaluation of session-based recommendation algorithms")."""
import numpy as np
import scipy.sparse as sp

from zoo.baselines.baseline import Baseline, last_items, top_per_row


class SR(Baseline):
    """Rules a -> b weighted by 1 / gap, scored from the session's last item.

    Fit: for every training session and every pair of positions p < q with q - p <= `steps`, the
    rule (item at p) -> (item at q) gains 1 / (q - p) (session-rec's `div` weighting; pairs of an
    item with itself count too). Then each item keeps its `prune` strongest rules (0: all).
    Score: item b gets the weight of the rule last item -> b; items without a rule score 0.
    """

    defaults = {"steps": 10, "prune": 20}
    state_keys = ("rules_data", "rules_indices", "rules_indptr")

    def fit(self, order):
        session = order.event_sessions
        sources, targets, weights = [], [], []
        for gap in range(1, self.options["steps"] + 1):
            same = session[:-gap] == session[gap:]
            sources.append(order.items[:-gap][same])
            targets.append(order.items[gap:][same])
            weights.append(np.full(int(same.sum()), 1.0 / gap))
        shape = (self.n_items, self.n_items)
        rules = sp.csr_matrix((np.concatenate(weights), (np.concatenate(sources), np.concatenate(targets))), shape)
        rules.sum_duplicates()
        if self.options["prune"] > 0:
            rules = top_per_row(rules, self.options["prune"])
        self.rules = rules

    def get_state(self):
        return {"rules_data": self.rules.data, "rules_indices": self.rules.indices, "rules_indptr": self.rules.indptr}

    def set_state(self, state):
        self.rules = sp.csr_matrix((state["rules_data"], state["rules_indices"], state["rules_indptr"]),
                                   shape=(self.n_items, self.n_items))

    def score_sessions(self, histories, past=None, start_times=None):
        return self.rules[last_items(histories)].toarray()
