"""Training from an event frame: the pipeline, the model, the optimizer and `model.fit`, all from one config.

Example:

    import zoo
    from zoo.datasets import load_events
    from zoo.datasets.vocab import Vocabulary

    train = load_events("train.tsv")
    config = zoo.presets.resolve("rsc15-xe-shared", epochs=1)
    vocab = Vocabulary.fit(train.ItemId)
    dataset = zoo.training.train_dataset(train, vocab, config)
    model = zoo.get_model("gru4rec", n_items=len(vocab), **zoo.presets.model_options(config))
    model.compile(optimizer=zoo.training.make_optimizer(config), steps_per_execution=64)
    model.fit(dataset, epochs=config["epochs"])

Personalized models (`hrnn`, `user_gru`) also need the user vocabulary (`user_vocabulary`): HRNN
trains on user-parallel batches, the user-gated GRU on session-parallel batches with the user of
every slot.
"""
import time

import keras
import numpy as np

from zoo import presets
from zoo.datasets.batches import order_sessions, session_parallel_batches, user_parallel_batches
from zoo.datasets.io import ITEM, USER
from zoo.datasets.pipeline import session_parallel_dataset
from zoo.datasets.sampling import with_negatives
from zoo.datasets.vocab import Vocabulary
from zoo.errors import DataError
from zoo.optimizers import get_optimizer


def item_counts(events, item_vocab):
    """Training event count of every item index (the popularity behind sampling and logQ)."""
    return np.bincount(item_vocab.encode(events[ITEM]), minlength=len(item_vocab))


def user_vocabulary(events, model_name):
    """The user vocabulary a personalized model trains with (None for the other models).

    Raises:
        DataError: the model is personalized and `events` has no user ids.
    """
    from zoo.registry import model_class

    if not model_class(model_name).personalized:
        return None
    if USER not in events:
        raise DataError(f"{model_name} is a personalized model: the training data needs user ids "
                        "(a UserId column, or name it with --user-key)")
    return Vocabulary.fit(events[USER])


def train_dataset(events, item_vocab, config, user_vocab=None, user_parallel=False):
    """Parallel steps with popularity-sampled negatives, ready for `model.fit`.

    Session-parallel by default; with `user_vocab` every step also has the `user` of each slot, and
    `user_parallel` lays users out on the slots (HRNN) with `user_start` flags.
    """
    order = order_sessions(events, item_vocab, user_vocab)
    if order.n_pairs == 0:
        raise DataError("the training data has no session with 2 or more events")
    if user_parallel:
        batches = user_parallel_batches(order, config["batch_size"])
    else:
        batches = session_parallel_batches(order, config["batch_size"], with_users=user_vocab is not None)
    dataset = session_parallel_dataset(batches)
    return with_negatives(dataset, item_counts(events, item_vocab), config["n_sample"], config["sample_alpha"],
                          seed=config["seed"], rows_needed=batches.n_steps)


def make_optimizer(config):
    return get_optimizer(config["optimizer"], config["learning_rate"], config["momentum"])


class EpochLog(keras.callbacks.Callback):
    """Records loss, seconds and training events/s per epoch (and prints them when asked)."""

    def __init__(self, n_pairs, verbose=False):
        super().__init__()
        self.n_pairs, self.verbose, self.rows = n_pairs, verbose, []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        row = {"epoch": epoch + 1, "loss": float(logs["loss"]), "seconds": round(seconds, 3),
               "events_per_s": round(self.n_pairs / seconds, 1)}
        self.rows.append(row)
        if not np.isfinite(row["loss"]):
            self.model.stop_training = True


def fit(model_name, events, config, verbose=1, callbacks=(), user_vocab=None):
    """Builds the vocabulary, the pipeline and the model from `config`, and trains it.

    `user_vocab` (personalized models): the users; None fits it on `events` as `user_vocabulary`
    does (the same vocabulary, to save with the model).

    Returns:
        (model, item vocabulary, per-epoch log rows).
    """
    from zoo.registry import get_model, model_class

    cls = model_class(model_name)
    keras.utils.set_random_seed(config["seed"])
    vocab = Vocabulary.fit(events[ITEM])
    options = presets.model_options(config, cls.extra_options)
    if cls.personalized:
        user_vocab = user_vocabulary(events, model_name) if user_vocab is None else user_vocab
        options["n_users"] = len(user_vocab)
    dataset = train_dataset(events, vocab, config, user_vocab if cls.personalized else None, cls.user_parallel)
    model = get_model(model_name, n_items=len(vocab), **options)
    model.compile(optimizer=make_optimizer(config), steps_per_execution=config["steps_per_execution"])
    log = EpochLog(n_pairs=int(len(events) - events["SessionId"].nunique()))
    model.fit(dataset, epochs=config["epochs"], verbose=verbose, callbacks=[log, *callbacks], shuffle=False)
    if log.rows and not np.isfinite(log.rows[-1]["loss"]):
        raise DataError(f"training diverged: the loss became {log.rows[-1]['loss']} in epoch {log.rows[-1]['epoch']}; "
                        "lower learning_rate")
    return model, vocab, log.rows
