"""A run directory: everything a trained model needs to be evaluated, served or trained on.

    RUN_DIR/model.keras     the Keras model (weights and config)
    RUN_DIR/baseline.npz    instead of model.keras for a baseline (`zoo.baselines`): its fitted arrays
    RUN_DIR/vocab.json      the item vocabulary: index <-> item id as given in the training data
    RUN_DIR/users.json      the user vocabulary (personalized models only)
    RUN_DIR/config.json     model name, full configuration, data columns, training data summary
    RUN_DIR/train_log.json  per-epoch loss, seconds and events/s
    RUN_DIR/metrics.json    test metrics, when a test set was given

    RUN_DIR/checkpoint/     the last training checkpoint (`zoo train --resume` continues from it)

Every file is written atomically and `model.keras` (`baseline.npz`) last, so a run directory is either complete or
visibly unfinished (no `model.keras`), never half-written.
"""
import dataclasses
import json
import os
import zipfile

import numpy as np

from zoo.datasets.vocab import Vocabulary
from zoo.errors import ConfigError, UserError
from zoo.files import atomic_path, write_json

MODEL, VOCAB, CONFIG, LOG, METRICS = "model.keras", "vocab.json", "config.json", "train_log.json", "metrics.json"
USERS, BASELINE = "users.json", "baseline.npz"


@dataclasses.dataclass
class Run:
    model: object
    vocab: Vocabulary
    info: dict  # contents of config.json
    users: Vocabulary = None  # personalized models only

    @property
    def config(self):
        return self.info["config"]


def save_run(out_dir, model, vocab, info, log_rows, metrics=None, users=None):
    """Writes the run's files into `out_dir` (created if needed), each atomically, the model last.

    `users`: the user vocabulary of a personalized model. A directory without `model.keras` is an
    unfinished run (its `checkpoint/` can be resumed).
    """
    os.makedirs(out_dir, exist_ok=True)
    vocab.save(os.path.join(out_dir, VOCAB))
    if users is not None:
        users.save(os.path.join(out_dir, USERS))
    write_json(os.path.join(out_dir, CONFIG), info)
    write_json(os.path.join(out_dir, LOG), log_rows)
    if metrics is not None:
        write_json(os.path.join(out_dir, METRICS), metrics)
    with atomic_path(os.path.join(out_dir, BASELINE if hasattr(model, "score_sessions") else MODEL)) as tmp:
        model.save(tmp)


def load_run(run_dir):
    """Loads a run directory; a missing or damaged one raises a one-line UserError."""
    import keras

    import zoo.registry  # noqa: F401  (registers the model classes for deserialization)

    if not os.path.isdir(run_dir):
        raise UserError(f"{run_dir}: no such run directory")
    if os.path.isfile(os.path.join(run_dir, BASELINE)):
        return _load_baseline(run_dir)
    for name in (MODEL, VOCAB, CONFIG):
        if not os.path.isfile(os.path.join(run_dir, name)):
            raise UserError(f"{run_dir}: not a complete run directory, {name} is missing")
    try:
        with open(os.path.join(run_dir, CONFIG)) as f:
            info = json.load(f)
        zoo.registry.model_class(info["model"])  # imports the module that registers the class
    except (ValueError, KeyError, TypeError, ConfigError) as e:  # ConfigError: an unknown model name
        raise UserError(f"{run_dir}/{CONFIG} is damaged: {e}") from None
    vocab = Vocabulary.load(os.path.join(run_dir, VOCAB))
    try:
        model = keras.saving.load_model(os.path.join(run_dir, MODEL), compile=False)
    except Exception as e:  # Keras raises many kinds for a damaged archive
        raise UserError(f"{run_dir}/{MODEL} cannot be loaded: {str(e).splitlines()[0]}") from None
    if model.n_items != len(vocab):
        raise UserError(f"{run_dir}: the model has {model.n_items} items but vocab.json {len(vocab)}")
    users = None
    if model.personalized:
        if not os.path.isfile(os.path.join(run_dir, USERS)):
            raise UserError(f"{run_dir}: not a complete run directory, {USERS} is missing")
        users = Vocabulary.load(os.path.join(run_dir, USERS))
        if model.n_users != len(users):
            raise UserError(f"{run_dir}: the model has {model.n_users} users but {USERS} {len(users)}")
    return Run(model, vocab, info, users)


def _load_baseline(run_dir):
    from zoo import baselines

    try:
        with open(os.path.join(run_dir, CONFIG)) as f:
            info = json.load(f)
        vocab = Vocabulary.load(os.path.join(run_dir, VOCAB))
        model = baselines.load(os.path.join(run_dir, BASELINE), info["model"], len(vocab), info["config"])
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
        raise UserError(f"{run_dir}: not a complete baseline run directory: {e}") from None
    return Run(model, vocab, info)


def recommend(model, vocab, item_ids, k=10, exclude_history=False, earlier_sessions=(), user=None, users=None):
    """Top-k next items after the session `item_ids` (ids as given; unknown ids are skipped).

    Personalized models: `earlier_sessions` (the user's sessions before this one, oldest first, each
    a list of item ids) are replayed first (each one's last event only as a target, as in training),
    so HRNN builds its user state from them; `user` (an id of `users`, the run's user vocabulary)
    picks the user-gated GRU's user vector, and an unseen or absent user gets its fallback vector.
    Other models start the session from zero whatever came before.

    Returns:
        (list of (item id, score) best first, list of the ids that were skipped as unknown).
    """
    given = [list(session) for session in (*earlier_sessions, item_ids)]
    codes = [vocab.encode(session) for session in given]
    unknown = [i for session, c in zip(given, codes) for i, x in zip(session, c) if x < 0]
    played = [c[c >= 0] for c in codes]
    known = played[-1]
    if known.size == 0:
        raise UserError("none of the given items is known to the model")
    played = [c for c in played if c.size]
    items = np.concatenate(played)[np.newaxis, :]
    starts = np.zeros(items.shape, bool)
    starts[0, np.cumsum([len(c) for c in played])[:-1]] = True
    inputs = {"items": items, "session_starts": starts}
    if user is not None and users is not None:
        inputs["users"] = users.encode([user])
    if hasattr(model, "score_sessions"):  # a baseline
        scores = model.score_sessions(known[np.newaxis, :])[0]
    else:
        scores = model(inputs).numpy()[0]
    if exclude_history:
        scores[known] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    top = np.argsort(-scores, kind="stable")[:k]
    return list(zip(vocab.decode(top), scores[top].tolist())), unknown
