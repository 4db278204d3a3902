"""One answer on every path: `zoo recommend`, the SavedModel (in a TF1 session, as TF Serving runs it, and
through `zoo serve`'s gRPC and REST) and TFLite give the same items, and every REST answer is strict JSON.

The case of a public bug report: with `exclude_history` and a k that reaches past the items left, the
SavedModel once returned the history items with score -inf (REST wrote `-Infinity`).
"""
import json
import urllib.request

import numpy as np
import pandas as pd
import pytest

from zoo.cli import main

ITEMS = [f"i{n:02d}" for n in range(8)]
HISTORY = ["i01", "i02", "i03"]


def strict_json(body):
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(body, parse_constant=refuse)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    root = tmp_path_factory.mktemp("one-answer")
    rows = [(f"s{s}", ITEMS[(s + t) % len(ITEMS)], s * 100.0 + t) for s in range(60) for t in range(4)]
    pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time"]).to_csv(root / "train.tsv", sep="\t", index=False)
    assert main(["train", "--train", str(root / "train.tsv"), "--out", str(root / "run"), "--epochs", "1", "--quiet",
                 "--set", "layers=8", "--set", "n_sample=4", "--set", "batch_size=8"]) in (0, None)
    assert main(["export", str(root / "run"), "--out", str(root / "export"), "--max-k", "8", "--default-k", "3"]) in (0, None)
    return root


def cli_items(root, capsys, k, exclude):
    capsys.readouterr()
    argv = ["recommend", str(root / "run"), "--items", ",".join(HISTORY), "-k", str(k), "--json"]
    assert main(argv + (["--exclude-history"] if exclude else [])) in (0, None)
    return json.loads(capsys.readouterr().out)["items"]


@pytest.mark.parametrize("k", [3, 8])
def test_exclude_history_gives_the_cli_items_then_pads_never_a_history_item(export, capsys, k):
    from zoo.export.servable import Servable
    from zoo.export.signatures import PAD_SCORE

    expected = cli_items(export, capsys, k, exclude=True)
    assert not set(expected) & set(HISTORY) and len(expected) == min(k, len(ITEMS) - len(HISTORY))
    servable = Servable(str(export / "export"))
    try:
        answer = servable.predict("serving_default", {"item_ids": np.array([HISTORY], dtype=object),
                                                      "k": np.int32(k), "exclude_history": np.bool_(True)})
    finally:
        servable.close()
    ids = [i.decode() for i in answer["item_ids"][0]]
    assert ids == expected + [""] * (k - len(expected))  # the CLI's items, in its order, then pads
    assert np.isfinite(answer["scores"]).all()
    assert (answer["scores"][0][len(expected):] == np.float32(PAD_SCORE)).all()


def test_the_saved_model_by_grpc_and_rest_and_tflite_give_the_cli_items(export, capsys):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    from zoo.export.server import Server
    from zoo.export.tflite import interpreter

    expected = cli_items(export, capsys, 8, exclude=True)
    with Server(str(export / "export"), "m", grpc_port=0, rest_port=0) as server:
        body = json.dumps({"inputs": {"item_ids": [HISTORY], "k": 8, "exclude_history": True}}).encode()
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/m:predict"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        rest = strict_json(opener.open(urllib.request.Request(url, data=body, method="POST"), timeout=30).read())
        stub = prediction_service_pb2_grpc.PredictionServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}", options=[("grpc.enable_http_proxy", 0)]))
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "m"
        for name, value in {"item_ids": np.array([HISTORY], dtype=object), "k": np.int32(8),
                            "exclude_history": np.bool_(True)}.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        reply = stub.Predict(request, timeout=30)
    by_grpc = [i.decode() for i in tf.make_ndarray(reply.outputs["item_ids"])[0]]
    assert [i for i in rest["outputs"]["item_ids"][0] if i] == expected == [i for i in by_grpc if i]
    # TFLite has no exclude_history: it returns max_k items; without the history items, the same order
    lite = interpreter(str(export / "export" / "model.tflite")).get_signature_runner("recommend")
    top = [i.decode() for i in lite(item_ids=np.array([HISTORY], dtype=object))["item_ids"][0]]
    assert [i for i in top if i not in HISTORY] == expected
    assert cli_items(export, capsys, 8, exclude=False) == top
