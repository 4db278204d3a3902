"""TF Serving's REST API over a `Servable`, on aiohttp's HTTP server.

    GET  /v1/models/NAME[/versions/V]            status of the loaded version
    GET  /v1/models/NAME[/versions/V]/metadata   the SignatureDefs
    POST /v1/models/NAME[/versions/V]:predict    {"signature_name": ..., "instances": [...]} (row format,
                                                 answer "predictions") or {"inputs": ...} (columnar,
                                                 answer "outputs"); binary strings as {"b64": ...}

Every answer is strict JSON (RFC 8259: no NaN or Infinity tokens); errors answer {"error": message} with
400 (bad request, INVALID_ARGUMENT), 404 (unknown model, version or path), 405 (a method other than GET
and POST), 408 (a body not received within `body_timeout`), 413 (a body over `max_body_bytes`), 503 (the
server is stopping) or 500 (a bug of the server, never a client's mistake). A non-finite float output is
written as the string "NaN", "Infinity" or "-Infinity" (protobuf's JSON mapping of float fields; TF
Serving writes the non-standard bare tokens), and a float input accepts those strings as well as numbers.

`RestServer` runs aiohttp's low-level server on an event loop of its own thread; the request work
(parsing, the TF session call, the answer's encoding) runs in a thread pool. HTTP/1.1 keep-alive is
kept after an error answer whenever the request's body was read whole; a connection with no complete
request within `idle_timeout` (from its start or its previous answer) is closed; `stop(grace)` stops
accepting, closes idle connections and lets running requests finish for up to `grace` seconds.
(aiohttp >= 3.14.4: earlier versions never time out a connection that has not sent a first request.)
"""
import asyncio
import base64
import binascii
import concurrent.futures
import json
import logging
import re
import threading

import numpy as np
import tensorflow as tf
from aiohttp import web
from google.protobuf import json_format

from .servable import ServingError

PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?(/metadata|:predict)?$")
HTTP_STATUS = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400, "NOT_FOUND": 404,
               "UNIMPLEMENTED": 501, "UNAVAILABLE": 503}
NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}

MAX_BODY_BYTES = 16 * 2 ** 20  # a larger body answers 413
IDLE_TIMEOUT = 60.0  # seconds a connection may wait for its next request (or its first one)
BODY_TIMEOUT = 30.0  # seconds to receive a request's whole body once its header is in
LINGERING_TIME = 2.0  # seconds an unread body is read and dropped after an answer, before closing

logger = logging.getLogger(__name__)


def _bad(message):
    return ServingError("INVALID_ARGUMENT", message)


def _leaf(value, dtype, name):
    if dtype == tf.string:
        if isinstance(value, str):
            return value.encode()
        if isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
            try:
                return base64.b64decode(value["b64"])
            except binascii.Error as e:
                raise _bad(f"input {name!r} holds a malformed base64 string: {e}") from None
    elif dtype == tf.bool:
        if isinstance(value, bool):
            return value
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and (dtype.is_floating or isinstance(value, int)):
        return value
    elif dtype.is_floating and isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
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
    try:
        shape, leaves = _flatten(value, dtype, name)
    except RecursionError:
        raise _bad(f"input {name!r} nests too deeply") from None
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
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        values = array.astype(object)
        values[np.isnan(array)] = "NaN"
        values[np.isposinf(array)] = "Infinity"
        values[np.isneginf(array)] = "-Infinity"
        return values.tolist()
    return array.tolist()


def json_bytes(obj):
    """`obj` as strict JSON (no NaN / Infinity tokens: `_json_value` has turned them into strings)."""
    return json.dumps(obj, allow_nan=False).encode()


def parse_body(body):
    """The request body -> a JSON object."""
    try:
        request = json.loads(body)
    except ValueError as e:
        raise _bad(f"the body is not JSON: {e}") from None
    except RecursionError:
        raise _bad("the body is not JSON this server reads: it nests too deeply") from None
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



class _Endpoints:
    """The answers of the REST paths, computed in a worker thread: (method, path, body) -> (status, JSON)."""

    def __init__(self, servable):
        self.servable = servable

    def answer(self, method, path, body):
        match = PATH.match(path)
        try:
            if method not in ("GET", "POST"):
                return 405, {"error": f"method {method} is not allowed: GET (status, metadata) or POST (:predict)"}
            if not match or (method == "POST") != (match.group(3) == ":predict"):
                raise ServingError("NOT_FOUND", f"no such endpoint: {method} {path}")
            name, version, action = match.groups()
            self.servable.check_spec(name, version)
            if method == "POST":
                return 200, self._predict(body)
            return 200, self._metadata() if action == "/metadata" else self._status()
        except ServingError as e:
            return HTTP_STATUS.get(e.code, 500), {"error": e.message}
        except Exception as e:  # a bug must not take the server down; the client sees it
            logger.exception("REST %s %s failed", method, path)
            return 500, {"error": f"{type(e).__name__}: {e}"}

    def encoded(self, method, path, body):
        status, obj = self.answer(method, path, body)
        try:
            return status, json_bytes(obj)
        except ValueError as e:  # not strict JSON: a bug of the encoding, never the client's
            logger.exception("REST %s %s: the answer is not strict JSON", method, path)
            return 500, json_bytes({"error": f"the answer could not be written as JSON: {e}"})

    def _predict(self, body):
        request = parse_body(body)
        signature_name = request.get("signature_name") or "serving_default"
        if not isinstance(signature_name, str):
            raise _bad("'signature_name' must be a string")
        signature = self.servable.signature(signature_name)
        inputs, rows = parse_predict(request, signature)
        return format_predict(self.servable.predict(signature_name, inputs), rows)

    def _status(self):
        return {"model_version_status": [{"version": str(self.servable.version), "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}}]}

    def _metadata(self):
        signatures = {name: json_format.MessageToDict(s, preserving_proto_field_name=True)
                      for name, s in self.servable.signatures.items()}
        return {"model_spec": {"name": self.servable.name, "signature_name": "", "version": str(self.servable.version)},
                "metadata": {"signature_def": {"signature_def": signatures}}}


def _json_response(status, body, close=False):
    response = web.Response(status=status, body=body if isinstance(body, bytes) else json_bytes(body),
                            content_type="application/json")
    if close:  # the request's framing is lost (or its body is left unread): no next request on it
        response.force_close()
    return response


class _Connection(web.RequestHandler):
    """aiohttp's connection handler, answering its own errors (a malformed request line, header or
    Content-Length: 400; a bug: 500) as {"error": ...} JSON instead of plain text."""

    def log_exception(self, *args, **kwargs):
        if isinstance(kwargs.get("exc_info"), _CLIENT_FAULTS):  # a client's malformed body or hang-up
            logger.debug(*args, **kwargs)
        else:
            super().log_exception(*args, **kwargs)

    def handle_error(self, request, status=500, exc=None, message=None):
        if status >= 500:
            logger.error("REST: error handling a request", exc_info=exc)
            message = "internal server error"
        if request.writer.output_size > 0:  # the answer has begun: the connection is broken
            raise ConnectionError("an answer was already sent; cannot send the error")
        if status < 500:
            text = [line.strip() for line in str(message or getattr(exc, "message", None) or exc or "").splitlines()
                    if line.strip()]
            message = f"malformed HTTP request: {' '.join(text[:2]) or 'unreadable'}"
        return _json_response(status, {"error": message}, close=True)


class _WebServer(web.Server):
    """aiohttp's low-level server with `_Connection` as its connection handler."""

    def __call__(self):
        return _Connection(self, loop=self._loop, **self._kwargs)


class _BodyTooLarge(Exception):
    pass


_CLIENT_FAULTS = (web.RequestPayloadError, ConnectionError)


class RestServer:
    """TF Serving's REST API over `servable` on `host:port` (port 0: a free one, see `port` after `start`).

    Args:
        servable: what answers (`check_spec`, `signature`, `predict`, `signatures`, `name`, `version`).
        workers: threads running the requests' work (parsing, the session call, the answer's encoding).
        max_body_bytes: the largest request body; a larger one answers 413 (before reading it, when its
            Content-Length says so) and the connection is closed.
        idle_timeout: seconds a connection may stay without a complete request header, from its start or
            its previous answer; then the server closes it.
        body_timeout: seconds to receive a request's whole body once its header is in (else 408, closed).
    """

    def __init__(self, servable, host="127.0.0.1", port=8501, workers=8, max_body_bytes=MAX_BODY_BYTES,
                 idle_timeout=IDLE_TIMEOUT, body_timeout=BODY_TIMEOUT):
        self.endpoints = _Endpoints(servable)
        self.host, self.port, self.workers = host, port, workers
        self.max_body_bytes, self.idle_timeout, self.body_timeout = max_body_bytes, idle_timeout, body_timeout
        self._loop = self._thread = self._executor = self._web = self._listener = None

    def start(self):
        """Binds `host:port` and serves from a background thread; raises OSError if it cannot bind."""
        self._executor = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="rest-worker")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rest", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result()
        except BaseException:
            self._close_loop()
            raise
        return self

    async def _listen(self):
        self._web = _WebServer(self._handle, keepalive_timeout=self.idle_timeout, lingering_time=LINGERING_TIME,
                               access_log=None)
        self._listener = await asyncio.get_running_loop().create_server(self._web, self.host, self.port,
                                                                        backlog=128)
        self.port = self._listener.sockets[0].getsockname()[1]

    def stop(self, grace=5.0):
        """Stops accepting, closes idle connections, lets running requests finish (up to `grace` seconds,
        then cancels them) and ends the thread. Returns when no request is being answered any more."""
        if self._loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._drain(grace), self._loop).result(grace + 10)
        except concurrent.futures.TimeoutError:
            logger.warning("REST: connections still open %.0f s after the stop began", grace + 10)
        finally:
            self._close_loop()

    async def _drain(self, grace):
        self._listener.close()
        await asyncio.sleep(0)  # connections accepted just before the close start their requests
        self._web.pre_shutdown()  # closes idle connections; busy ones close after their answer
        await self._web.shutdown(grace)
        try:  # (Python >= 3.12 waits here for the connections' transports to close)
            await asyncio.wait_for(self._listener.wait_closed(), 1.0)
        except asyncio.TimeoutError:
            pass
        rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in rest:  # what shutdown has cancelled: let it unwind before the loop closes
            task.cancel()
        if rest:
            await asyncio.wait(rest, timeout=1.0)

    def _close_loop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._executor.shutdown(wait=False, cancel_futures=True)  # a request's session call may still run
        self._loop = self._thread = None

    async def _handle(self, request):
        try:
            body = await self._read_body(request)
        except _BodyTooLarge:
            return _json_response(413, {"error": f"the body is larger than {self.max_body_bytes} bytes"}, True)
        except asyncio.TimeoutError:
            return _json_response(408, {"error": f"the body was not received within {self.body_timeout:g} s"}, True)
        except web.RequestPayloadError as e:  # a malformed chunk or content encoding
            return _json_response(400, {"error": f"malformed body: {' '.join(str(e).split())}"}, True)
        except ConnectionError:  # the client has gone: nobody reads this answer
            return _json_response(400, {"error": "the connection was lost inside the body"}, True)
        status, answer = await asyncio.get_running_loop().run_in_executor(
            self._executor, self.endpoints.encoded, request.method, request.raw_path, body)
        response = _json_response(status, answer)
        if status == 405:
            response.headers["Allow"] = "GET, POST"
        return response

    async def _read_body(self, request):
        """The whole body (b"" if none), at most `max_body_bytes`, within `body_timeout` seconds."""
        length = request.content_length  # None when chunked; aiohttp's parser has refused a malformed one
        if length is not None and length > self.max_body_bytes:
            raise _BodyTooLarge
        if not request.body_exists:
            return b""
        if request.headers.get("Expect", "").lower() == "100-continue" and request.version >= (1, 1):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return await asyncio.wait_for(self._read_chunks(request.content), self.body_timeout)

    async def _read_chunks(self, content):
        body = bytearray()
        while chunk := await content.readany():
            body += chunk
            if len(body) > self.max_body_bytes:
                raise _BodyTooLarge
        return bytes(body)
