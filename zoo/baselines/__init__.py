"""Non-neural baselines fitted on the training events, evaluated and served like the RNNs.

Every baseline is a `Baseline` (see `zoo.baselines.baseline`): `fit(order)` on the training sessions,
then `score_sessions(histories, past, start_times)` scores all items for a batch of session prefixes
(`past`, the user's earlier items, and `start_times` where the evaluation knows them). `zoo.evaluation`
ranks those scores with the same tie modes and metrics as the RNNs' (`prefix_ranks`).

| name | file | what it scores |
|---|---|---|
| `pop` | `pop.py` | training count of the item |
| `spop` | `spop.py` | count in the session, ties by training count |
| `sr` | `sr.py` | sequential rules from the session's last item (Ludewig & Jannach 2018) |
| `sknn`, `vsknn` | `knn.py` | session-based kNN, V-SKNN with linear position decay (Ludewig & Jannach 2018) |
| `vsknn_e` | `session_aware_knn.py` | V-SKNN on the session extended by the user's latest items (Latifi et al. 2021) |
| `recent_pop` | `recent_pop.py` | training count in the hours before the session |
| `fpmc` | `fpmc.py` | factorized first-order Markov chain + item bias, BPR (Rendle et al. 2010) |
"""
import time

import numpy as np

from zoo.datasets.batches import order_sessions
from zoo.datasets.io import ITEM
from zoo.datasets.vocab import Vocabulary


def fit(name, events, sets=()):
    """Fits the baseline `name` on the training event frame, options from `KEY=VALUE` strings.

    Returns:
        (baseline, item vocabulary, log rows: FPMC's loss per epoch, else one row with the seconds).

    Raises:
        DataError: no training session has 2 or more events (as for the recurrent models).
    """
    from zoo.models.registry import model_class

    cls = model_class(name)
    vocab = Vocabulary.fit(events[ITEM])
    model = cls(len(vocab), **cls.parse_sets(sets))
    start = time.perf_counter()
    log = model.fit(order_sessions(events, vocab).require_pairs())  # the recurrent models' rule
    seconds = round(time.perf_counter() - start, 3)
    return model, vocab, log or [{"epoch": 1, "seconds": seconds}]


def load(path, name, n_items, options):
    """The baseline `name` saved at `path` (an npz of `Baseline.save`)."""
    from zoo.models.registry import model_class

    model = model_class(name)(n_items, **options)
    with np.load(path) as state:
        model.set_state({key: state[key] for key in state.files})
    return model
