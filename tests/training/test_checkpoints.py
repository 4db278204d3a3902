"""Interrupted training resumes to exactly the weights of an uninterrupted run; divergence stops cleanly."""
import json

import keras
import numpy as np
import pytest

from model_checks import chain_log
from zoo.training import checkpoints, presets
from zoo import training
from zoo.errors import DataError, UserError

SETS = ["layers=8", "n_sample=6", "batch_size=4", "steps_per_execution=4", "dropout_p_hidden=0.3",
        "learning_rate=0.1", "momentum=0.5"]


def config(epochs, *more):
    return presets.resolve(sets=SETS + list(more), epochs=epochs)


def weights(model):
    return [w.numpy() for w in model.weights]


class Interrupt(keras.callbacks.Callback):
    """Simulates a crash (Ctrl-C) after `after` steps of epoch `epoch`."""

    def __init__(self, epoch, after):
        super().__init__()
        self.at = (epoch, after)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch + 1) >= self.at:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def events():
    return chain_log(n_sessions=40)


@pytest.fixture(scope="module")
def uninterrupted(events, tmp_path_factory):
    directory = tmp_path_factory.mktemp("full") / "ckpt"
    model, _, log = training.fit("gru4rec", events, config(3), verbose=0, checkpoint_dir=str(directory))
    return weights(model), log


def test_resume_after_an_epoch_gives_the_uninterrupted_weights(events, uninterrupted, tmp_path):
    directory = str(tmp_path / "ckpt")
    training.fit("gru4rec", events, config(1), verbose=0, checkpoint_dir=directory)
    state = json.loads((tmp_path / "ckpt" / "state.json").read_text())
    assert (state["epoch"], state["step"]) == (1, 0)
    model, _, log = training.fit("gru4rec", events, config(3), verbose=0, checkpoint_dir=directory, resume=True)
    for got, want in zip(weights(model), uninterrupted[0]):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert [row["epoch"] for row in log] == [1, 2, 3]
    assert [row["loss"] for row in log] == pytest.approx([row["loss"] for row in uninterrupted[1]], rel=1e-6)


def test_resume_within_an_epoch_gives_the_uninterrupted_weights(events, uninterrupted, tmp_path):
    directory = str(tmp_path / "ckpt")
    with pytest.raises(KeyboardInterrupt):
        training.fit("gru4rec", events, config(3), verbose=0, checkpoint_dir=directory, checkpoint_every=8,
                     callbacks=[Interrupt(epoch=1, after=10)])  # stops at step 12
    state = json.loads((tmp_path / "ckpt" / "state.json").read_text())
    assert (state["epoch"], state["step"]) == (1, 8)  # the last checkpoint before the crash
    model, _, _ = training.fit("gru4rec", events, config(3), verbose=0, checkpoint_dir=directory, resume=True)
    for got, want in zip(weights(model), uninterrupted[0]):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_same_seed_same_weights_other_seed_other_weights(events, uninterrupted):
    again, _, _ = training.fit("gru4rec", events, config(3), verbose=0)
    for got, want in zip(weights(again), uninterrupted[0]):
        np.testing.assert_array_equal(got, want)
    other, _, _ = training.fit("gru4rec", events, config(3, "seed=7"), verbose=0)
    assert not np.allclose(weights(other)[0], uninterrupted[0][0])


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(events, tmp_path, monkeypatch):
    directory = str(tmp_path / "ckpt")
    training.fit("gru4rec", events, config(1), verbose=0, checkpoint_dir=directory)
    good = (tmp_path / "ckpt" / "model.keras").read_bytes()

    class Poison(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            for w in self.model.trainable_weights:
                w.assign(np.full(w.shape, np.nan, "float32"))

    with pytest.raises(DataError, match=r"loss became nan in epoch 2, step \d+; the last good checkpoint"):
        training.fit("gru4rec", events, config(3), verbose=0, checkpoint_dir=directory, resume=True,
                     callbacks=[Poison()])
    assert (tmp_path / "ckpt" / "model.keras").read_bytes() == good
    assert json.loads((tmp_path / "ckpt" / "state.json").read_text())["epoch"] == 1


def test_resuming_with_other_settings_or_without_a_checkpoint_is_refused(events, tmp_path):
    directory = str(tmp_path / "ckpt")
    with pytest.raises(UserError, match="no checkpoint"):
        training.fit("gru4rec", events, config(2), verbose=0, checkpoint_dir=directory, resume=True)
    training.fit("gru4rec", events, config(1), verbose=0, checkpoint_dir=directory)
    with pytest.raises(UserError, match="other settings .*learning_rate"):
        checkpoints.load(directory, config(2, "learning_rate=0.3"))


def test_no_step_checkpoint_at_an_epochs_last_step():
    """A kill between a step checkpoint at the epoch's last step and the epoch-end one left a checkpoint
    whose resume had no step left to play (Keras: "input ran out of data", then KeyError 'loss')."""
    from zoo.training.callbacks import EpochLog
    from zoo.training.checkpoints import Checkpoint

    log = EpochLog(n_pairs=60, epoch_steps=6)
    saver = Checkpoint("unused", {}, log, every_steps=3)
    saved = []
    saver.save = lambda epoch, step: saved.append((epoch, step))
    saver.on_epoch_begin(0)
    for batch in range(6):
        saver.on_train_batch_end(batch)
    saver.on_epoch_end(0)
    assert saved == [(0, 3), (1, 0)]
