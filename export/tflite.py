"""TFLite export: batch-1 signatures with built-in ops only, in float32, float16 and dynamic-range int8.

    recommend  item_ids [1, T] string (pad "")  ->  item_ids [1, K] string, scores [1, K]
    step       item_id [1] string, state [1, S] float32  ->  state [1, S], item_ids [1, K], scores [1, K]

Personalized models also take `user_id` [1] (and HRNN `user_state` [1, S] or `new_session` [1]), as
the SavedModel's signatures. K is the export's max_k (the device keeps the first k it needs). The item id lookup is in the model
(TFLite's built-in hash table); unknown ids are skipped, and a history of no known id ranks by the
item bias alone (no error on device). The weights are traced as constants (TFLite does not initialize
resource variables read inside the recurrent loop) and converted from a SavedModel of just these
signatures, the converter's supported path.

Known issue (ai-edge-litert 2.3.0): the int8 model's `step` fails to prepare under the XNNPACK
delegate that LiteRT applies by default ("failed to create XNNPACK Value for tensor -1"); run it with
the default delegates off (`Interpreter(..., experimental_op_resolver_type=
OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)`). Its `recommend`, and both float models, run with
XNNPACK.
"""
import os
import tempfile

import tensorflow as tf

from .signatures import Signatures, function

VARIANTS = {"model.tflite": None, "model_fp16.tflite": "float16", "model_int8.tflite": "int8"}
SIGNATURE_KEYS = ["recommend", "step"]


def tflite_module(model, item_ids, max_k=100, user_ids=None):
    """The `Signatures` module with batch-1 `recommend_fn` and `step_fn`, weights as constants."""
    sig = Signatures(model, item_ids, max_k, constant_weights=True, user_ids=user_ids)

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
