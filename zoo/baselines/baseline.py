"""The baseline interface and the sparse helpers the baselines share."""
import io

import numpy as np
import scipy.sparse as sp

from zoo.errors import ConfigError


class Baseline:
    """A model fitted on training sessions that scores every item for a batch of session prefixes.

    Subclasses set `defaults` (hyper-parameters with the papers' typical values) and `state_keys`
    (the arrays that `save` writes), and implement `fit` and `score_sessions`.
    """

    personalized = False
    defaults = {}
    state_keys = ()

    def __init__(self, n_items, **options):
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise ConfigError(f"{type(self).__name__.lower()}: unknown option {unknown[0]!r}; "
                              f"known: {', '.join(self.defaults) or 'none'}")
        self.n_items = int(n_items)
        self.options = {**self.defaults, **options}

    @classmethod
    def parse_sets(cls, sets):
        """Options from `KEY=VALUE` strings, each value of its default's type."""
        options = {}
        for item in sets:
            key, sep, text = item.partition("=")
            key = key.strip()
            if not sep or key not in cls.defaults:
                raise ConfigError(f"--set {item!r}: expected KEY=VALUE with KEY one of "
                                  f"{', '.join(cls.defaults) or '(no options)'}")
            try:
                options[key] = type(cls.defaults[key])(text)
            except ValueError:
                raise ConfigError(f"{key}={text!r}: expected a value like {cls.defaults[key]!r}") from None
        return options

    def fit(self, order):
        """Fits on a `SessionOrder` of the training events; returns per-epoch log rows or None."""
        raise NotImplementedError

    def score_sessions(self, histories, past=None, start_times=None):
        """Scores [B, n_items] (float64) of the next item after each history.

        Args:
            histories: int [B, T] item indices of each session so far, padded with -1 at the end.
            past: int [B, P] item indices of the user's earlier sessions, oldest first, padded with -1
                at the end (the user protocol); None: unknown. Only session-aware baselines use it.
            start_times: float [B] the Unix time (seconds) of each session's first event; None:
                just after the training log. Only time-aware baselines use it.
        """
        raise NotImplementedError

    def get_state(self):
        return {key: getattr(self, key) for key in self.state_keys}

    def set_state(self, state):
        for key in self.state_keys:
            setattr(self, key, state[key])

    def save(self, path):
        """Writes the fitted state as an npz file at `path` (the name is kept as given)."""
        buffer = io.BytesIO()
        np.savez(buffer, **self.get_state())
        with open(path, "wb") as f:
            f.write(buffer.getvalue())


def last_items(histories):
    """int [B]: the last item of each -1-padded history."""
    histories = np.asarray(histories)
    lengths = (histories >= 0).sum(axis=1)
    return histories[np.arange(len(histories)), np.maximum(lengths - 1, 0)]


def history_matrix(histories, n_items, decay=False):
    """Sparse [B, n_items] of the histories: counts, or (`decay`) the linear position weight p / L of
    each item's last position p (1-based) in a history of length L."""
    histories = np.asarray(histories)
    rows, positions = np.nonzero(histories >= 0)
    items = histories[rows, positions]
    if not decay:
        return sp.csr_matrix((np.ones(len(items)), (rows, items)), shape=(len(histories), n_items))
    lengths = (histories >= 0).sum(axis=1)
    weights = (positions + 1) / lengths[rows]
    key = rows * n_items + items
    order = np.lexsort((positions, key))
    last = order[np.r_[key[order][1:] != key[order][:-1], True]]
    return sp.csr_matrix((weights[last], (rows[last], items[last])), shape=(len(histories), n_items))


def top_per_row(matrix, n, key=None):
    """The `n` entries of each row of a sparse matrix with the largest `key` (default: the values)."""
    coo = matrix.tocoo()
    key = coo.data if key is None else key
    order = np.lexsort((-key, coo.row))
    rows = coo.row[order]
    keep = order[np.arange(len(rows)) - np.searchsorted(rows, rows) < n]
    return sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape)
