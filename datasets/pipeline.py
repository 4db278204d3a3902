"""tf.data input pipelines over parallel mini-batches: one element per step of B slots.

An element is `(features, target)`: `features` maps "item" (int32 [B]), "reset" (bool [B]) and
"mask" (bool [B]) and, for user-parallel batches, "user" (int32 [B]) and "user_start" (bool [B]);
`target` is the int32 [B] next item. Shapes are static. Datasets can be iterated again for every
epoch.
"""
import tensorflow as tf

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
