"""TFLite export: batch-1 signatures with built-in ops only, in float32, float16 and dynamic-range int8.

    recommend  item_ids [1, T] string (pad "")  ->  item_ids [1, K] string, scores [1, K]
    step       item_id [1] string, state [1, S] float32  ->  state [1, S], item_ids [1, K], scores [1, K]

Personalized models also take `user_id` [1] (and HRNN `user_state` [1, S] or `new_session` [1]), as
the SavedModel's signatures. K is the export's max_k (the device keeps the first k it needs). The item id lookup is in the model
(TFLite's built-in hash table); unknown ids are skipped, and a history of no known id ranks by the
item bias alone (no error on device). They are converted from a SavedModel of just these signatures,
with the weights as variables, which the converter freezes into the flatbuffer's constants (its
supported path; resource variables are turned off, so a variable left unfrozen fails the conversion
instead of reaching the device uninitialized). Traced as constants instead, every signature's graph
carried its own copy of every weight: saving and converting those graphs took about 25 times the
model's size in memory (a 12 GB peak for GRU4Rec with 1M items of 64 units, a 283 MB float32 file).
Now the converter's own work (TensorFlow's MLIR conversion) takes about 9 times the file at its peak,
and the whole `zoo export` of that model peaks at 4.4 GB, 1.7 GB of it TensorFlow and the loaded run.

The float32 flatbuffer holds every weight and the id strings, and a flatbuffer cannot exceed 2 GB:
`check_size` refuses a larger model before any work (`estimated_size`). The top-k runs over the whole
score row: batch 1 makes it 4 bytes per item, not worth the chunking the SavedModel does.

Known issue (ai-edge-litert 2.3.0): the int8 model's `step` fails to prepare under the XNNPACK
delegate that LiteRT applies by default ("failed to create XNNPACK Value for tensor -1"); run it with
the default delegates off (`Interpreter(..., experimental_op_resolver_type=
OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)`). Its `recommend`, and both float models, run with
XNNPACK.
"""
import os
import tempfile

import numpy as np
import tensorflow as tf

from zoo.errors import UserError

from .signatures import Signatures, function

VARIANTS = {"model.tflite": None, "model_fp16.tflite": "float16", "model_int8.tflite": "int8"}
SIGNATURE_KEYS = ["recommend", "step"]
FLATBUFFER_LIMIT = 2 ** 31 - 1  # bytes: a flatbuffer's offsets are signed 32-bit


def estimated_size(model, item_ids, user_ids=None):
    """Bytes of the float32 flatbuffer, about: 4 per weight the signatures read (every variable but
    the training slots' states), and per id its string, a 4-byte string offset and the lookup's int64
    value (the lookup and its inverse share the strings). GRU4Rec with 1M items of 64 units and ids
    `item-0`..`item-999999`: 282,987,962 estimated, 283,007,468 written."""
    slots = {id(v) for v in getattr(model, "slot_states", [])}
    weights = sum(4 * int(np.prod(v.shape)) for v in model.variables if id(v) not in slots)
    return weights + sum(len(i.encode()) + 12 for ids in (item_ids, user_ids or ()) for i in ids)


def check_size(model, item_ids, user_ids=None):
    """Raises UserError (one line) when the float32 flatbuffer would exceed `FLATBUFFER_LIMIT`."""
    size = estimated_size(model, item_ids, user_ids)
    if size > FLATBUFFER_LIMIT:
        raise UserError(f"the TFLite model would be about {size / 1e6:,.0f} MB ({model.n_items:,} items), over the "
                        f"{FLATBUFFER_LIMIT / 1e6:,.0f} MB a TFLite flatbuffer can hold: export --format saved_model")


def tflite_module(model, item_ids, max_k=100, user_ids=None):
    """The `Signatures` module with batch-1 `recommend_fn` and `step_fn`, weights as variables (frozen by `convert`)."""
    sig = Signatures(model, item_ids, max_k, user_ids=user_ids)

    def recommend(item_ids, **user):
        with sig.weights():
            return sig.recommend(sig.lookup(item_ids), sig.max_k, **user)

    def step(item_id, state, **user):
        with sig.weights():
            return sig.step(sig.lookup(item_id), state, sig.max_k, **user)

    sig.recommend_fn = function(recommend, [tf.TensorSpec([1, None], tf.string, name="item_ids"), *sig.user_specs(1)])
    sig.step_fn = function(step, [tf.TensorSpec([1], tf.string, name="item_id"),
                                  tf.TensorSpec([1, sig.state_size], tf.float32, name="state"),
                                  *sig.user_specs(1, step=True)])
    return sig


def convert(saved_model_dir, quantization=None):
    """Converts the signatures of `saved_model_dir` with built-in ops only; returns the flatbuffer.

    Args:
        quantization: None (float32), "float16" (float16 weights) or "int8" (dynamic-range int8 weights).
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=SIGNATURE_KEYS)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.experimental_enable_resource_variables = False  # every variable frozen, or the conversion fails
    if quantization:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "int8":  # per-tensor scales: 3.4x smaller than float32 (per-channel: 1.8x) on rsc15-100k,
        converter._experimental_disable_per_channel = True  # Recall@20 -0.12% (per-channel: +0.02%)
    return converter.convert()


def interpreter(path):
    """A LiteRT interpreter of the file `path`; the int8 variant's without the default delegates (above)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if path.endswith("_int8.tflite"):
        return Interpreter(model_path=path,
                           experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    return Interpreter(model_path=path)


def write_tflite(model, item_ids, out_dir, max_k=100, user_ids=None):
    """Writes the three TFLite variants of `VARIANTS` into `out_dir` (which must exist)."""
    module = tflite_module(model, item_ids, max_k, user_ids)
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures={"recommend": module.recommend_fn, "step": module.step_fn})
        for name, quantization in VARIANTS.items():
            with open(os.path.join(out_dir, name), "wb") as f:
                f.write(convert(tmp, quantization))
