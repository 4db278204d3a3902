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

from zoo.atomic import atomic_path, fsync_tree, write_json
from zoo.datasets.vocab import Vocabulary
from zoo.errors import ConfigError, UserError

MODEL, VOCAB, CONFIG, LOG, METRICS = "model.keras", "vocab.json", "config.json", "train_log.json", "metrics.json"
USERS, BASELINE = "users.json", "baseline.npz"


@dataclasses.dataclass
class Run:
    model: object
    vocab: Vocabulary
    info: dict  # contents of config.json
    users: Vocabulary = None  # personalized models only
    path: str = None  # the run directory it was loaded from

    @property
    def config(self):
        return self.info["config"]


def save_run(out_dir, model, vocab, info, log_rows, metrics=None, users=None):
    """Writes the run's files into `out_dir` (created if needed), each atomically, the model last.

    `users`: the user vocabulary of a personalized model. A directory without `model.keras` is an
    unfinished run (its `checkpoint/` can be resumed). Rewriting a finished run (a `--resume` that
    trains on) first removes its `model.keras` and the files the new run will not have, so that a crash
    midway leaves a visibly unfinished run, never one that mixes two generations.
    """
    os.makedirs(out_dir, exist_ok=True)
    done = os.path.join(out_dir, BASELINE if hasattr(model, "score_sessions") else MODEL)
    stale = [done] + [os.path.join(out_dir, n) for n, new in ((USERS, users), (METRICS, metrics)) if new is None]
    for path in filter(os.path.exists, stale):  # a finished run rewritten is unfinished until its model is back
        os.remove(path)
    fsync_tree(out_dir, recursive=False)
    vocab.save(os.path.join(out_dir, VOCAB))
    if users is not None:
        users.save(os.path.join(out_dir, USERS))
    write_json(os.path.join(out_dir, CONFIG), info)
    write_json(os.path.join(out_dir, LOG), log_rows)
    if metrics is not None:
        write_json(os.path.join(out_dir, METRICS), metrics)
    with atomic_path(done) as tmp:
        _without_optimizer(model).save(tmp)


def _without_optimizer(model):
    """What a run saves of a trained model: its weights and configuration without the optimizer's
    slots. A run is for evaluation, serving and export; resuming reads `checkpoint/`, which keeps
    them. (For GRU4Rec over 1M items and 64 units, 260 MB instead of 780 on disk, and loading it
    peaks at a third of the memory.) A baseline or an uncompiled model is saved as it is."""
    if hasattr(model, "score_sessions") or getattr(model, "optimizer", None) is None:
        return model
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def load_run(run_dir):
    """Loads a run directory; a missing or damaged one raises a one-line UserError."""
    import keras

    import zoo.models.registry  # noqa: F401  (registers the model classes for deserialization)

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
        zoo.models.registry.model_class(info["model"])  # imports the module that registers the class
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
    return Run(model, vocab, info, users, run_dir)


def _load_baseline(run_dir):
    from zoo import baselines

    try:
        with open(os.path.join(run_dir, CONFIG)) as f:
            info = json.load(f)
        vocab = Vocabulary.load(os.path.join(run_dir, VOCAB))
        model = baselines.load(os.path.join(run_dir, BASELINE), info["model"], len(vocab), info["config"])
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
        raise UserError(f"{run_dir}: not a complete baseline run directory: {e}") from None
    return Run(model, vocab, info, path=run_dir)




def history_events(run, path=None, columns=None):
    """The events before a test: the log at `path` (read with `columns`, `load_events` names), or the
    run's own training log read with the columns it was trained with.

    Raises:
        UserError: no `path` and the run's training log is no longer there.
    """
    from zoo.datasets.io import load_events

    if path:
        return load_events(path, **(columns or {}))
    path, saved = run.info.get("train"), run.info.get("columns", {})
    if not path or not os.path.isfile(path):
        raise UserError(f"the run's training log {path} is not there; pass the events before the test with --history")
    return load_events(path, session_key=saved.get("session", "SessionId"), item_key=saved.get("item", "ItemId"),
                       time_key=saved.get("time", "Time"), user_key=saved.get("user"))
