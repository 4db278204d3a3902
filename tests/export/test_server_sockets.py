"""`zoo.export.server.Server` at the HTTP level, by hand over raw sockets (HTTP/1.1): keep-alive after an
error answer, the body limit, malformed headers, the idle and body timeouts, strict JSON, and the
lifecycle: a stop drains the requests in flight, a failed start leaves no port bound."""
import json
import socket
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from export_fixtures import exported  # noqa: F401 (fixture)
from zoo.export.rest import LINGERING_TIME
from zoo.export.server import Server

MODEL = "m"
MAX_BODY = 64 * 1024
IDLE, BODY = 1.0, 1.0  # seconds: the test server's idle and body timeouts


@pytest.fixture(scope="module")
def export_dir(exported):  # noqa: F811
    return exported("gru4rec")[1]


@pytest.fixture(scope="module")
def server(export_dir):
    with Server(str(export_dir), MODEL, grpc_port=0, rest_port=0, max_body_bytes=MAX_BODY, idle_timeout=IDLE,
                body_timeout=BODY) as running:
        yield running


@pytest.fixture(scope="module")
def item(export_dir):
    return str(json.loads((export_dir / "vocab.json").read_text())["ids"][0])


def connect(server):
    return socket.create_connection(("127.0.0.1", server.rest_port), timeout=10)


def request(method, path, body=b"", headers=None):
    """An HTTP/1.1 request's bytes; `headers` replaces the default Content-Length (give None to drop it)."""
    fields = {"Host": "127.0.0.1", "Content-Length": str(len(body)), **(headers or {})}
    head = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v is not None)
    return f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + body


def read_answer(sock):
    """(status, headers with lower-case names, body) of one answer, framed by its Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before an answer: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "the connection closed inside an answer"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def strict_json(body):
    """The answer, parsed as RFC 8259 JSON: a NaN or Infinity token fails."""
    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")
    return json.loads(body, parse_constant=refuse)


def closed_within(sock, seconds):
    """Seconds until the server closes `sock` (it must within `seconds`; any data before is an error)."""
    sock.settimeout(seconds)
    start = time.monotonic()
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        data = b""
    assert data == b"", f"data instead of a close: {data!r}"
    return time.monotonic() - start


def good_body(item):
    return json.dumps({"instances": [{"item_ids": [item]}]}).encode()


def test_keep_alive_survives_error_answers_with_a_body(server, item):
    with connect(server) as sock:
        for method, path, body, status in [("POST", "/v1/models/no-such-model:predict", good_body(item), 404),
                                           ("POST", "/v1/models/m/versions/9:predict", good_body(item), 404),
                                           ("POST", "/v1/nothing/here", good_body(item), 404),
                                           ("PUT", "/v1/models/m:predict", good_body(item), 405),
                                           ("POST", "/v1/models/m:predict", b'{"instances": [', 400),
                                           ("POST", "/v1/models/m:predict", b"\xff\xfe not json", 400),
                                           ("POST", "/v1/models/m:predict", good_body(item), 200)]:
            sock.sendall(request(method, path, body))
            got, headers, answer = read_answer(sock)
            assert got == status, answer
            assert headers["content-type"].startswith("application/json")
            assert ("error" in strict_json(answer)) == (status != 200)
            assert headers.get("connection", "").lower() != "close"
        assert len(strict_json(answer)["predictions"][0]["item_ids"]) == 10


def test_an_oversized_body_is_413_without_being_read(server):
    with connect(server) as sock:
        start = time.monotonic()
        sock.sendall(request("POST", "/v1/models/m:predict", b"{", {"Content-Length": str(10 ** 12)}))
        status, headers, answer = read_answer(sock)
        assert status == 413 and "larger than" in strict_json(answer)["error"]
        assert headers["connection"].lower() == "close" and time.monotonic() - start < 2
        assert closed_within(sock, LINGERING_TIME + 3) < LINGERING_TIME + 2
    with connect(server) as sock:  # chunked, no Content-Length: refused once past the limit
        chunk = b"%x\r\n%s\r\n" % (MAX_BODY, b" " * MAX_BODY)
        sock.sendall(request("POST", "/v1/models/m:predict", chunk * 2, {"Content-Length": None,
                                                                          "Transfer-Encoding": "chunked"}))
        assert read_answer(sock)[0] == 413


@pytest.mark.parametrize("length", ["abc", "12abc", "-5", "1e3"])
def test_a_malformed_content_length_is_400(server, length):
    with connect(server) as sock:
        sock.sendall(request("POST", "/v1/models/m:predict", b"{}", {"Content-Length": length}))
        status, headers, answer = read_answer(sock)
        assert status == 400 and "Content-Length" in strict_json(answer)["error"]
        assert headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("body, headers", [
    (b"zz\r\n{}\r\n0\r\n\r\n", {"Content-Length": None, "Transfer-Encoding": "chunked"}),
    (b"{}", {"Content-Encoding": "gzip"}),
])
def test_a_malformed_body_framing_or_encoding_is_400(server, body, headers):
    with connect(server) as sock:
        sock.sendall(request("POST", "/v1/models/m:predict", body, headers))
        status, headers, answer = read_answer(sock)
        assert status == 400 and strict_json(answer)["error"]


def test_an_idle_connection_is_closed_after_the_idle_timeout(server, item):
    with connect(server) as sock:
        sock.sendall(request("POST", "/v1/models/m:predict", good_body(item)))
        assert read_answer(sock)[0] == 200
        assert IDLE * 0.5 < closed_within(sock, IDLE + 5) < IDLE + 3
    with connect(server) as sock:  # one that never sends a request
        assert closed_within(sock, IDLE + 5) < IDLE + 3


def test_a_body_that_does_not_arrive_is_408(server):
    with connect(server) as sock:
        sock.sendall(request("POST", "/v1/models/m:predict", b'{"inst', {"Content-Length": "100"}))
        status, headers, answer = read_answer(sock)
        assert status == 408 and strict_json(answer)["error"] and headers["connection"].lower() == "close"


def test_non_finite_values_are_written_as_strict_json_strings(server, item, export_dir):
    state_size = json.loads((export_dir / "export.json").read_text())["state_size"]
    body = {"signature_name": "step", "inputs": {"item_id": [item], "state": [["NaN"] + [0.0] * (state_size - 1)],
                                                   "k": 3}}
    with connect(server) as sock:
        sock.sendall(request("POST", "/v1/models/m:predict", json.dumps(body).encode()))
        status, _, answer = read_answer(sock)
    assert status == 200, answer
    outputs = strict_json(answer)["outputs"]
    assert "NaN" in outputs["state"][0] and all(isinstance(v, (float, str)) for v in outputs["state"][0])


def grpc_predict(port, item):
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.enable_http_proxy", 0)])
    message = predict_pb2.PredictRequest()
    message.model_spec.name = MODEL
    message.inputs["item_ids"].CopyFrom(tf.make_tensor_proto(np.array([[item]], dtype=object)))
    try:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(message, timeout=30)
    finally:
        channel.close()


def test_stop_lets_the_requests_in_flight_finish(export_dir, item):
    server = Server(str(export_dir), MODEL, grpc_port=0, rest_port=0, grace=10.0).start()
    inside, release = threading.Semaphore(0), 1.0
    predict = server.servable.predict

    def slow_predict(*args, **kwargs):
        inside.release()
        time.sleep(release)
        return predict(*args, **kwargs)

    server.servable.predict = slow_predict
    answers = {}

    def rest():
        with connect(server) as sock:
            sock.sendall(request("POST", "/v1/models/m:predict", good_body(item)))
            answers["rest"] = read_answer(sock)

    def grpc_call():
        answers["grpc"] = grpc_predict(server.grpc_port, item)

    threads = [threading.Thread(target=f) for f in (rest, grpc_call)]
    for thread in threads:
        thread.start()
    assert inside.acquire(timeout=30) and inside.acquire(timeout=30)  # both requests are being answered
    start = time.monotonic()
    server.stop()
    stopped = time.monotonic() - start
    for thread in threads:
        thread.join(30)
    status, _, body = answers["rest"]
    assert status == 200 and len(strict_json(body)["predictions"][0]["item_ids"]) == 10
    assert answers["grpc"].outputs["item_ids"].tensor_shape.dim[1].size == 10
    assert stopped < release + 5
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.rest_port), timeout=5)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port, within=5.0):
    """Whether `port` of 127.0.0.1 can be bound (without SO_REUSEPORT) within `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
        time.sleep(0.1)


def test_a_failed_start_leaves_no_port_bound(export_dir):
    server = Server(str(export_dir), MODEL, grpc_port=0, rest_port=0)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        grpc_port = free_port()
        server.grpc_port, server.rest_port = grpc_port, taken_port
        with pytest.raises(OSError):  # REST cannot bind: the gRPC server is stopped, its port free
            server.start()
        assert port_is_free(grpc_port)
        rest_port = free_port()
        server.grpc_port, server.rest_port = taken_port, rest_port
        with pytest.raises((OSError, RuntimeError)):  # gRPC cannot bind: the REST server is stopped
            server.start()
        assert port_is_free(rest_port)
    server.grpc_port = server.rest_port = 0  # the same server starts once both ports are free
    with server:
        with connect(server) as sock:
            sock.sendall(request("GET", f"/v1/models/{MODEL}"))
            assert read_answer(sock)[0] == 200
