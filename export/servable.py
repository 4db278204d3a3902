"""A SavedModel loaded the way `tensorflow_model_server` loads it: SignatureDefs run in a TF1 session.

`Servable.predict` checks a request against the SignatureDef (signature name, input names, dtypes,
ranks, fixed sizes) before running it, fills in the signature's default inputs, and turns every
failure into a `ServingError` with a status code name of gRPC ("INVALID_ARGUMENT", "NOT_FOUND", ...).
"""
import contextlib
import logging
import os

import grpc
import tensorflow as tf

from zoo.errors import UserError

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"


class ServingError(Exception):
    """A request that cannot be answered: `code` is a `grpc.StatusCode` name, `message` says why."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def saved_model_base(path):
    """The folder of integer version folders: `path/saved_model` for an export directory, else `path`."""
    nested = os.path.join(path, "saved_model")
    return nested if os.path.isdir(nested) else path


def latest_version(base):
    """The highest integer version folder under `base` (TF Serving's default version policy)."""
    versions = [int(n) for n in os.listdir(base) if n.isdigit() and os.path.isdir(os.path.join(base, n))] \
        if os.path.isdir(base) else []
    if not versions:
        raise UserError(f"{base}: no SavedModel version folder (expected {base}/<integer version>/)")
    return max(versions)


def _dtype_of(value):
    return tf.string if value.dtype.kind in "OSU" else tf.dtypes.as_dtype(value.dtype)


def _check_input(name, info, value):
    expected = tf.dtypes.as_dtype(info.dtype)
    if _dtype_of(value) != expected:
        raise ServingError("INVALID_ARGUMENT", f"input {name!r} must be {expected.name}, got {_dtype_of(value).name}")
    if info.tensor_shape.unknown_rank:
        return
    dims = [d.size for d in info.tensor_shape.dim]
    if value.ndim != len(dims):
        raise ServingError("INVALID_ARGUMENT", f"input {name!r} must have rank {len(dims)}, got shape {list(value.shape)}")
    if any(d >= 0 and d != n for d, n in zip(dims, value.shape)):
        raise ServingError("INVALID_ARGUMENT", f"input {name!r} must have shape {dims} (-1: any), got {list(value.shape)}")


def _error_message(error):
    """The first line of a TensorFlow error, without the wrapping of a failed `tf.debugging.Assert`."""
    lines = [l.strip() for l in error.message.splitlines() if l.strip() and l.strip() != "Graph execution error:"]
    line = lines[0] if lines else type(error).__name__
    prefix = "assertion failed: ["
    return line[len(prefix):].rstrip("]") if line.startswith(prefix) else line


@contextlib.contextmanager
def _quiet_tf_logger():
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class Servable:
    """The latest version of the SavedModel under `path`, loaded with the tag "serve".

    Args:
        path: an export directory (with `saved_model/`) or a folder of version folders.
        name: the model name requests must give.
    """

    def __init__(self, path, name="default"):
        self.base, self.name = saved_model_base(path), name
        self.version = latest_version(self.base)
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default(), _quiet_tf_logger():  # the TF1 loader logs that it is deprecated
            meta_graph = tf.compat.v1.saved_model.loader.load(
                self.session, ["serve"], os.path.join(self.base, str(self.version)))
        self.signatures = dict(meta_graph.signature_def)

    def check_spec(self, name, version=None):
        """Raises NOT_FOUND unless `name` (and `version`, if given) are the loaded model's."""
        if name != self.name or (version is not None and int(version) != self.version):
            wanted = f"{name} version {version}" if version is not None else name
            raise ServingError("NOT_FOUND", f"Servable not found for request: {wanted} "
                                            f"(serving {self.name} version {self.version})")

    @property
    def servable_signatures(self):
        """The names of the signatures Predict runs: those whose method is `tensorflow/serving/predict`.

        The others (the SavedModel's own `__saved_model_init_op`, method "") are listed in the
        metadata, as TF Serving lists them, but a Predict request for one is INVALID_ARGUMENT.
        """
        return sorted(name for name, s in self.signatures.items() if s.method_name == PREDICT_METHOD)

    def signature(self, signature_name):
        """The SignatureDef a Predict request names (default `serving_default`).

        Raises:
            ServingError: INVALID_ARGUMENT for an unknown name or a signature that is not a Predict one.
        """
        name = signature_name or DEFAULT_SIGNATURE
        known = ", ".join(self.servable_signatures)
        if name not in self.signatures:
            raise ServingError("INVALID_ARGUMENT", f"Serving signature key {name!r} not found; known: {known}")
        signature = self.signatures[name]
        if signature.method_name != PREDICT_METHOD:
            raise ServingError("INVALID_ARGUMENT", f"signature {name!r} cannot be served (its method is "
                                                   f"{signature.method_name!r}, not {PREDICT_METHOD!r}); "
                                                   f"servable signatures: {known}")
        return signature

    def predict(self, signature_name, inputs, output_filter=()):
        """Runs a signature on `inputs` (name -> NumPy array); returns output name -> NumPy array."""
        signature = self.signature(signature_name)
        unknown = sorted(set(inputs) - set(signature.inputs))
        missing = sorted(set(signature.inputs) - set(inputs) - set(signature.defaults))
        if unknown or missing:
            raise ServingError("INVALID_ARGUMENT", f"inputs do not match the signature: unknown {unknown}, "
                                                   f"missing {missing}; expected {sorted(signature.inputs)}")
        feed = {signature.inputs[name].name: tf.make_ndarray(proto) for name, proto in signature.defaults.items()}
        for name, value in inputs.items():
            _check_input(name, signature.inputs[name], value)
            feed[signature.inputs[name].name] = value
        outputs = list(output_filter) or list(signature.outputs)
        if set(outputs) - set(signature.outputs):
            raise ServingError("INVALID_ARGUMENT", f"output_filter names unknown outputs; known: {sorted(signature.outputs)}")
        try:
            return self.session.run({name: signature.outputs[name].name for name in outputs}, feed)
        except tf.errors.OpError as e:
            raise ServingError(grpc_code_name(e.error_code), _error_message(e)) from None

    def close(self):
        self.session.close()


def grpc_code_name(tf_error_code):
    """The gRPC status code name of a TensorFlow error code (they share their numbers)."""
    for code in grpc.StatusCode:
        if code.value[0] == tf_error_code:
            return code.name
    return "INTERNAL"

