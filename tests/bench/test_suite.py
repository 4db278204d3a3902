"""`zoo bench all`: the parts' figures grouped into one JSON object (serving stubbed: `test_export_bench` times it)."""
import json
import os

import pytest

from metric_reference import session_metrics
from zoo.bench import suite
from zoo.cli import main
from zoo.datasets.io import load_events
from zoo.export import exporter


def test_bench_all_groups_pipeline_train_evaluate_and_serve_of_a_fresh_export(small_split, tmp_path, monkeypatch,
                                                                               capsys):
    exported = []

    def export_run(run, out_dir):
        os.makedirs(out_dir)
        exported.append((run.info["model"], run.model.n_items, out_dir, run))

    def bench_serve(export_dir, requests):
        assert export_dir == exported[-1][2] and os.path.isdir(export_dir)
        return {"latency": {"saved_model.step.in_process": {"p50_ms": 1.0, "p99_ms": 2.0}}, "requests": requests}

    monkeypatch.setattr(exporter, "export_run", export_run)
    monkeypatch.setattr(suite, "bench_serve", bench_serve)
    out = tmp_path / "bench.json"
    capsys.readouterr()
    assert main(["bench", "all", "--train", str(small_split / "train.tsv"), "--test", str(small_split / "test.tsv"),
                 "--requests", "3", "--json", "--out", str(out)]) in (0, None)
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads(out.read_text())
    assert set(report) == {"pipeline", "train", "evaluate", "serve"}
    assert report["pipeline"]["source"] == str(small_split / "train.tsv") and report["train"]["epochs"] == 1
    assert report["train"]["preset"] == suite.PRESET and report["serve"]["requests"] == 3
    run = exported[0][3]  # the model the suite trained and evaluated
    expected = session_metrics(run.model, load_events(small_split / "test.tsv"), run.vocab, (20,))
    assert {key: report["evaluate"][key] for key in expected} == pytest.approx(expected, rel=1e-9)
    assert report["evaluate"]["events"] > 0 and report["evaluate"]["seconds"] > 0
    assert exported[0][0] == "gru4rec" and not os.path.exists(exported[0][2])  # the temporary export is gone


def test_bench_all_rejects_a_bad_request_count():
    assert main(["bench", "all", "--requests", "0"]) == 2
