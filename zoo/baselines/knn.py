"""Session-based kNN and V-SKNN (Ludewig & Jannach 2018, "Evaluation of session-based recommendation algorithms")."""
import numpy as np
import scipy.sparse as sp

from zoo.baselines.baseline import Baseline, history_matrix, top_per_row


class SKNN(Baseline):
    """Session-based k nearest neighbours over item sets.

    For a session prefix h (its item set) the candidates are the training sessions sharing an item
    with it; of those the `sample_size` most recent (by start time) are kept, and of those the `k`
    most similar by cosine similarity of the item sets, sim(h, s) = |h ∩ s| / sqrt(|h| |s|).
    Score: item i gets the sum of sim(h, s) over those neighbours s that contain i.
    """

    defaults = {"k": 100, "sample_size": 500}
    state_keys = ("sessions_indices", "sessions_indptr")
    decay = False

    def fit(self, order):
        session = order.event_sessions
        sessions = sp.csr_matrix((np.ones(len(session)), (session, order.items)),
                                 shape=(order.n_sessions, self.n_items))
        sessions.data[:] = 1.0  # item sets: repeats count once
        self.sessions = sessions

    def get_state(self):
        return {"sessions_indices": self.sessions.indices, "sessions_indptr": self.sessions.indptr}

    def set_state(self, state):
        indices, indptr = state["sessions_indices"], state["sessions_indptr"]
        self.sessions = sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(indptr) - 1, self.n_items))

    def similarities(self, histories):
        """Sparse [B, n_sessions]: sim(h, s) of each history with each of its neighbours."""
        weighted = history_matrix(histories, self.n_items, decay=self.decay)
        if not self.decay:
            weighted.data[:] = 1.0
        overlap = (weighted @ self.sessions.T).tocsr()
        sample = top_per_row(overlap, self.options["sample_size"], key=overlap.tocoo().col.astype(np.float64))
        sample = sample.tocoo()
        history_sizes = np.diff(weighted.indptr)
        session_sizes = np.diff(self.sessions.indptr)
        sample.data = sample.data / np.sqrt(history_sizes[sample.row] * session_sizes[sample.col])
        return top_per_row(sample, self.options["k"])

    def score_sessions(self, histories, past=None, start_times=None):
        return (self.similarities(histories) @ self.sessions).toarray()


class VSKNN(SKNN):
    """V-SKNN: SKNN with the current session's items weighted by a linear decay of their position.

    The item at the last position p (1-based) where it occurs in a prefix of length L weighs p / L
    (the newest 1), and sim(h, s) = sum of the weights of the items of h in s / sqrt(|h| |s|). The
    neighbour sample is larger (`sample_size` 1000, as session-rec's V-SKNN).
    """

    defaults = {"k": 100, "sample_size": 1000}
    decay = True
