"""TFLite export: built-in ops only, batch-1 signatures, parity with the Keras model (ai_edge_litert)."""
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from zoo.export.tflite import interpreter
from export_fixtures import MODELS, exported, log, pad, sessions  # noqa: F401 (fixtures)


def runner(out, name="model.tflite", signature="recommend"):
    return Interpreter(model_path=str(out / name)).get_signature_runner(signature)


def keras_scores(run, histories):
    return run.model(pad([list(run.vocab.encode(h)) for h in histories], -1).astype(np.int32)).numpy()


def test_builtin_ops_and_signatures(exported):  # noqa: F811
    _, out = exported("gru4rec")
    interpreter = Interpreter(model_path=str(out / "model.tflite"))
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "WHILE" in ops and "HASHTABLE_FIND" in ops
    assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"], ops
    signatures = interpreter.get_signature_list()
    assert sorted(signatures["recommend"]["inputs"]) == ["item_ids"]
    assert sorted(signatures["step"]["inputs"]) == ["item_id", "state"]
    assert sorted(signatures["step"]["outputs"]) == ["item_ids", "scores", "state"]


@pytest.mark.parametrize("model_name", MODELS)
def test_float32_matches_keras(exported, log, model_name):  # noqa: F811
    run, out = exported(model_name)
    recommend = runner(out)
    same_top10, max_delta = [], 0.0
    histories = sessions(log)
    for history, expected in zip(histories, keras_scores(run, histories)):
        got = recommend(item_ids=np.array([history], dtype=object))
        indices = run.vocab.encode([i.decode() for i in got["item_ids"][0]])
        max_delta = max(max_delta, float(np.abs(got["scores"][0] - expected[indices]).max()))
        same_top10.append(list(indices[:10]) == list(np.argsort(-expected, kind="stable")[:10]))
    assert max_delta <= 1e-4 and np.mean(same_top10) >= 0.99, (max_delta, np.mean(same_top10))
    assert got["item_ids"].shape == (1, 50)


def test_step_streams_a_session_like_recommend(exported, log):  # noqa: F811
    run, out = exported("lstm")
    step, recommend = runner(out, signature="step"), runner(out)
    history = sessions(log, 1)[0]
    state = np.zeros((1, sum(run.model.state_sizes)), np.float32)
    for item in history:
        unchanged = step(item_id=np.array(["unknown"], dtype=object), state=state)
        np.testing.assert_array_equal(unchanged["state"], state)
        result = step(item_id=np.array([item], dtype=object), state=state)
        state = result["state"]
    whole = recommend(item_ids=np.array([history + ["", "nope"]], dtype=object))
    assert list(result["item_ids"][0]) == list(whole["item_ids"][0])
    np.testing.assert_allclose(result["scores"], whole["scores"], rtol=1e-5, atol=1e-5)


def test_quantized_variants_are_smaller_and_keep_the_top10(exported, log):  # noqa: F811
    """fp16: the same top-10 lists on >= 90% of sessions; int8: >= 9 of the 10 items on average."""
    _, out = exported("gru4rec")
    sizes = {name: (out / name).stat().st_size for name in ("model.tflite", "model_fp16.tflite", "model_int8.tflite")}
    assert sizes["model_fp16.tflite"] < sizes["model.tflite"] and sizes["model_int8.tflite"] < sizes["model.tflite"]
    histories = [np.array([s], dtype=object) for s in sessions(log, 100)]
    full = runner(out)
    top10 = [list(full(item_ids=h)["item_ids"][0][:10]) for h in histories]
    for name in ("model_fp16.tflite", "model_int8.tflite"):
        quantized = interpreter(str(out / name))
        recommend, step = quantized.get_signature_runner("recommend"), quantized.get_signature_runner("step")
        got = [list(recommend(item_ids=h)["item_ids"][0][:10]) for h in histories]
        same_list = np.mean([g == top for g, top in zip(got, top10)])
        overlap = np.mean([len(set(g) & set(top)) / 10 for g, top in zip(got, top10)])
        assert (same_list if name == "model_fp16.tflite" else overlap) >= 0.9, (name, same_list, overlap)
        first = step(item_id=histories[0][0, :1], state=np.zeros((1, 16), np.float32))
        assert first["state"].shape == (1, 16) and np.abs(first["state"]).max() > 0
