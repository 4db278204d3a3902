"""A local TF Serving-compatible server: the gRPC and REST APIs over one loaded SavedModel.

    server = Server("exports/gru4rec", model_name="gru4rec", grpc_port=0, rest_port=0)
    server.start()            # port 0: a free port, see server.grpc_port / server.rest_port
    ...
    server.stop()             # drains: stops accepting, lets running requests finish, then unloads

`zoo serve` runs one until SIGTERM or SIGINT. Unlike `tensorflow_model_server` it serves the latest
version found at start (no reloading), and port 0 means a free port, not "disabled".
"""
import concurrent.futures
import threading

import grpc

from .grpc_service import add_services
from .rest import BODY_TIMEOUT, IDLE_TIMEOUT, MAX_BODY_BYTES, RestServer
from .servable import Servable, ServingError

GRACE = 5.0  # seconds `stop` lets running requests finish


class _Tracked:
    """`servable` with its running `predict` calls counted, so that the session is closed only after them;
    once `close` has begun a new call answers UNAVAILABLE."""

    def __init__(self, servable):
        self._servable, self._running, self._closing = servable, 0, False
        self._lock = threading.Condition()

    def __getattr__(self, name):  # check_spec, signature, signatures, name, version
        return getattr(self._servable, name)

    def predict(self, *args, **kwargs):
        with self._lock:
            if self._closing:
                raise ServingError("UNAVAILABLE", "the server is stopping")
            self._running += 1
        try:
            return self._servable.predict(*args, **kwargs)
        finally:
            with self._lock:
                self._running -= 1
                self._lock.notify_all()

    def close(self, timeout):
        """Refuses new calls, waits up to `timeout` seconds for the running ones, closes the session."""
        with self._lock:
            self._closing = True
            self._lock.wait_for(lambda: self._running == 0, timeout)
        self._servable.close()


class Server:
    """gRPC and REST servers over `Servable(path, model_name)`, bound to `host`.

    Args:
        workers: threads answering gRPC requests, and as many for REST requests.
        max_body_bytes, idle_timeout, body_timeout: the REST server's limits (see `rest.RestServer`): the
            largest request body (else 413), the seconds a connection may wait for its next request, and
            the seconds to receive a body.
        grace: seconds `stop` lets running requests finish before it cancels them.
    """

    def __init__(self, path, model_name="default", grpc_port=8500, rest_port=8501, host="127.0.0.1", workers=8,
                 max_body_bytes=MAX_BODY_BYTES, idle_timeout=IDLE_TIMEOUT, body_timeout=BODY_TIMEOUT, grace=GRACE):
        self.servable = Servable(path, model_name)
        self.host, self.grpc_port, self.rest_port, self.workers = host, grpc_port, rest_port, workers
        self.max_body_bytes, self.idle_timeout, self.body_timeout = max_body_bytes, idle_timeout, body_timeout
        self.grace = grace
        self._tracked = _Tracked(self.servable)
        self._grpc = self._rest = None
        self._grpc_started = False

    def start(self):
        """Binds and starts both servers; sets `grpc_port` and `rest_port` to the bound ports.

        Raises:
            OSError or RuntimeError: a port cannot be bound; nothing is left bound or running then.
        """
        try:
            self._rest = RestServer(self._tracked, self.host, self.rest_port, self.workers, self.max_body_bytes,
                                    self.idle_timeout, self.body_timeout).start()
            self.rest_port = self._rest.port
            # no SO_REUSEPORT: a second server on a taken port fails here instead of sharing the port
            self._grpc = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=self.workers),
                                     options=[("grpc.so_reuseport", 0)])
            add_services(self._grpc, self._tracked)
            port = self._grpc.add_insecure_port(f"{self.host}:{self.grpc_port}")
            if not port:
                raise OSError(f"cannot bind gRPC to {self.host}:{self.grpc_port}")
            self._grpc.start()
            self._grpc_started, self.grpc_port = True, port
        except BaseException:
            self._stop_servers(0)
            raise
        return self

    def stop(self, grace=None):
        """Drains and stops: stops accepting requests on both APIs, lets the running ones finish (up to
        `grace` seconds, default `self.grace`; then they are cancelled), closes the session, frees the ports."""
        grace = self.grace if grace is None else grace
        self._stop_servers(grace)
        self._tracked.close(grace)

    def _stop_servers(self, grace):
        grpc_server, rest, started = self._grpc, self._rest, self._grpc_started
        self._grpc = self._rest = None
        self._grpc_started = False
        if grpc_server is not None and not started:
            grpc_server.start()  # a bound server frees its port only by stopping, and it stops only once started
        stopped = grpc_server.stop(grace) if grpc_server is not None else None  # refuses new RPCs at once
        if rest is not None:
            rest.stop(grace)
        if stopped is not None:
            stopped.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
