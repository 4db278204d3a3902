"""TF Serving's REST API over a `Servable`.

    GET  /v1/models/NAME[/versions/V]            status of the loaded version
    GET  /v1/models/NAME[/versions/V]/metadata   the SignatureDefs
    POST /v1/models/NAME[/versions/V]:predict    {"signature_name": ..., "instances": [...]} (row format,
                                                 answer "predictions") or {"inputs": ...} (columnar,
                                                 answer "outputs"); binary strings as {"b64": ...}

Errors answer {"error": message} with 400 (bad request), 404 (unknown model, version or path) or 500.
"""
import base64
import http.server
import json
import re

import numpy as np
import tensorflow as tf
from google.protobuf import json_format

from .servable import ServingError

PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?(/metadata|:predict)?$")
HTTP_STATUS = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400, "NOT_FOUND": 404,
               "UNIMPLEMENTED": 501}


def _bad(message):
    return ServingError("INVALID_ARGUMENT", message)


def _leaf(value, dtype, name):
    if dtype == tf.string:
        if isinstance(value, str):
            return value.encode()
        if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
            return base64.b64decode(value["b64"])
    elif dtype == tf.bool:
        if isinstance(value, bool):
            return value
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and (dtype.is_floating or isinstance(value, int)):
        return value
    raise _bad(f"input {name!r} must hold {dtype.name} values, got {json.dumps(value)[:40]}")


def _flatten(value, dtype, name):
    """A nested JSON list -> (shape, flat leaves); the lists must be rectangular."""
    if not isinstance(value, list):
        return (), [_leaf(value, dtype, name)]
    parts = [_flatten(v, dtype, name) for v in value]
    shapes = {shape for shape, _ in parts}
    if len(shapes) > 1:
        raise _bad(f"input {name!r} is not rectangular: its lists differ in length")
    return (len(value), *(shapes.pop() if shapes else ())), [leaf for _, leaves in parts for leaf in leaves]


def to_array(value, info, name):
    """A JSON value -> NumPy array of the dtype of the signature input `info`."""
    dtype = tf.dtypes.as_dtype(info.dtype)
    shape, leaves = _flatten(value, dtype, name)
    try:
        return np.array(leaves, dtype=object if dtype == tf.string else dtype.as_numpy_dtype).reshape(shape)
    except OverflowError:
        raise _bad(f"input {name!r} holds a value out of the range of {dtype.name}") from None


def _json_value(array):
    if array.dtype.kind == "O":
        def text(b):
            try:
                return b.decode()
            except UnicodeDecodeError:
                return {"b64": base64.b64encode(b).decode()}
        return np.vectorize(text, otypes=[object])(array).tolist() if array.size else array.tolist()
    return array.tolist()


def parse_body(body):
    """The request body -> a JSON object."""
    try:
        request = json.loads(body)
    except ValueError as e:
        raise _bad(f"the body is not JSON: {e}") from None
    if not isinstance(request, dict):
        raise _bad("the body must be a JSON object")
    return request


def parse_predict(request, signature):
    """The request object -> (inputs name -> array, row format?)."""
    if ("instances" in request) == ("inputs" in request):
        raise _bad("the body must be an object with exactly one of 'instances' (row format) or 'inputs' (columnar)")
    names = list(signature.inputs)
    if "inputs" in request:
        columns = request["inputs"]
        if not isinstance(columns, dict):
            if len(names) != 1:
                raise _bad(f"'inputs' must be an object naming the inputs {names}")
            columns = {names[0]: columns}
        return {n: to_array(v, signature.inputs[n], n) for n, v in columns.items() if _known(n, signature)}, False
    rows = request["instances"]
    if not isinstance(rows, list) or not rows:
        raise _bad("'instances' must be a non-empty list")
    if not all(isinstance(r, dict) for r in rows):
        if len(names) != 1:
            raise _bad(f"each instance must be an object naming the inputs {names}")
        rows = [{names[0]: r} for r in rows]
    keys = set(rows[0])
    if any(set(r) != keys for r in rows):
        raise _bad("every instance must name the same inputs")
    return {n: to_array([r[n] for r in rows], signature.inputs[n], n) for n in keys if _known(n, signature)}, True


def _known(name, signature):
    if name not in signature.inputs:
        raise _bad(f"unknown input {name!r}; the signature takes {sorted(signature.inputs)}")
    return True


def format_predict(outputs, rows):
    """Outputs -> the answer object of the row ("predictions") or columnar ("outputs") format."""
    values = {name: _json_value(np.asarray(v)) for name, v in outputs.items()}
    if not rows:
        return {"outputs": values if len(values) > 1 else next(iter(values.values()))}
    batch = {len(v) if isinstance(v, list) else -1 for v in values.values()}
    if len(batch) != 1 or -1 in batch:
        raise _bad("the row format needs every output to have the same batch size; use 'inputs' (columnar)")
    if len(values) == 1:
        return {"predictions": next(iter(values.values()))}
    return {"predictions": [{n: v[i] for n, v in values.items()} for i in range(batch.pop())]}


def make_handler(servable):
    """The `BaseHTTPRequestHandler` class serving `servable`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # no line per request on stderr
            pass

        def _send(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self, method):
            match = PATH.match(self.path)
            try:
                if not match or (method == "POST") != (match.group(3) == ":predict"):
                    raise ServingError("NOT_FOUND", f"no such endpoint: {method} {self.path}")
                name, version, action = match.groups()
                servable.check_spec(name, version)
                if method == "POST":
                    length = int(self.headers.get("Content-Length") or 0)
                    return self._send(200, self._predict(self.rfile.read(length)))
                return self._send(200, self._metadata() if action == "/metadata" else self._status())
            except ServingError as e:
                return self._send(HTTP_STATUS.get(e.code, 500), {"error": e.message})
            except Exception as e:  # a bug must not take the server down; the client sees it
                return self._send(500, {"error": f"{type(e).__name__}: {e}"})

        def _predict(self, body):
            request = parse_body(body)
            signature_name = request.get("signature_name") or "serving_default"
            if not isinstance(signature_name, str):
                raise _bad("'signature_name' must be a string")
            signature = servable.signature(signature_name)
            inputs, rows = parse_predict(request, signature)
            return format_predict(servable.predict(signature_name, inputs), rows)

        def _status(self):
            return {"model_version_status": [{"version": str(servable.version), "state": "AVAILABLE",
                                              "status": {"error_code": "OK", "error_message": ""}}]}

        def _metadata(self):
            signatures = {name: json_format.MessageToDict(s, preserving_proto_field_name=True)
                          for name, s in servable.signatures.items()}
            return {"model_spec": {"name": servable.name, "signature_name": "", "version": str(servable.version)},
                    "metadata": {"signature_def": {"signature_def": signatures}}}

        def do_GET(self):  # noqa: N802
            self._route("GET")

        def do_POST(self):  # noqa: N802
            self._route("POST")

    return Handler
