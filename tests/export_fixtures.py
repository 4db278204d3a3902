"""Shared fixtures of the export tests: small trained models of each kind, each exported once.

The log walks an item ring with small jumps (item i is followed by i+1..i+3), with string ids (one of
them not ASCII), so a one-epoch model already ranks with clear margins.
"""
import types

import numpy as np
import pandas as pd
import pytest

from zoo.training import presets
from zoo import training
from zoo.models.registry import model_class

MODELS = ("gru4rec", "simple_rnn", "lstm")
N_ITEMS, N_SESSIONS, SESSIONS_PER_USER = 120, 400, 4
SMALL = ["layers=16", "batch_size=16", "n_sample=16", "learning_rate=0.1", "steps_per_execution=16"]
MODEL_SETS = {"user_gru": ["user_embedding=8"], "hrnn": ["user_units=8"]}


def item_id(i):
    return "é-0" if i == 0 else f"item-{i}"


def ring_log(seed=0):
    """Sessions of 3-8 clicks on the item ring, ids as strings; user u has sessions 4u..4u+3."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(N_SESSIONS):
        item = int(rng.integers(N_ITEMS))
        for t in range(int(rng.integers(3, 9))):
            rows.append((f"s{s}", item_id(item), s * 100.0 + t, f"u{s // SESSIONS_PER_USER}"))
            item = (item + int(rng.integers(1, 4))) % N_ITEMS
    return pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time", "UserId"])


def sessions(log, n=None):
    """The sessions of `log` as lists of item ids."""
    grouped = log.groupby("SessionId", sort=False)["ItemId"].apply(list).tolist()
    return grouped[:n]


def pad(histories, value=""):
    width = max(len(h) for h in histories)
    return np.array([h + [value] * (width - len(h)) for h in histories], dtype=object)


def train_run(model_name):
    """What `zoo.runs.load_run` gives (model, vocab, info, users) for a model trained one epoch."""
    config = presets.resolve(sets=SMALL + MODEL_SETS.get(model_name, []), epochs=1)
    events = ring_log()
    if not model_class(model_name).personalized:
        events = events.drop(columns="UserId")
    users = training.user_vocabulary(events, model_name)
    model, vocab, _ = training.fit(model_name, events, config, verbose=0, user_vocab=users)
    return types.SimpleNamespace(model=model, vocab=vocab, info={"model": model_name, "config": config}, users=users)


@pytest.fixture(scope="session")
def log():
    return ring_log(seed=1)


_EXPORTS = {}  # shared by every test module (a fixture imported into several modules is one per module)


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """model name -> (run, export directory); each model trained and exported (all formats) once, lazily."""
    from zoo.export.exporter import export_run

    def get(model_name):
        if model_name not in _EXPORTS:
            run = train_run(model_name)
            out = tmp_path_factory.mktemp(f"export-{model_name}")
            export_run(run, str(out), max_k=50, default_k=10)
            _EXPORTS[model_name] = run, out
        return _EXPORTS[model_name]

    return get
