"""Training checkpoints: resume an interrupted `zoo train` exactly where it stopped.

A checkpoint directory holds `model.keras` (weights, slot states and optimizer state) and
`state.json` (the epoch and step it was taken at, the configuration and the epoch log so far). The
directory is written as a whole and swapped with the previous one in one step (`zoo.atomic`), so the
two files always belong together: the previous checkpoint or the new one, never new weights with an
old step.
A resumed run rebuilds the same pipeline (the sample store is seeded per epoch), skips the steps
already done, and continues; with the same seed it reaches the same weights as an uninterrupted run.

Why not `keras.callbacks.BackupAndRestore` (read in Keras 3.15, `keras/src/callbacks/backup_and_restore.py`):
its `_load_model` restores `load_weights` (the weights, the session slot states, which are model
variables, and the optimizer's variables) and the epoch (`model._initial_epoch`) only. The `batch` it
writes to `training_metadata.json` is never read back, so a resume within an epoch replays that epoch
from its first step on the dataset as given: it does not skip the steps done, and nothing rebuilds the
pipeline with that epoch's negative-sample seeds (`train_dataset(..., first_epoch=)` here). Weight
files leave out the dropout seed generators' states (`seed_states`). It also saves whatever the loss
(a non-finite model would replace the last good one), deletes its directory in `on_train_end` by
default (also after a stop at a non-finite loss), writes in place rather than atomically, and keeps
neither the configuration (to refuse a resume with other settings) nor the epoch log.
"""
import json
import os

import keras

from zoo.atomic import atomic_path, write_json
from zoo.errors import UserError

MODEL, STATE = "model.keras", "state.json"


class Checkpoint(keras.callbacks.Callback):
    """Saves a checkpoint at the end of every epoch and, with `every_steps`, every that many steps.

    It never saves a model whose loss has become non-finite (the `EpochLog` records it and
    `keras.callbacks.TerminateOnNaN` stops training there), so the last good checkpoint stays. Put it
    after the `EpochLog` in the callbacks.

    Args:
        directory: where the checkpoint lives.
        config: the training configuration (saved, and compared on resume).
        log: the `EpochLog` callback: its rows are saved with the checkpoint, its `diverged` read.
        every_steps: also checkpoint within epochs every this many steps (0: only at epoch ends).
        step_offset: steps of the current epoch done before this `fit` call (a resumed epoch).
    """

    def __init__(self, directory, config, log, every_steps=0, step_offset=0):
        super().__init__()
        self.directory, self.config, self.log = directory, config, log
        self.every_steps, self.step_offset = every_steps, step_offset

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.next_save = epoch, self.every_steps

    def on_train_batch_end(self, batch, logs=None):
        step = self.log.steps_done(batch)
        if self.log.diverged is None and self.every_steps and step >= self.step_offset + self.next_save:
            self.next_save += self.every_steps
            if step < self.log.epoch_steps:  # at the epoch's last step the epoch-end checkpoint follows
                self.save(self.epoch, step)

    def on_epoch_end(self, epoch, logs=None):
        self.step_offset = 0
        if self.log.diverged is None:
            self.save(epoch + 1, 0)

    def save(self, epoch, step):
        with atomic_path(self.directory) as staging:  # both files as one: the old pair or the new pair
            os.makedirs(staging)
            self.model.save(os.path.join(staging, MODEL))
            write_json(os.path.join(staging, STATE),
                       {"epoch": epoch, "step": step, "config": self.config, "log": self.log.rows,
                        "seed_states": [v.numpy().tolist() for v in seed_states(self.model)]})


def seed_states(model):
    """The state variables of the model's random-number generators (dropout masks).

    `.keras` files do not restore them; a checkpoint does, so that a resumed run draws the same
    dropout masks as an uninterrupted one.
    """
    return [g.state for layer in model._flatten_layers() for g in getattr(layer, "_seed_generators", [])]


def saved_config(directory):
    """The configuration a checkpoint was trained with (UserError if there is none)."""
    if not exists(directory):
        raise UserError(f"{directory}: no checkpoint to resume from")
    try:
        with open(os.path.join(directory, STATE)) as f:
            return json.load(f)["config"]
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{directory}/{STATE} is damaged: {e}") from None


def exists(directory):
    return os.path.isfile(os.path.join(directory, STATE)) and os.path.isfile(os.path.join(directory, MODEL))


def load(directory, config):
    """Loads a checkpoint: (compiled model with its optimizer state, state dict).

    Raises:
        UserError: no checkpoint, a damaged one, or one made with another configuration (only
            `epochs` may differ, to train longer).
    """
    import zoo.models.registry  # noqa: F401  (registers the model classes)

    if not exists(directory):
        raise UserError(f"{directory}: no checkpoint to resume from")
    try:
        with open(os.path.join(directory, STATE)) as f:
            state = json.load(f)
        model = keras.saving.load_model(os.path.join(directory, MODEL), compile=True)
        for variable, value in zip(seed_states(model), state.get("seed_states", []), strict=True):
            variable.assign(value)
    except Exception as e:  # json and Keras raise many kinds for a damaged file
        raise UserError(f"{directory}: the checkpoint cannot be loaded: {str(e).splitlines()[0]}") from None
    changed = sorted(k for k in set(config) | set(state["config"])
                     if k != "epochs" and config.get(k) != state["config"].get(k))
    if changed:
        raise UserError(f"{directory}: the checkpoint was trained with other settings ({', '.join(changed)}); "
                        "resume with the same options")
    return model, state
