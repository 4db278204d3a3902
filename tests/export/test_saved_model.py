"""SavedModel export: layout, ops a CPU-only TF Serving can run, and every signature against the Keras model,
run the way TF Serving runs them (SignatureDefs in a TF1 session, `zoo.export.servable`)."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework.kernels import get_registered_kernels_for_op

from export_fixtures import MODELS, exported, log, pad, sessions  # noqa: F401 (fixtures)
from zoo.cli import main
from zoo.export.servable import Servable, ServingError


@pytest.fixture(scope="module", params=MODELS)
def case(request, exported):  # noqa: F811
    run, out = exported(request.param)
    servable = Servable(str(out))
    yield run, out, servable
    servable.close()


@pytest.fixture(scope="module")
def gru_servable(exported):  # noqa: F811
    servable = Servable(str(exported("gru4rec")[1]))
    yield servable
    servable.close()


def keras_scores(run, histories):
    indices = [list(run.vocab.encode(h)) for h in histories]
    return run.model(pad(indices, -1).astype(np.int32)).numpy()


def predict(servable, signature, **inputs):
    arrays = {k: np.array(v, dtype=object) if isinstance(v, list) and k.startswith("item") else np.asarray(v)
              for k, v in inputs.items()}
    return servable.predict(signature, arrays)


def decoded(ids):
    return [[i.decode() for i in row] for row in ids]


def test_layout_and_export_info(case):
    run, out, servable = case
    names = sorted(os.listdir(out))
    assert names == ["export.json", "item_bias.npy", "item_vectors.npy", "model.tflite", "model_fp16.tflite",
                     "model_int8.tflite", "saved_model", "vocab.json"]
    assert sorted(os.listdir(out / "saved_model")) == ["1"] and servable.version == 1
    info = json.loads((out / "export.json").read_text())
    assert info["state_size"] == sum(run.model.state_sizes) and info["max_k"] == 50 and info["default_k"] == 10
    np.testing.assert_array_equal(np.load(out / "item_vectors.npy"), run.model.item_vectors.numpy())
    assert sorted(servable.signatures) == ["__saved_model_init_op", "encode", "serving_default", "step"]


def graph_ops(saved_model_dir):
    """The ops of a SavedModel's graph and of its functions (calls of the graph's own functions left out)."""
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((saved_model_dir / "saved_model.pb").read_bytes())
    graph = saved.meta_graphs[0].graph_def
    ops = {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
    return ops - {f.signature.name for f in graph.library.function}


def without_cpu_kernel(ops):
    """The ops a CPU-only TensorFlow (TF Serving on a CPU host) cannot run: no CPU (or any-device) kernel.

    The CuDNN ops are such (CudnnRNN*: GPU only), and a graph gets them where a Keras GRU / LSTM layer
    is traced with a GPU visible, as on a training machine: an export made there would not serve on CPU.
    """
    return sorted(op for op in ops
                  if not {"CPU", "DEFAULT"} & {k.device_type for k in get_registered_kernels_for_op(op).kernel})


def test_graph_has_only_ops_with_cpu_kernels(case):
    _, out, _ = case
    ops = graph_ops(out / "saved_model" / "1")
    assert "MatMul" in ops and without_cpu_kernel(ops) == []


def test_cpu_kernel_check_finds_a_cudnn_op(tmp_path):
    # What a Keras GRU traced with a GPU visible puts in a graph, traced here on purpose (never run).
    class CudnnGRU(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([5, 2, 3], tf.float32)])
        def run(self, x):
            h = tf.zeros([1, 2, 4])
            return tf.raw_ops.CudnnRNNV3(input=x, input_h=h, input_c=h, params=tf.zeros([84]),
                                         sequence_lengths=tf.fill([2], 5), rnn_mode="gru")[0]

    module = CudnnGRU()
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.run})
    ops = graph_ops(tmp_path)
    assert "CudnnRNNV3" in ops and without_cpu_kernel(ops) == ["CudnnRNNV3"]


def test_serving_default_matches_keras(case, log):  # noqa: F811
    run, _, servable = case
    histories = sessions(log, 40)
    expected = keras_scores(run, histories)
    got = predict(servable, "serving_default", item_ids=pad(histories).tolist(), k=np.int32(10))
    top = np.argsort(-expected, axis=1, kind="stable")[:, :10]
    assert decoded(got["item_ids"]) == [list(run.vocab.decode(row)) for row in top]
    np.testing.assert_allclose(got["scores"], np.take_along_axis(expected, top, 1), rtol=1e-5, atol=1e-5)


def test_unknown_and_pad_ids_are_skipped_and_k_defaults(case, log):  # noqa: F811
    _, _, servable = case
    history = sessions(log, 1)[0]
    noisy = ["nope", *history[:2], "", "zz", *history[2:]]
    clean = predict(servable, "serving_default", item_ids=[history])
    dirty = predict(servable, "serving_default", item_ids=[noisy + [""] * 3])
    assert clean["item_ids"].shape == (1, 10)
    assert decoded(dirty["item_ids"]) == decoded(clean["item_ids"])
    np.testing.assert_allclose(dirty["scores"], clean["scores"], rtol=1e-6)


def test_exclude_history(case, log):  # noqa: F811
    run, _, servable = case
    histories = sessions(log, 20)
    got = predict(servable, "serving_default", item_ids=pad(histories).tolist(), k=np.int32(30),
                  exclude_history=np.bool_(True))
    scores = keras_scores(run, histories)
    for row, history, ids in zip(scores, histories, decoded(got["item_ids"])):
        assert not set(ids) & set(history)
        row[run.vocab.encode(history)] = -np.inf
        assert ids == list(run.vocab.decode(np.argsort(-row, kind="stable")[:30]))


def test_step_streams_a_session_and_ignores_unknown_ids(case, log):  # noqa: F811
    run, _, servable = case
    history = sessions(log, 3)[2]
    state = np.zeros((1, sum(run.model.state_sizes)), np.float32)
    for item in history:
        before = state
        unchanged = predict(servable, "step", item_id=["no-such-item"], state=state)
        np.testing.assert_array_equal(unchanged["state"], before)
        out = predict(servable, "step", item_id=[item], state=state, k=np.int32(5))
        state = out["state"]
    whole = predict(servable, "serving_default", item_ids=[history], k=np.int32(5))
    assert decoded(out["item_ids"]) == decoded(whole["item_ids"])
    np.testing.assert_allclose(out["scores"], whole["scores"], rtol=1e-5, atol=1e-5)
    padded = predict(servable, "step", item_id=[""], state=state, k=np.int32(5))
    assert decoded(padded["item_ids"]) == decoded(whole["item_ids"])


def test_encode_gives_query_vectors_of_the_scores_and_a_state_to_continue(case, log):  # noqa: F811
    run, out, servable = case
    histories = sessions(log, 10)
    encoded = predict(servable, "encode", item_ids=pad(histories).tolist())
    hidden, _ = run.model.encode(pad([list(run.vocab.encode(h)) for h in histories], -1).astype(np.int32))
    np.testing.assert_allclose(encoded["session_vector"], hidden.numpy(), rtol=1e-5, atol=1e-6)
    items = np.hstack([np.load(out / "item_vectors.npy"), np.load(out / "item_bias.npy")[:, None]])
    np.testing.assert_allclose(encoded["query_vector"] @ items.T, keras_scores(run, histories), rtol=1e-4, atol=1e-4)
    first = predict(servable, "encode", item_ids=[histories[0][:-1]])
    last = predict(servable, "step", item_id=[histories[0][-1]], state=first["state"])
    whole = predict(servable, "serving_default", item_ids=[histories[0]])
    assert decoded(last["item_ids"]) == decoded(whole["item_ids"])


def test_tf2_loading_gives_the_same_answers(case, log):  # noqa: F811
    _, out, servable = case
    history = pad(sessions(log, 5))
    loaded = tf.saved_model.load(str(out / "saved_model" / "1"))
    tf2 = loaded.signatures["serving_default"](item_ids=tf.constant(history), k=tf.constant(7),
                                               exclude_history=tf.constant(False))
    tf1 = predict(servable, "serving_default", item_ids=history.tolist(), k=np.int32(7))
    assert decoded(tf2["item_ids"].numpy()) == decoded(tf1["item_ids"])


@pytest.mark.parametrize("signature, inputs, words", [
    ("serving_default", {"item_ids": [["item-1"]], "k": np.int32(0)}, "k must be between 1 and 50"),
    ("serving_default", {"item_ids": [["item-1"]], "k": np.int32(51)}, "k must be between 1 and 50"),
    ("serving_default", {"item_ids": [["nope", ""], ["item-1", "item-2"]]}, "at least one known item"),
    ("serving_default", {"item_ids": np.zeros((1, 0), object)}, "at least one known item"),
    ("encode", {"item_ids": [["", ""]]}, "at least one known item"),
    ("serving_default", {"item_ids": np.array([[1, 2]])}, "must be string"),
    ("serving_default", {"item_ids": ["item-1"]}, "must have rank 2"),
    ("serving_default", {"item_ids": [["item-1"]], "k": np.float32(3)}, "must be int32"),
    ("serving_default", {"k": np.int32(3)}, "missing ['item_ids']"),
    ("serving_default", {"item_ids": [["item-1"]], "kk": np.int32(3)}, "unknown ['kk']"),
    ("step", {"item_id": ["item-1"], "state": np.zeros((2, 1), np.float32)}, "must have shape"),
    ("step", {"item_id": ["item-1", "item-2"], "state": np.zeros((1, 16), np.float32)}, "same batch size"),
    ("nope", {"item_ids": [["item-1"]]}, "signature key 'nope' not found"),
])
def test_malformed_requests_are_invalid_arguments(gru_servable, signature, inputs, words):
    servable = gru_servable
    with pytest.raises(ServingError) as error:
        predict(servable, signature, **inputs)
    assert error.value.code == "INVALID_ARGUMENT" and words in error.value.message, error.value.message
    assert predict(servable, "serving_default", item_ids=[["item-1"]])["item_ids"].shape == (1, 10)


def test_cli_versions_overwrite_and_formats(exported, tmp_path, capsys):  # noqa: F811
    from zoo import runs

    run, _ = exported("simple_rnn")
    run_dir = tmp_path / "run"
    runs.save_run(str(run_dir), run.model, run.vocab, run.info, [])
    out = tmp_path / "out"
    assert main(["export", str(run_dir), "--out", str(out), "--format", "saved_model"]) in (0, None)
    capsys.readouterr()
    assert main(["export", str(run_dir), "--out", str(out), "--format", "saved_model"]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert main(["export", str(run_dir), "--out", str(out), "--format", "saved_model", "--version", "2"]) in (0, None)
    assert sorted(os.listdir(out / "saved_model")) == ["1", "2"]
    assert not [n for n in os.listdir(out) if n.endswith(".tflite") or n.startswith(".tmp")]
    assert Servable(str(out)).version == 2
    for bad, words in [(["--max-k", "0"], "default k"), (["--version", "0"], "--version must be")]:
        capsys.readouterr()
        assert main(["export", str(run_dir), "--out", str(out), *bad]) == 2
        assert words in capsys.readouterr().err
