"""A local TF Serving-compatible server: the gRPC and REST APIs over one loaded SavedModel.

    server = Server("exports/gru4rec", model_name="gru4rec", grpc_port=0, rest_port=0)
    server.start()            # port 0: a free port, see server.grpc_port / server.rest_port
    ...
    server.stop()

`zoo serve` runs one until SIGTERM or SIGINT. Unlike `tensorflow_model_server` it serves the latest
version found at start (no reloading), and port 0 means a free port, not "disabled".
"""
import concurrent.futures
import http.server
import threading

import grpc

from .grpc_service import add_services
from .rest import make_handler
from .servable import Servable


class _HTTPServer(http.server.ThreadingHTTPServer):
    """A thread per request, with a listen backlog for a burst of clients (socketserver's default of 5
    resets connections when a few dozen clients connect at once)."""

    request_queue_size = 128
    daemon_threads = True


class Server:
    """gRPC and REST servers over `Servable(path, model_name)`, bound to `host`."""

    def __init__(self, path, model_name="default", grpc_port=8500, rest_port=8501, host="127.0.0.1", workers=8):
        self.servable = Servable(path, model_name)
        self.host, self.grpc_port, self.rest_port, self.workers = host, grpc_port, rest_port, workers
        self._grpc = self._http = self._http_thread = None

    def start(self):
        """Binds and starts both servers; sets `grpc_port` and `rest_port` to the bound ports."""
        self._grpc = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=self.workers))
        add_services(self._grpc, self.servable)
        self.grpc_port = self._grpc.add_insecure_port(f"{self.host}:{self.grpc_port}")
        if not self.grpc_port:
            raise OSError(f"cannot bind gRPC to {self.host}")
        self._http = _HTTPServer((self.host, self.rest_port), make_handler(self.servable))
        self.rest_port = self._http.server_address[1]
        self._grpc.start()
        self._http_thread = threading.Thread(target=self._http.serve_forever, name="rest", daemon=True)
        self._http_thread.start()
        return self

    def stop(self, grace=2.0):
        """Stops accepting requests, lets running ones finish (up to `grace` seconds), frees the ports."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http_thread.join()
        if self._grpc is not None:
            self._grpc.stop(grace).wait()
        self.servable.close()
        self._grpc = self._http = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
