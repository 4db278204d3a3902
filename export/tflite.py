"""TFLite export: batch-1 signatures with built-in ops only, in float32, float16 and dynamic-range int8.

    recommend  item_ids [1, T] string (pad "")  ->  item_ids [1, K] string, scores [1, K]
    step       item_id [1] string, state [1, S] float32  ->  state [1, S], item_ids [1, K], scores [1, K]

K is the export's max_k (the device keeps the first k it needs). The item id lookup is in the model
(TFLite's built-in hash table); unknown ids are skipped, and a history of no known id ranks by the
item bias alone (no error on device). The weights are traced as constants (TFLite does not initialize
resource variables read inside the recurrent loop) and converted from a SavedModel of just these
signatures, the converter's supported path.
"""
import os
import tempfile

import tensorflow as tf

from .signatures import Signatures

VARIANTS = {"model.tflite": None, "model_fp16.tflite": "float16", "model_int8.tflite": "int8"}
SIGNATURE_KEYS = ["recommend", "step"]


def tflite_module(model, item_ids, max_k=100):
    """The `Signatures` module with batch-1 `recommend` and `step` functions, weights as constants."""
    sig = Signatures(model, item_ids, max_k, constant_weights=True)

    @tf.function(input_signature=[tf.TensorSpec([1, None], tf.string, name="item_ids")])
    def recommend(item_ids):
        with sig.weights():
            return sig.recommend(sig.lookup(item_ids), sig.max_k)

    @tf.function(input_signature=[tf.TensorSpec([1], tf.string, name="item_id"),
                                  tf.TensorSpec([1, sig.state_size], tf.float32, name="state")])
    def step(item_id, state):
        with sig.weights():
            return sig.step(sig.lookup(item_id), state, sig.max_k)

    sig.recommend_fn, sig.step_fn = recommend, step
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
    return converter.convert()


def write_tflite(model, item_ids, out_dir, max_k=100):
    """Writes the three TFLite variants of `VARIANTS` into `out_dir` (which must exist)."""
    module = tflite_module(model, item_ids, max_k)
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures={"recommend": module.recommend_fn, "step": module.step_fn})
        for name, quantization in VARIANTS.items():
            with open(os.path.join(out_dir, name), "wb") as f:
                f.write(convert(tmp, quantization))
