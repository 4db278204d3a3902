"""A client of an export, shared by the benchmarks and the load test: its description (export.json,
vocab.json), example requests, and one request by TF Serving's gRPC stub or its REST API."""
import json
import os
import urllib.request

import numpy as np

from zoo.errors import UserError


def read_export(export_dir):
    path = os.path.join(export_dir, "export.json")
    if not os.path.isfile(path):
        raise UserError(f"{export_dir}: not an export directory of `zoo export` (no export.json)")
    with open(path) as f:
        info = json.load(f)
    with open(os.path.join(export_dir, "vocab.json")) as f:
        items = [str(i) for i in json.load(f)["ids"]]
    return info, items


def example_requests(info, items, history_length=5):
    """Batch-1 inputs of `serving_default` and `step` (personalized: an unseen user, a new one)."""
    user = {}
    if info["inputs"]["user_id"]:
        user["user_id"] = np.array(["?"], dtype=object)
    zeros = np.zeros((1, info["state_size"]), np.float32)
    history = {"item_ids": np.array([items[:history_length]], dtype=object), **user}
    step = {"item_id": np.array([items[0]], dtype=object), "state": zeros, **user}
    if info["inputs"]["user_state"]:
        history["user_state"], step["new_session"] = zeros, np.array([True])
    return {"serving_default": history, "step": step}


def grpc_call(stub, model_name, signature, inputs):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = model_name, signature
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return lambda: stub.Predict(request, timeout=30)


def rest_call(url, signature, inputs):
    columns = {n: (v.astype(str) if v.dtype == object else v).tolist() for n, v in inputs.items()}
    body = json.dumps({"signature_name": signature, "inputs": columns}).encode()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return lambda: opener.open(urllib.request.Request(url, data=body, method="POST"), timeout=30).read()
