"""`zoo serve` through the TF Serving clients: gRPC (tensorflow-serving-api's stub) and REST (urllib).

Every check runs against the local server (`zoo serve` in a subprocess, free ports on 127.0.0.1) and,
when `TF_SERVING_GRPC` (host:port) and `TF_SERVING_REST` (http://host:port) are set, against a real
`tensorflow_model_server` serving the export directory `TF_SERVING_EXPORT` as the model
`TF_SERVING_MODEL` (default "default"); see the README's "Deployment".
"""
import base64
import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc)

from export_fixtures import exported, log, sessions  # noqa: F401 (fixtures)
from zoo.bench.load import serve_process
from zoo.export.servable import Servable

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def local_server(exported):  # noqa: F811
    """`zoo serve` of the GRU4Rec export on free ports of 127.0.0.1: (process, grpc target, rest url, dir)."""
    _, out = exported("gru4rec")
    with serve_process(out, "gru") as (process, grpc_target, rest_url):
        yield process, grpc_target, rest_url, out


class Endpoint:
    """A serving endpoint and the in-process answers it must give."""

    def __init__(self, grpc_target, rest_url, model_name, export_dir):
        self.rest_url, self.model_name = rest_url, model_name
        self.channel = grpc.insecure_channel(grpc_target, options=[("grpc.enable_http_proxy", 0)])
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.reference = Servable(str(export_dir))
        self.items = [str(i) for i in json.loads((export_dir / "vocab.json").read_text())["ids"]]
        self.state_size = json.loads((export_dir / "export.json").read_text())["state_size"]

    def predict(self, signature="", **inputs):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model_name
        request.model_spec.signature_name = signature
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        response = self.stub.Predict(request, timeout=30)
        return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}

    def rest(self, path, body=None):
        """(HTTP status, JSON answer) of GET (no body) or POST."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(self.rest_url + path, data=data, method="GET" if data is None else "POST")
        try:
            with NO_PROXY.open(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


REAL = ("TF_SERVING_GRPC", "TF_SERVING_REST", "TF_SERVING_EXPORT")
HAVE_REAL = all(os.environ.get(n) for n in REAL)


@pytest.fixture(scope="module", params=["local", "real"] if HAVE_REAL else ["local"])
def endpoint(request):
    if request.param == "local":
        _, grpc_target, rest_url, out = request.getfixturevalue("local_server")
        return Endpoint(grpc_target, rest_url, "gru", out)
    return Endpoint(os.environ["TF_SERVING_GRPC"], os.environ["TF_SERVING_REST"].rstrip("/"),
                    os.environ.get("TF_SERVING_MODEL", "default"), Path(os.environ["TF_SERVING_EXPORT"]))


@pytest.mark.skipif(HAVE_REAL, reason="the real server is tested: every test runs against it too")
def test_real_tf_serving_runs_only_when_configured():
    pytest.skip(f"no real TF Serving: set {', '.join(REAL)} to run every test here against one too "
                "(see the README's Deployment)")


def strings(rows):
    return np.array(rows, dtype=object)


def with_item(value, item):
    """`value` with the placeholder id "x" replaced by `item` (lists become string arrays)."""
    if not isinstance(value, list):
        return value
    return strings(json.loads(json.dumps(value).replace('"x"', json.dumps(item))))


def test_grpc_predict_matches_the_in_process_answer(endpoint):
    histories = strings([endpoint.items[:3], [endpoint.items[5], "unknown", ""]])
    got = endpoint.predict(item_ids=histories, k=np.int32(7))
    expected = endpoint.reference.predict("serving_default", {"item_ids": histories, "k": np.int32(7)})
    np.testing.assert_array_equal(got["item_ids"], expected["item_ids"])
    np.testing.assert_allclose(got["scores"], expected["scores"], rtol=1e-6)
    default_k = endpoint.predict(item_ids=histories)
    assert default_k["item_ids"].shape == (2, 10)


def test_grpc_step_streams_a_session(endpoint):
    state = np.zeros((1, endpoint.state_size), np.float32)
    for item in endpoint.items[10:14]:
        answer = endpoint.predict("step", item_id=strings([item]), state=state, k=np.int32(5))
        state = answer["state"]
    whole = endpoint.reference.predict("serving_default", {"item_ids": strings([endpoint.items[10:14]]),
                                                           "k": np.int32(5)})
    np.testing.assert_array_equal(answer["item_ids"], whole["item_ids"])
    np.testing.assert_allclose(answer["scores"], whole["scores"], rtol=1e-5, atol=1e-6)


def test_grpc_metadata_and_status(endpoint):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = endpoint.model_name
    response = endpoint.stub.GetModelMetadata(request, timeout=30)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    assert {"serving_default", "step", "encode"} <= set(signatures.signature_def)
    assert set(signatures.signature_def["serving_default"].inputs) == {"item_ids", "k", "exclude_history"}
    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = endpoint.model_name
    status = model_service_pb2_grpc.ModelServiceStub(endpoint.channel).GetModelStatus(status_request, timeout=30)
    assert status.model_version_status[0].state == get_model_status_pb2.ModelVersionStatus.AVAILABLE


BAD_GRPC = [
    ("serving_default", {"item_ids": [["x"]], "k": np.int32(0)}, "k must be between"),
    ("serving_default", {"item_ids": [["x"]], "k": np.int32(10_000)}, "k must be between"),
    ("serving_default", {"item_ids": np.zeros((1, 0), object)}, "known item"),
    ("serving_default", {"item_ids": [["unknown", ""]]}, "known item"),
    ("serving_default", {"item_ids": np.array([[1, 2]], np.int32)}, ""),
    ("serving_default", {"item_ids": ["x"]}, ""),
    ("serving_default", {"k": np.int32(3)}, ""),
    ("no-such-signature", {"item_ids": [["x"]]}, "no-such-signature"),
    ("__saved_model_init_op", {"item_ids": [["x"]]}, "__saved_model_init_op"),  # listed in metadata, not servable
]


@pytest.mark.parametrize("signature, inputs, words", BAD_GRPC)
def test_grpc_malformed_requests_are_invalid_arguments(endpoint, signature, inputs, words):
    inputs = {name: with_item(value, endpoint.items[0]) for name, value in inputs.items()}
    with pytest.raises(grpc.RpcError) as error:
        endpoint.predict(signature, **inputs)
    codes = {grpc.StatusCode.INVALID_ARGUMENT} | ({grpc.StatusCode.FAILED_PRECONDITION} if "signature" in signature
                                                  else set())
    assert error.value.code() in codes and words in error.value.details(), error.value.details()
    assert endpoint.predict(item_ids=strings([[endpoint.items[0]]]))["item_ids"].shape == (1, 10)


def test_grpc_unknown_model_is_not_found(endpoint):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "no-such-model"
    request.inputs["item_ids"].CopyFrom(tf.make_tensor_proto(strings([[endpoint.items[0]]])))
    with pytest.raises(grpc.RpcError) as error:
        endpoint.stub.Predict(request, timeout=30)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_rest_row_and_columnar_formats(endpoint):
    model = f"/v1/models/{endpoint.model_name}"
    history = endpoint.items[:3]
    expected = endpoint.reference.predict("serving_default", {"item_ids": strings([history])})
    expected_ids = [i.decode() for i in expected["item_ids"][0]]
    status, rows = endpoint.rest(model + ":predict", {"instances": [{"item_ids": history}, {"item_ids": history}]})
    assert status == 200 and [r["item_ids"] for r in rows["predictions"]] == [expected_ids] * 2
    np.testing.assert_allclose(rows["predictions"][0]["scores"], expected["scores"][0], rtol=1e-5)
    status, columns = endpoint.rest(model + "/versions/1:predict",
                                    {"inputs": {"item_ids": [history], "k": 4, "exclude_history": True}})
    assert status == 200 and len(columns["outputs"]["item_ids"][0]) == 4
    assert not set(columns["outputs"]["item_ids"][0]) & set(history)
    status, step = endpoint.rest(model + ":predict", {"signature_name": "step", "instances": [
        {"item_id": {"b64": base64.b64encode(history[0].encode()).decode()}, "state": [0.0] * endpoint.state_size}]})
    assert status == 200 and len(step["predictions"][0]["item_ids"]) == 10


def test_rest_status_and_metadata(endpoint):
    model = f"/v1/models/{endpoint.model_name}"
    status, answer = endpoint.rest(model)
    assert status == 200 and answer["model_version_status"][0]["state"] == "AVAILABLE"
    status, answer = endpoint.rest(model + "/versions/1/metadata")
    assert status == 200 and answer["model_spec"]["name"] == endpoint.model_name
    assert {"serving_default", "step", "encode"} <= set(answer["metadata"]["signature_def"]["signature_def"])
    assert endpoint.rest(model + "/versions/999")[0] == 404
    assert endpoint.rest("/v1/models/no-such-model:predict", {"instances": [[endpoint.items[0]]]})[0] == 404


@pytest.mark.parametrize("body", [
    b"not json",
    {"instances": [{"item_ids": ["x"]}], "inputs": {"item_ids": [["x"]]}},
    {"instances": [{"item_ids": [1, 2]}]},
    {"instances": [{"item_ids": ["x"]}, {"item_ids": ["x", "x"]}]},
    {"inputs": {"item_ids": [["x"]], "k": 0}},
    {"inputs": {"item_ids": [["x"]], "k": 2.5}},
    {"inputs": {"item_ids": [["x"]], "k": 10 ** 12}},
    {"inputs": {"item_ids": [[]]}},
    {"inputs": {"item_ids": [["unknown"]]}},
    {"inputs": {"k": 3}},
    {"instances": [{"item_ids": ["x"], "k": 3}]},
    {"signature_name": "no-such-signature", "inputs": {"item_ids": [["x"]]}},
    {"signature_name": "__saved_model_init_op", "inputs": {"item_ids": [["x"]]}},
])
def test_rest_malformed_requests_are_400(endpoint, body):
    if isinstance(body, dict):
        body = json.loads(json.dumps(body).replace('"x"', json.dumps(endpoint.items[0])))
    status, answer = endpoint.rest(f"/v1/models/{endpoint.model_name}:predict", body)
    assert status == 400 and answer["error"]
    status, _ = endpoint.rest(f"/v1/models/{endpoint.model_name}:predict", {"instances": [{"item_ids": [endpoint.items[0]]}]})
    assert status == 200


def test_sigterm_stops_the_local_server_cleanly(local_server):
    process = local_server[0]
    process.send_signal(signal.SIGTERM)
    start = time.monotonic()
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "stopped" in out and time.monotonic() - start < 30


def test_only_predict_signatures_are_servable_and_listed_as_known(exported):  # noqa: F811
    """The SavedModel's own `__saved_model_init_op` (method "") answered 500 / UNKNOWN and was listed
    among the known signatures."""
    from zoo.export.servable import ServingError

    _, out = exported("gru4rec")
    servable = Servable(str(out))
    try:
        assert servable.servable_signatures == ["encode", "serving_default", "step"]
        assert "__saved_model_init_op" in servable.signatures  # the metadata lists it, as TF Serving's does
        for name, words in [("__saved_model_init_op", "cannot be served"), ("nope", "not found")]:
            with pytest.raises(ServingError) as error:
                servable.predict(name, {"item_ids": strings([["x"]])})
            assert error.value.code == "INVALID_ARGUMENT" and words in error.value.message
            assert error.value.message.endswith("encode, serving_default, step")
    finally:
        servable.close()


def test_the_highest_integer_version_folder_is_served(exported, tmp_path):  # noqa: F811
    """As tensorflow_model_server's default policy: integer folders only, the highest one."""
    import shutil

    _, out = exported("gru4rec")
    base = tmp_path / "model"
    for name in ("3", "12", "007x", ".tmp-5", "99.bak"):
        shutil.copytree(out / "saved_model" / "1", base / name)
    servable = Servable(str(base))
    try:
        assert servable.version == 12
        servable.check_spec("default", 12)
        from zoo.export.servable import ServingError

        with pytest.raises(ServingError) as error:
            servable.check_spec("default", 3)
        assert error.value.code == "NOT_FOUND"
    finally:
        servable.close()

