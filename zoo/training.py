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

from zoo import checkpoints, presets
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


def train_dataset(events, item_vocab, config, user_vocab=None, user_parallel=False, first_epoch=0):
    """Parallel steps with popularity-sampled negatives, ready for `model.fit`.

    Session-parallel by default; with `user_vocab` every step also has the `user` of each slot, and
    `user_parallel` lays users out on the slots (HRNN) with `user_start` flags. Each pass over the
    dataset is one epoch; `first_epoch` numbers the first pass (its negative samples), for resuming.
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
                          seed=config["seed"], rows_needed=batches.n_steps, first_pass=first_epoch)


def check_options(model_name, config):
    """Raises the ConfigError the model would raise for `config`, before any data is read (it builds a
    throwaway one-item model)."""
    from zoo.registry import get_model, model_class

    cls = model_class(model_name)
    users = {"n_users": 1} if cls.personalized else {}
    get_model(model_name, n_items=1, **presets.model_options(config, cls.extra_options), **users)


def make_optimizer(config):
    return get_optimizer(config["optimizer"], config["learning_rate"], config["momentum"])


class EpochLog(keras.callbacks.Callback):
    """Records loss, seconds and training events/s per epoch; stops training at a non-finite loss.

    `diverged` is then {"epoch", "step", "loss"} of the first non-finite running loss.
    """

    def __init__(self, n_pairs, step_offset=0):
        super().__init__()
        self.n_pairs, self.step_offset, self.rows, self.diverged = n_pairs, step_offset, [], None

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self.epoch = time.perf_counter(), epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = float(logs["loss"]) if logs and "loss" in logs else 0.0
        if not np.isfinite(loss) and self.diverged is None:
            self.diverged = {"epoch": self.epoch + 1, "step": self.step_offset + batch + 1, "loss": loss}
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        self.step_offset = 0
        if self.diverged is None:
            self.rows.append({"epoch": epoch + 1, "loss": float(logs["loss"]), "seconds": round(seconds, 3),
                              "events_per_s": round(self.n_pairs / seconds, 1),
                              **{k: float(v) for k, v in logs.items() if k.startswith("val_")}})


class ValidationMetrics(keras.callbacks.Callback):
    """After every epoch, full-ranking Recall@K / MRR@K on validation events (`zoo.evaluate.evaluate`),
    added to the epoch's logs as `val_recall@K`, `val_mrr@K` (so EpochLog and TensorBoard record them).

    It must come before the callbacks that read those logs.
    """

    def __init__(self, events, item_vocab, cutoffs=(20,)):
        super().__init__()
        self.events, self.item_vocab, self.cutoffs = events, item_vocab, cutoffs

    def on_epoch_end(self, epoch, logs=None):
        from zoo.evaluate import evaluate

        metrics = evaluate(self.model, self.events, self.item_vocab, cutoffs=self.cutoffs)
        if logs is not None:
            logs.update({f"val_{k}": metrics[k] for k in metrics if "@" in k})


def fit(model_name, events, config, verbose=1, callbacks=(), user_vocab=None, checkpoint_dir=None,
        checkpoint_every=0, resume=False, validation=None):
    """Builds the vocabulary, the pipeline and the model from `config`, and trains it.

    Args:
        model_name: a name of `zoo.list_models()`.
        events: the training event frame.
        config: a resolved configuration (`zoo.presets.resolve`).
        verbose: Keras progress (0: none, 1: bar, 2: a line an epoch).
        callbacks: more Keras callbacks.
        user_vocab: the users of a personalized model; None fits it on `events`.
        checkpoint_dir: write a checkpoint there after every epoch (see `zoo.checkpoints`).
        checkpoint_every: also checkpoint every this many steps.
        resume: continue from the checkpoint in `checkpoint_dir` (same data and configuration).
        validation: an event frame to evaluate after every epoch (session protocol, Recall@20 and
            MRR@20 as `val_recall@20`, `val_mrr@20` in the log rows and the Keras logs).

    Returns:
        (model, item vocabulary, per-epoch log rows).

    Raises:
        DataError: the loss became non-finite (training stops; the last good checkpoint stays).
    """
    from zoo.registry import get_model, model_class

    cls = model_class(model_name)
    keras.utils.set_random_seed(config["seed"])
    vocab = Vocabulary.fit(events[ITEM])
    options = presets.model_options(config, cls.extra_options)
    if cls.personalized:
        user_vocab = user_vocabulary(events, model_name) if user_vocab is None else user_vocab
        options["n_users"] = len(user_vocab)
    log = EpochLog(n_pairs=int(len(events) - events["SessionId"].nunique()))
    first_epoch, skip = 0, 0
    if resume:
        model, state = checkpoints.load(checkpoint_dir, config)
        first_epoch, skip, log.rows, log.step_offset = state["epoch"], state["step"], state["log"], state["step"]
    else:
        model = get_model(model_name, n_items=len(vocab), **options)
        model.compile(optimizer=make_optimizer(config), steps_per_execution=config["steps_per_execution"])
    dataset = train_dataset(events, vocab, config, user_vocab if cls.personalized else None, cls.user_parallel,
                            first_epoch=first_epoch)
    saver = [checkpoints.Checkpoint(checkpoint_dir, config, log, checkpoint_every, skip)] if checkpoint_dir else []
    validator = [ValidationMetrics(validation, vocab)] if validation is not None else []
    callbacks = [*validator, log, *saver, *callbacks]
    if skip and first_epoch < config["epochs"]:  # finish the interrupted epoch first
        model.fit(dataset.skip(skip), initial_epoch=first_epoch, epochs=first_epoch + 1, verbose=verbose,
                  callbacks=callbacks, shuffle=False)
        first_epoch += 1
    if first_epoch < config["epochs"] and log.diverged is None:
        model.fit(dataset, initial_epoch=first_epoch, epochs=config["epochs"], verbose=verbose,
                  callbacks=callbacks, shuffle=False)
    if log.diverged is not None:
        kept = f"; the last good checkpoint is kept in {checkpoint_dir}" if checkpoint_dir else ""
        raise DataError(f"training stopped: the loss became {log.diverged['loss']} in epoch {log.diverged['epoch']}, "
                        f"step {log.diverged['step']}{kept}; lower learning_rate")
    return model, vocab, log.rows
