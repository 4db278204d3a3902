"""tf.data input pipelines over parallel mini-batches: one element per step of B slots.

An element is `(features, target)`: `features` maps "item" (int32 [B]), "reset" (bool [B]) and
"mask" (bool [B]) and, for user-parallel batches, "user" (int32 [B]) and "user_start" (bool [B]);
`target` is the int32 [B] next item. Shapes are static. Datasets can be iterated again for every
epoch.
"""
import itertools

import tensorflow as tf

from .batches import max_steps, order_sessions, session_parallel_batches, user_parallel_batches

_FEATURES = {"item": "items", "reset": "reset", "mask": "mask", "user": "users", "user_start": "user_start"}


def _arrays(batches):
    """(features, targets) of the [T, B] arrays of `batches`, the user fields only where present."""
    features = {name: getattr(batches, field) for name, field in _FEATURES.items()}
    return {name: a for name, a in features.items() if a is not None}, batches.targets


def session_parallel_dataset(batches):
    """The steps of fixed parallel batches as a tf.data.Dataset (from_tensor_slices, prefetched).

    Args:
        batches: ParallelBatches (session- or user-parallel).

    Returns:
        tf.data.Dataset of `(features, target)` per step, the same steps every epoch.
    """
    return tf.data.Dataset.from_tensor_slices(_arrays(batches)).prefetch(tf.data.AUTOTUNE)


def make_dataset(events, item_vocab, batch_size, shuffle_seed=None, user_parallel=False, user_vocab=None):
    """Orders an event frame, lays it out in parallel batches and wraps them in tf.data.

    Args:
        events: canonical event frame (`SessionId`, `ItemId`, `Time`, and `UserId` if
            `user_parallel`); every item must be in `item_vocab` (see `batches.order_sessions`).
        item_vocab: Vocabulary of the items.
        batch_size: number of slots B.
        shuffle_seed: None: sessions (users) play in time order, the same every epoch. An int: they
            are shuffled anew each epoch, epoch e (counting the iterations of the returned dataset
            from 0) with the seed (shuffle_seed, e), so runs are reproducible. As the layout of a
            shuffle takes more or fewer steps, every epoch is padded with idle steps (mask False)
            to `batches.max_steps`, the dataset's known cardinality: Keras' `fit` fixes the epoch
            length at the first epoch's and would cut a longer epoch short.
        user_parallel: True for HRNN's user-parallel batches (needs `user_vocab`).
        user_vocab: Vocabulary of the users, for `user_parallel`.

    Returns:
        tf.data.Dataset of `(features, target)` per step.

    Raises:
        DataError: see `batches.order_sessions`; user-parallel batches without a user vocabulary.
    """
    order = order_sessions(events, item_vocab, user_vocab if user_parallel else None)
    build = user_parallel_batches if user_parallel else session_parallel_batches
    if shuffle_seed is None:
        return session_parallel_dataset(build(order, batch_size))
    first = [build(order, batch_size, shuffle_seed=(shuffle_seed, 0))]  # built now: errors show now
    n_steps = max_steps(order, batch_size, by_user=user_parallel)
    later = itertools.count(1)

    def epoch():
        batches = first.pop() if first else build(order, batch_size, shuffle_seed=(shuffle_seed, next(later)))
        yield _arrays(batches.padded(n_steps))

    signature = _signature(n_steps, batch_size, user_parallel)
    dataset = tf.data.Dataset.from_generator(epoch, output_signature=signature).unbatch()
    return dataset.apply(tf.data.experimental.assert_cardinality(n_steps)).prefetch(tf.data.AUTOTUNE)


def _signature(n_steps, batch_size, users):
    """The TensorSpecs of one epoch's `_arrays`: [n_steps, batch_size]."""

    def spec(dtype):
        return tf.TensorSpec([n_steps, batch_size], dtype)

    features = {"item": spec(tf.int32), "reset": spec(tf.bool), "mask": spec(tf.bool)}
    if users:
        features |= {"user": spec(tf.int32), "user_start": spec(tf.bool)}
    return features, spec(tf.int32)
