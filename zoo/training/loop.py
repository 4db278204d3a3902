"""Training from an event frame: the pipeline, the model, the optimizer and `model.fit`, all from one config.

Example:

    import zoo
    from zoo.datasets import load_events
    from zoo.datasets.vocab import Vocabulary

    train = load_events("train.tsv")
    config = zoo.training.presets.resolve("rsc15-xe-shared", epochs=1)
    vocab = Vocabulary.fit(train.ItemId)
    dataset = zoo.training.train_dataset(train, vocab, config)
    model = zoo.get_model("gru4rec", n_items=len(vocab), **zoo.training.presets.model_options(config))
    model.compile(optimizer=zoo.training.make_optimizer(config), steps_per_execution=64)
    model.fit(dataset, epochs=config["epochs"])

Personalized models (`hrnn`, `user_gru`) also need the user vocabulary (`user_vocabulary`): HRNN
trains on user-parallel batches, the user-gated GRU on session-parallel batches with the user of
every slot.
"""

import keras

from zoo.datasets.io import ITEM
from zoo.datasets.vocab import Vocabulary
from zoo.errors import DataError
from zoo.optimization.optimizers import get_optimizer
from zoo.training import checkpoints, presets
from zoo.training.callbacks import EpochLog, EpochProgbar, ValidationMetrics
from zoo.training.data import train_dataset, training_sequences, user_vocabulary


def check_options(model_name, config):
    """Raises the ConfigError the model would raise for `config`, before any data is read (it builds a
    throwaway one-item model)."""
    from zoo.models.registry import get_model, model_class

    cls = model_class(model_name)
    users = {"n_users": 1} if cls.personalized else {}
    get_model(model_name, n_items=1, **presets.model_options(config, cls.extra_options), **users)


def make_optimizer(config):
    return get_optimizer(config["optimizer"], config["learning_rate"], config["momentum"])






def fit(model_name, events, config, verbose=1, callbacks=(), user_vocab=None, checkpoint_dir=None,
        checkpoint_every=0, resume=False, validation=None):
    """Builds the vocabulary, the pipeline and the model from `config`, and trains it.

    Args:
        model_name: a name of `zoo.list_models()`.
        events: the training event frame.
        config: a resolved configuration (`zoo.training.presets.resolve`).
        verbose: Keras progress (0: none, 1: bar, 2: a line an epoch).
        callbacks: more Keras callbacks.
        user_vocab: the users of a personalized model; None fits it on `events`.
        checkpoint_dir: write a checkpoint there after every epoch (see `zoo.training.checkpoints`).
        checkpoint_every: also checkpoint every this many steps.
        resume: continue from the checkpoint in `checkpoint_dir` (same data and configuration).
        validation: an event frame to evaluate after every epoch (session protocol, Recall@20 and
            MRR@20 as `val_recall@20`, `val_mrr@20` in the log rows and the Keras logs).

    Returns:
        (model, item vocabulary, per-epoch log rows).

    Raises:
        DataError: the loss became non-finite (training stops; the last good checkpoint stays).
    """
    from zoo.models.registry import get_model, model_class

    cls = model_class(model_name)
    keras.utils.set_random_seed(config["seed"])
    vocab = Vocabulary.fit(events[ITEM])
    options = presets.model_options(config, cls.extra_options)
    if cls.personalized:
        user_vocab = user_vocabulary(events, model_name) if user_vocab is None else user_vocab
        options["n_users"] = len(user_vocab)
    first_epoch, skip = 0, 0
    if resume:
        model, state = checkpoints.load(checkpoint_dir, config)
        first_epoch, skip = state["epoch"], state["step"]
    else:
        model = get_model(model_name, n_items=len(vocab), **options)
        model.compile(optimizer=make_optimizer(config), steps_per_execution=config["steps_per_execution"])
    events = training_sequences(events, cls)
    dataset = train_dataset(events, vocab, config, user_vocab if cls.personalized else None, cls.user_parallel,
                            first_epoch=first_epoch)
    steps = int(dataset.cardinality())  # known for the pipelines of train_dataset
    log = EpochLog(int(len(events) - events["SessionId"].nunique()), steps if steps >= 0 else float("inf"), skip)
    log.rows = state["log"] if resume else []
    saver = [checkpoints.Checkpoint(checkpoint_dir, config, log, checkpoint_every, skip)] if checkpoint_dir else []
    validator = [ValidationMetrics(validation, vocab)] if validation is not None else []
    progress = [EpochProgbar(log)] if verbose else []
    callbacks = [*validator, log, keras.callbacks.TerminateOnNaN(), *saver, *progress, *callbacks]
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
