"""`zoo bench serve` and `zoo bench quantization` on a small export: what they report, not how fast."""
import json

import pytest

from export_fixtures import exported, log  # noqa: F401 (fixtures)
from zoo.cli import main
from zoo.evaluation import evaluate


def test_bench_serve_reports_every_case_and_the_sizes(exported, capsys):  # noqa: F811
    _, out = exported("gru4rec")
    capsys.readouterr()
    assert main(["bench", "serve", str(out), "--requests", "3", "--json"]) in (0, None)
    result = json.loads(capsys.readouterr().out)
    cases = {f"saved_model.{s}.{w}" for s in ("serving_default", "step") for w in ("in_process", "grpc", "rest")}
    cases |= {f"{m}.{s}" for m in ("model.tflite", "model_fp16.tflite", "model_int8.tflite")
              for s in ("recommend", "step")}
    assert set(result["latency"]) == cases
    assert all(0 < t["p50_ms"] <= t["p99_ms"] for t in result["latency"].values())
    assert set(result["sizes"]) == {"saved_model", "model.tflite", "model_fp16.tflite", "model_int8.tflite"}
    assert "load" not in result


def test_bench_serve_load_option_runs_the_load_test_on_both_protocols(exported, capsys):  # noqa: F811
    _, out = exported("gru4rec")
    capsys.readouterr()
    assert main(["bench", "serve", str(out), "--requests", "2", "--load", "4", "40", "--json"]) in (0, None)
    load = json.loads(capsys.readouterr().out)["load"]
    assert set(load) == {"grpc", "rest"}
    assert all((run["sent"], run["ok"], run["errors"]) == (40, 40, 0) for run in load.values())


def test_bench_quantization_float32_recall_is_the_keras_recall(exported, log, tmp_path, capsys):  # noqa: F811
    run, out = exported("gru4rec")
    test = log[log.SessionId.isin(log.SessionId.unique()[:60])]
    test.to_csv(tmp_path / "test.tsv", sep="\t", index=False)
    capsys.readouterr()
    assert main(["bench", "quantization", str(out), "--test", str(tmp_path / "test.tsv"), "--json"]) in (0, None)
    result = json.loads(capsys.readouterr().out)
    keras = evaluate(run.model, test, run.vocab, cutoffs=(20,))
    assert result["events"] == keras["events"]
    assert result["model.tflite"]["recall@20"] == pytest.approx(keras["recall@20"], abs=1.5 / keras["events"])
    assert result["model.tflite"]["mrr@20"] == pytest.approx(keras["mrr@20"], abs=1e-2)
    assert abs(result["model_int8.tflite"]["recall_change"]) < 0.05


def test_bench_parity_of_the_saved_model_and_tflite(exported, log, tmp_path, capsys):  # noqa: F811
    from zoo import runs

    run, out = exported("gru4rec")
    runs.save_run(str(tmp_path / "run"), run.model, run.vocab, run.info, [])
    log.to_csv(tmp_path / "test.tsv", sep="\t", index=False)
    capsys.readouterr()
    assert main(["bench", "parity", str(tmp_path / "run"), str(out), "--test", str(tmp_path / "test.tsv"),
                 "--json"]) in (0, None)
    result = json.loads(capsys.readouterr().out)
    assert result["sessions"] == log.SessionId.nunique()
    assert result["saved_model"]["max_abs_score_diff"] <= 1e-5 and result["saved_model"]["top10_identical"] == 1.0
    assert result["model.tflite"]["max_abs_score_diff"] <= 1e-4 and result["model.tflite"]["top10_identical"] >= 0.99
