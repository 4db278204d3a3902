"""SavedModel for TF Serving: signatures `serving_default`, `step` and `encode`, any batch size.

    serving_default  item_ids [B, T] string (pad ""), k [] int32 (default set at export),
                     exclude_history [] bool (default false)  ->  item_ids [B, k] string, scores [B, k]
                     (with exclude_history, a row with fewer than k items left ends in pads: id "",
                     score `signatures.PAD_SCORE`, the lowest float32)
    step             item_id [B] string, state [B, S] float32 (zeros: new session), k [] int32
                     ->  state [B, S], item_ids [B, k], scores [B, k]
    encode           item_ids [B, T] string  ->  session_vector [B, H], query_vector [B, H + 1],
                     state [B, S]

Personalized models also take `user_id` [B] string in each, and HRNN `user_state` [B, S] float32
(serving_default, encode) or `new_session` [B] bool (step); see `signatures`.

A catalogue of more than `signatures.CHUNK_ITEMS` (2^17) items is scored and ranked in chunks of
that many items inside the graph (a `tf.while_loop`; `Signatures.chunked_top_k`), with the same
answers as the whole score matrix.

Unknown ids are skipped (in `step`: the state is returned unchanged). Requests a user can get wrong
fail inside the graph with INVALID_ARGUMENT: k outside 1..max_k, a history with no known item, a
state whose batch differs from the items'.
"""
import tensorflow as tf

from .signatures import CHUNK_ITEMS, Signatures, function

HISTORY = tf.TensorSpec([None, None], tf.string, name="item_ids")
K = tf.TensorSpec([], tf.int32, name="k")
EXCLUDE = tf.TensorSpec([], tf.bool, name="exclude_history")


def _require(condition, message, value):
    """`value`, computed only after `condition` held (else INVALID_ARGUMENT with `message`)."""
    with tf.control_dependencies([tf.debugging.Assert(condition, [message])]):
        return tf.identity(value)


def serving_module(model, item_ids, max_k=100, default_k=10, user_ids=None, chunk_items=CHUNK_ITEMS):
    """The `Signatures` module with the TF Serving functions as `serving_default`, `step_fn`, `encode_fn`.

    A catalogue of more than `chunk_items` items is scored and ranked that many items at a time
    (`Signatures.chunked_top_k`: the same answers, in batch x `chunk_items` memory); None: never.
    """
    sig = Signatures(model, item_ids, max_k, user_ids=user_ids, chunk_items=chunk_items)
    sig.default_k = min(default_k, sig.max_k)
    state_spec = tf.TensorSpec([None, sig.state_size], tf.float32, name="state")
    defaults = {"k": sig.default_k, "exclude_history": False}

    def checked_k(k):
        return _require(tf.logical_and(k >= 1, k <= sig.max_k), f"k must be between 1 and {sig.max_k}", k)

    def known_history(item_ids):
        history = sig.lookup(item_ids)
        return _require(tf.reduce_all(tf.reduce_any(history >= 0, axis=1)), "every history needs at least one "
                        "known item id (a row is empty, padding or unknown ids only)", history)

    def serving_default(item_ids, k, exclude_history, **user):
        history = known_history(item_ids)
        with sig.weights():
            return sig.recommend(history, checked_k(k), exclude_history, **user)

    def step(item_id, state, k, **user):
        state = _require(tf.equal(tf.shape(state)[0], tf.shape(item_id)[0]),
                         "state and item_id must have the same batch size", state)
        with sig.weights():
            return sig.step(sig.lookup(item_id), state, checked_k(k), **user)

    def encode(item_ids, **user):
        with sig.weights():
            return sig.query(known_history(item_ids), **user)

    sig.serving_default = function(serving_default, [HISTORY, *sig.user_specs(), K, EXCLUDE], defaults)
    sig.step_fn = function(step, [tf.TensorSpec([None], tf.string, name="item_id"), state_spec,
                                  *sig.user_specs(step=True), K], defaults)
    sig.encode_fn = function(encode, [HISTORY, *sig.user_specs()])
    return sig


def save(module, path):
    """Writes the module as a SavedModel at `path` (tag "serve") with its three signatures."""
    signatures = {"serving_default": module.serving_default, "step": module.step_fn, "encode": module.encode_fn}
    tf.saved_model.save(module, path, signatures=signatures)
