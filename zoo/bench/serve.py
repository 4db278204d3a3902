"""`zoo bench serve`: latencies and file sizes of an export (SavedModel in process, gRPC, REST, TFLite)."""
import os
import time

import numpy as np

from zoo.bench.quantization import TFLITE
from zoo.export.client import example_requests, grpc_call, read_export, rest_call


def _percentiles(call, requests):
    call()  # warm-up
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return {"p50_ms": round(float(np.percentile(times, 50)) * 1e3, 3),
            "p99_ms": round(float(np.percentile(times, 99)) * 1e3, 3)}


def _size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def bench_serve(export_dir, requests=200):
    """Latencies (p50/p99, ms, batch 1) of `serving_default` and `step`: in process (TF1 session, as
    TF Serving runs them), through the local server by gRPC and REST, and of the TFLite signatures;
    plus the file sizes in bytes."""
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    from zoo.export.server import Server
    from zoo.export.tflite import interpreter

    info, items = read_export(export_dir)
    inputs, result = example_requests(info, items), {"sizes": {}, "latency": {}, "requests": requests}
    with Server(export_dir, "bench", grpc_port=0, rest_port=0) as server:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(
            f"127.0.0.1:{server.grpc_port}", options=[("grpc.enable_http_proxy", 0)]))
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/bench:predict"
        for signature, values in inputs.items():
            calls = {"in_process": lambda s=signature, v=values: server.servable.predict(s, v),
                     "grpc": grpc_call(stub, "bench", signature, values),
                     "rest": rest_call(url, signature, values)}
            for where, call in calls.items():
                result["latency"][f"saved_model.{signature}.{where}"] = _percentiles(call, requests)
        result["sizes"]["saved_model"] = _size(os.path.join(server.servable.base, str(server.servable.version)))
    for name in TFLITE:
        path = os.path.join(export_dir, name)
        if not os.path.isfile(path):
            continue
        result["sizes"][name] = _size(path)
        lite = interpreter(path)
        tflite_inputs = {"recommend": inputs["serving_default"], "step": inputs["step"]}
        for signature, values in tflite_inputs.items():
            run = lite.get_signature_runner(signature)
            result["latency"][f"{name}.{signature}"] = _percentiles(lambda r=run, v=values: r(**v), requests)
    return result


