"""`zoo bench load`: a bounded load test of `zoo serve` on the loopback interface.

    result = load_test("exports/synth", clients=32, requests=20000, protocol="grpc")
    result["errors"], result["p99_ms"], result["requests_per_s"]

It starts `zoo serve` in a subprocess on free ports of 127.0.0.1 (never another address), sends the
requests from `clients` threads through TF Serving's own gRPC client (`PredictionServiceStub`) or REST
(urllib), each a batch-1 `serving_default` or `step` request on a rotating history, and stops the server
with SIGTERM. With `malformed_every=N` every N-th request is malformed (k = 0, or a history of unknown
items) and must be refused (INVALID_ARGUMENT, HTTP 400). The test is bounded in count and in time: no
request starts after `max_seconds`.

An error is a good request that failed, a malformed one that was answered or refused with another code,
a server that no longer answers after the load, or one that does not stop cleanly on SIGTERM.
"""
import contextlib
import itertools
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error

import numpy as np

from zoo.errors import UserError
from zoo.export.client import example_requests, grpc_call, read_export, rest_call

LOOPBACK = "127.0.0.1"
MODEL_NAME = "load"
PROTOCOLS = ("grpc", "rest")
HISTORIES = 16  # distinct request bodies each client cycles through


@contextlib.contextmanager
def serve_process(export_dir, model_name=MODEL_NAME, start_timeout=120):
    """`zoo serve export_dir` in a subprocess on free ports of 127.0.0.1.

    Yields:
        (process, gRPC target "127.0.0.1:PORT", REST base URL "http://127.0.0.1:PORT"). On exit the
        process gets SIGTERM (killed if it has not stopped 30 s later).

    Raises:
        UserError: the server did not print its ports within `start_timeout` seconds.
    """
    command = [sys.executable, "-m", "zoo.cli", "serve", os.fspath(export_dir), "--grpc-port", "0",
               "--rest-port", "0", "--model-name", model_name, "--host", LOOPBACK]
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            ready, _, _ = select.select([process.stdout], [], [], start_timeout)
            line = process.stdout.readline() if ready else ""
            if "REST http://" not in line:
                stderr.seek(0)
                last = (stderr.read().strip().splitlines() or ["no output"])[-1]
                raise UserError(f"zoo serve {export_dir} did not start: {last}")
            yield process, line.split("gRPC ")[1].split(",")[0], line.split("REST ")[1].strip()
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _calls(protocol, grpc_target, rest_url, info, items):
    """(good, malformed): lists of functions that each send one request and return its answer."""
    if protocol == "grpc":
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        channel = grpc.insecure_channel(grpc_target, options=[("grpc.enable_http_proxy", 0)])
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        call = lambda signature, inputs: grpc_call(stub, MODEL_NAME, signature, inputs)  # noqa: E731
    else:
        url = f"{rest_url}/v1/models/{MODEL_NAME}:predict"
        call = lambda signature, inputs: rest_call(url, signature, inputs)  # noqa: E731
    good = []
    for offset in range(HISTORIES):
        requests = example_requests(info, items[offset:] + items[:offset], history_length=1 + offset % 8)
        good += [call(signature, inputs) for signature, inputs in requests.items()]
    history = example_requests(info, items)["serving_default"]
    malformed = [call("serving_default", {**history, "k": np.int32(0)}),
                 call("serving_default", {**history, "item_ids": np.array([["?", ""]], dtype=object)})]
    return good, malformed


def _refused(error):
    """Whether `error` is the refusal of a malformed request: INVALID_ARGUMENT or HTTP 400."""
    import grpc

    if isinstance(error, grpc.RpcError):
        return error.code() == grpc.StatusCode.INVALID_ARGUMENT
    return isinstance(error, urllib.error.HTTPError) and error.code == 400


class _Tally:
    """Outcomes and latencies of the requests, shared by the client threads."""

    def __init__(self):
        self.lock, self.latencies, self.refused, self.errors = threading.Lock(), [], 0, []

    def send(self, call, malformed):
        start = time.perf_counter()
        try:
            call()
            error = "a malformed request was answered" if malformed else None
        except Exception as e:  # any failure of a request is counted, never raised
            error = None if malformed and _refused(e) else f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
        seconds = time.perf_counter() - start
        with self.lock:
            if error:
                self.errors.append(error)
            elif malformed:
                self.refused += 1
            else:
                self.latencies.append(seconds)


def load_test(export_dir, clients=32, requests=20000, protocol="grpc", malformed_every=0, max_seconds=300):
    """Sends `requests` requests from `clients` threads to `zoo serve export_dir` on 127.0.0.1.

    Args:
        export_dir: a deployment directory of `zoo export`.
        clients: concurrent client threads.
        requests: requests in all (malformed ones included).
        protocol: "grpc" or "rest".
        malformed_every: every this many requests one is malformed (0: none).
        max_seconds: no request starts after this many seconds; the rest are counted as `not_sent`.

    Returns:
        A dict: `sent`, `ok`, `refused` (malformed, as expected), `errors` (count), `first_errors`
        (up to 5 messages), `not_sent`, `p50_ms`/`p99_ms` (good requests), `requests_per_s` (sent
        requests over the wall time), `seconds`, `answers_after` and `stopped_cleanly`.

    Raises:
        UserError: an option out of range, not an export directory, or a server that does not start.
    """
    if protocol not in PROTOCOLS:
        raise UserError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    for name, value, least in (("clients", clients, 1), ("requests", requests, 1), ("max-seconds", max_seconds, 1),
                               ("malformed-every", malformed_every, 0)):
        if value < least:
            raise UserError(f"--{name} must be >= {least}, got {value}")
    info, items = read_export(export_dir)
    with serve_process(export_dir) as (process, grpc_target, rest_url):
        good, malformed = _calls(protocol, grpc_target, rest_url, info, items)
        tally, numbers = _Tally(), itertools.count()  # next() on a count is atomic under the GIL
        deadline = time.monotonic() + max_seconds

        def client():
            while (n := next(numbers)) < requests and time.monotonic() <= deadline:
                bad = malformed_every and n % malformed_every == malformed_every - 1
                tally.send(malformed[n % len(malformed)] if bad else good[n % len(good)], bad)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(deadline + 60 - time.monotonic(), 0))  # a request times out after 30 s
        seconds = time.perf_counter() - start
        answers_after = _answers(good[0])
        process.send_signal(signal.SIGTERM)
        try:
            stopped_cleanly = process.wait(60) == 0 and "stopped" in process.stdout.read()
        except subprocess.TimeoutExpired:  # serve_process kills it
            stopped_cleanly = False
    sent = len(tally.latencies) + tally.refused + len(tally.errors)
    errors = tally.errors + [m for m, ok in (("no answer after the load", answers_after),
                                             ("no clean stop on SIGTERM", stopped_cleanly)) if not ok]
    latencies = np.array(tally.latencies or [np.nan]) * 1e3
    return {"protocol": protocol, "clients": clients, "requests": requests, "sent": sent,
            "ok": len(tally.latencies), "refused": tally.refused, "errors": len(errors), "first_errors": errors[:5],
            "not_sent": requests - sent, "p50_ms": round(float(np.percentile(latencies, 50)), 3),
            "p99_ms": round(float(np.percentile(latencies, 99)), 3), "requests_per_s": round(sent / seconds, 1),
            "seconds": round(seconds, 2), "answers_after": answers_after, "stopped_cleanly": stopped_cleanly}


def _answers(call):
    try:
        call()
        return True
    except Exception:  # any failure means the server no longer answers
        return False
