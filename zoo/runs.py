"""A run directory: everything a trained model needs to be evaluated, served or trained on.

    RUN_DIR/model.keras     the Keras model (weights and config)
    RUN_DIR/vocab.json      the item vocabulary: index <-> item id as given in the training data
    RUN_DIR/config.json     model name, full configuration, data columns, training data summary
    RUN_DIR/train_log.json  per-epoch loss, seconds and events/s
    RUN_DIR/metrics.json    test metrics, when a test set was given

The directory is written in a temporary place and moved into position complete, so an interrupted
run leaves no half-written run directory.
"""
import dataclasses
import json
import os

import numpy as np

from zoo.datasets.vocab import Vocabulary
from zoo.errors import UserError
from zoo.files import atomic_path, write_json

MODEL, VOCAB, CONFIG, LOG, METRICS = "model.keras", "vocab.json", "config.json", "train_log.json", "metrics.json"


@dataclasses.dataclass
class Run:
    model: object
    vocab: Vocabulary
    info: dict  # contents of config.json

    @property
    def config(self):
        return self.info["config"]


def save_run(out_dir, model, vocab, info, log_rows, metrics=None):
    """Writes a complete run directory atomically (replacing none: `out_dir` must not exist)."""
    with atomic_path(out_dir) as tmp:
        os.makedirs(tmp)
        model.save(os.path.join(tmp, MODEL))
        vocab.save(os.path.join(tmp, VOCAB))
        write_json(os.path.join(tmp, CONFIG), info)
        write_json(os.path.join(tmp, LOG), log_rows)
        if metrics is not None:
            write_json(os.path.join(tmp, METRICS), metrics)


def load_run(run_dir):
    """Loads a run directory; a missing or damaged one raises a one-line UserError."""
    import keras

    import zoo.registry  # noqa: F401  (registers the model classes for deserialization)

    if not os.path.isdir(run_dir):
        raise UserError(f"{run_dir}: no such run directory")
    for name in (MODEL, VOCAB, CONFIG):
        if not os.path.isfile(os.path.join(run_dir, name)):
            raise UserError(f"{run_dir}: not a complete run directory, {name} is missing")
    try:
        with open(os.path.join(run_dir, CONFIG)) as f:
            info = json.load(f)
        zoo.registry.model_class(info["model"])  # imports the module that registers the class
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{run_dir}/{CONFIG} is damaged: {e}") from None
    vocab = Vocabulary.load(os.path.join(run_dir, VOCAB))
    try:
        model = keras.saving.load_model(os.path.join(run_dir, MODEL), compile=False)
    except Exception as e:  # Keras raises many kinds for a damaged archive
        raise UserError(f"{run_dir}/{MODEL} cannot be loaded: {str(e).splitlines()[0]}") from None
    if model.n_items != len(vocab):
        raise UserError(f"{run_dir}: the model has {model.n_items} items but vocab.json {len(vocab)}")
    return Run(model, vocab, info)


def recommend(model, vocab, item_ids, k=10, exclude_history=False):
    """Top-k next items after the session `item_ids` (ids as given; unknown ids are skipped).

    Returns:
        (list of (item id, score) best first, list of the ids that were skipped as unknown).
    """
    indices = vocab.encode(list(item_ids))
    known = indices[indices >= 0]
    unknown = [i for i, x in zip(item_ids, indices) if x < 0]
    if known.size == 0:
        raise UserError("none of the given items is known to the model")
    scores = model(known[np.newaxis, :]).numpy()[0]
    if exclude_history:
        scores[known] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    top = np.argsort(-scores, kind="stable")[:k]
    return list(zip(vocab.decode(top), scores[top].tolist())), unknown
