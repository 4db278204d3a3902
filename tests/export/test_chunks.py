"""Large catalogues: the SavedModel's top-k over item chunks answers as the whole score matrix does (ids,
scores, order, ties), and TFLite refuses a model larger than a flatbuffer can hold, before any work.

The models are small and untrained, with groups of items that share one vector and bias (exact ties
in every row, across chunks); `chunk_items` forces the chunked graph on them.
"""
import os

import numpy as np
import pytest
import tensorflow as tf
from export_fixtures import exported  # noqa: F401 (fixture)
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework.kernels import get_registered_kernels_for_op
from zoo.datasets.vocab import Vocabulary
from zoo.export import tflite
from zoo.export.exporter import export_run
from zoo.export.saved_model import serving_module
from zoo.export.servable import Servable
from zoo.export.signatures import PAD_SCORE

import zoo
from zoo.errors import UserError
from zoo.runs.directory import Run

N_ITEMS = 103
IDS = [f"i{j}" for j in range(N_ITEMS)]
USERS = ["u0", "u1"]


def tied_model(name="gru4rec"):
    """Items 3, 50..59 and 90..102 share one vector and bias: 24 items with equal scores in every row."""
    model = zoo.get_model(name, n_items=N_ITEMS, layers=[8], **({"n_users": 2} if name != "gru4rec" else {}))
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((N_ITEMS, 8)).astype(np.float32)
    bias = rng.standard_normal(N_ITEMS).astype(np.float32)
    for group in (slice(50, 60), slice(90, None)):
        vectors[group], bias[group] = vectors[3], bias[3]
    model.item_vectors.assign(vectors)
    model.item_bias.assign(bias)
    return model


def arrays(result):
    return {key: value.numpy() for key, value in result.items()}


def assert_same(got, expected, what):
    assert sorted(got) == sorted(expected), what
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=f"{what}: {key}")


@pytest.mark.parametrize("name", ["gru4rec", "user_gru"])
def test_chunked_graph_answers_as_the_whole_graph(name):
    model = tied_model(name)
    users = USERS if model.personalized else None
    whole = serving_module(model, IDS, max_k=N_ITEMS, user_ids=users, chunk_items=None)
    assert whole.chunk_items is None and serving_module(model, IDS, user_ids=users, chunk_items=N_ITEMS).chunk_items is None
    histories = tf.constant([["i3", "i5", ""], ["i50", "", ""], ["i1", "i2", "i3"], ["i90", "i91", "nope"]])
    user = {"user_id": tf.constant(["u1", "zz", "u0", "u1"])} if users else {}
    state = tf.constant(np.random.default_rng(1).standard_normal((4, sum(model.state_sizes))).astype(np.float32))
    for size in (2, 7, 16, 51, 102):
        chunked = serving_module(model, IDS, max_k=N_ITEMS, user_ids=users, chunk_items=size)
        assert chunked.chunk_items == size
        for k in (1, 10, 24, 50, N_ITEMS):
            for exclude in (False, True):
                args = (histories, *user.values(), tf.constant(k), tf.constant(exclude))
                expected = arrays(whole.serving_default(*args))
                assert_same(arrays(chunked.serving_default(*args)), expected, f"chunks of {size}, k {k}, {exclude}")
            step = (tf.constant(["i3", "zz", "i90", "i0"]), state, *user.values(), tf.constant(k))
            assert_same(arrays(chunked.step_fn(*step)), arrays(whole.step_fn(*step)), f"step, chunks of {size}, k {k}")
    # the ties come out in index order, and with exclude_history a row runs out of items into pads
    top = arrays(whole.serving_default(histories, *user.values(), tf.constant(N_ITEMS), tf.constant(True)))
    ids = [i.decode() for i in top["item_ids"][1]]
    group = [ids.index(f"i{j}") for j in [3, *range(51, 60), *range(90, N_ITEMS)]]
    assert group == sorted(group) and group[-1] - group[0] == len(group) - 1
    assert ids[-1] == "" and top["scores"][1][-1] == np.float32(PAD_SCORE) and "i50" not in ids


def graph_ops(saved_model_dir):
    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    graph = saved.meta_graphs[0].graph_def
    ops = {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
    return ops - {f.signature.name for f in graph.library.function}


def test_chunked_saved_model_serves_as_the_whole_one(tmp_path):
    run = Run(tied_model(), Vocabulary(np.array(IDS, dtype=object), "str"), {"model": "gru4rec"})
    export_run(run, str(tmp_path / "whole"), formats=("saved_model",), max_k=60, chunk_items=N_ITEMS)
    export_run(run, str(tmp_path / "chunked"), formats=("saved_model",), max_k=60, chunk_items=7)
    ops = graph_ops(tmp_path / "chunked" / "saved_model" / "1")
    assert {"While", "StatelessWhile"} & ops and "TopKV2" in ops
    assert not [op for op in ops if not {"CPU", "DEFAULT"} & {k.device_type for k in
                                                             get_registered_kernels_for_op(op).kernel}]
    whole, chunked = Servable(str(tmp_path / "whole")), Servable(str(tmp_path / "chunked"))
    try:
        histories = np.array([["i3", "i5", ""], ["i50", "", ""], ["i1", "i2", "i3"]], dtype=object)
        for k in (1, 10, 60):
            for exclude in (False, True):
                request = {"item_ids": histories, "k": np.int32(k), "exclude_history": np.bool_(exclude)}
                assert_same(chunked.predict("serving_default", request), whole.predict("serving_default", request),
                            f"k {k}, {exclude}")
            state = np.zeros((3, 8), np.float32)
            for item in ("i3", "i50", "zz"):
                request = {"item_id": np.array([item, "i90", ""], dtype=object), "state": state, "k": np.int32(k)}
                expected = whole.predict("step", request)
                assert_same(chunked.predict("step", request), expected, f"step {item}, k {k}")
                state = expected["state"]
    finally:
        whole.close()
        chunked.close()


def test_tflite_over_the_flatbuffer_limit_is_refused_before_any_work(tmp_path, monkeypatch):
    run = Run(tied_model(), Vocabulary(np.array(IDS, dtype=object), "str"), {"model": "gru4rec"})
    size = tflite.estimated_size(run.model, IDS)
    monkeypatch.setattr(tflite, "FLATBUFFER_LIMIT", size - 1)
    out = tmp_path / "export"
    with pytest.raises(UserError) as error:
        export_run(run, str(out))
    message = str(error.value)
    assert "\n" not in message and f"{size / 1e6:,.0f} MB" in message and "flatbuffer" in message
    assert "--format saved_model" in message
    assert not out.exists() and os.listdir(tmp_path) == []
    monkeypatch.setattr(tflite, "FLATBUFFER_LIMIT", size)
    tflite.check_size(run.model, IDS)  # at the limit: no refusal
    export_run(run, str(out), formats=("saved_model",))  # a SavedModel has no such limit
    assert os.listdir(out / "saved_model") == ["1"]


def test_estimated_size_is_the_float32_files(exported):  # noqa: F811
    run, out = exported("gru4rec")
    ids = [str(i) for i in run.vocab.decode(np.arange(len(run.vocab)))]
    actual = os.path.getsize(out / "model.tflite")
    estimated = tflite.estimated_size(run.model, ids)
    assert 0 < actual - estimated < 64_000, (actual, estimated)  # the graph's ops and metadata
