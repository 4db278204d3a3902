"""The training input: item popularity, the user vocabulary, and the session-parallel (or user-parallel) tf.data pipeline with sampled negatives."""
import numpy as np

from zoo.datasets.batches import order_sessions, session_parallel_batches, user_parallel_batches
from zoo.datasets.io import ITEM, SESSION, USER
from zoo.datasets.pipeline import session_parallel_dataset
from zoo.datasets.sampling import with_negatives
from zoo.datasets.vocab import Vocabulary
from zoo.errors import DataError


def item_counts(events, item_vocab):
    """Training event count of every item index (the popularity behind sampling and logQ)."""
    return np.bincount(item_vocab.encode(events[ITEM]), minlength=len(item_vocab))


def user_vocabulary(events, model_name):
    """The user vocabulary a personalized model trains with (None for the other models).

    Raises:
        DataError: the model is personalized and `events` has no user ids.
    """
    from zoo.models.registry import model_class

    if not model_class(model_name).personalized:
        return None
    if USER not in events:
        raise DataError(f"{model_name} is a personalized model: the training data needs user ids "
                        "(a UserId column, or name it with --user-key)")
    return Vocabulary.fit(events[USER])


def training_sequences(events, model_class):
    """The sequences a model trains on: the sessions, or each user's sessions joined into one (a model
    that `concatenates_sessions`, e.g. `zoo.models.gru4rec_concat`: the session id becomes the user id)."""
    if getattr(model_class, "concatenates_sessions", False):
        return events.assign(**{SESSION: events[USER]})
    return events


def train_dataset(events, item_vocab, config, user_vocab=None, user_parallel=False, first_epoch=0):
    """Parallel steps with popularity-sampled negatives, ready for `model.fit`.

    Session-parallel by default; with `user_vocab` every step also has the `user` of each slot, and
    `user_parallel` lays users out on the slots (HRNN) with `user_start` flags. Each pass over the
    dataset is one epoch; `first_epoch` numbers the first pass (its negative samples), for resuming.
    """
    order = order_sessions(events, item_vocab, user_vocab).require_pairs()
    if user_parallel:
        batches = user_parallel_batches(order, config["batch_size"])
    else:
        batches = session_parallel_batches(order, config["batch_size"], with_users=user_vocab is not None)
    dataset = session_parallel_dataset(batches)
    return with_negatives(dataset, item_counts(events, item_vocab), config["n_sample"], config["sample_alpha"],
                          seed=config["seed"], rows_needed=batches.n_steps, first_pass=first_epoch)
