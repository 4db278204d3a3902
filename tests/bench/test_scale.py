"""`zoo bench scale-run` and `zoo bench measure`: the synthetic run evaluates; a child's time and peak memory."""
import json
import sys

import pandas as pd
import pytest

from zoo.bench.scale import make_scale_run, measure
from zoo.cli import main
from zoo.evaluation import evaluate
from zoo.runs.directory import load_run


def test_synthetic_run_and_test_log(tmp_path):
    run_dir, test_path = make_scale_run(str(tmp_path), n_items=50, layers=(8,), n_events=31, seed=1)
    test = pd.read_csv(test_path, sep="\t")
    assert len(test) == 31 and test.groupby("SessionId").size().between(2, 9).all()
    run = load_run(run_dir)
    assert run.model.n_items == 50 and len(run.vocab) == 50
    metrics = evaluate(run.model, test, run.vocab, cutoffs=(20,), chunk_size=7)
    assert metrics["events"] == 31 - test.SessionId.nunique()


def test_measure_reads_the_child_alone(capsys):
    result = measure([sys.executable, "-c", "x = bytearray(200 * 2 ** 20); x[::4096] = b'1' * len(x[::4096])"])
    assert result["returncode"] == 0 and result["peak_rss_mb"] >= 200 and result["seconds"] > 0
    assert main(["bench", "measure", "--", sys.executable, "-c", "raise SystemExit(3)"]) == 1
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["returncode"] == 3


def test_scale_logs_hold_every_item_in_sessions_of_two_to_eight_clicks(tmp_path):
    import pandas as pd

    from zoo.bench.scale import write_scale_logs

    train_path, test_path = write_scale_logs(tmp_path, n_items=500, train_events=300, test_events=41)
    train, test = pd.read_csv(train_path, sep="\t"), pd.read_csv(test_path, sep="\t")
    assert len(train) == 500 and sorted(train.ItemId.unique()) == list(range(500)) and len(test) == 41
    for log in (train, test):
        assert log.groupby("SessionId").size().between(2, 9).all()  # the remainder may join the last session
    assert test.Time.min() > train.Time.max()


def test_zoo_bench_scale_measures_train_evaluate_and_export_per_catalogue(tmp_path, capsys):
    from zoo.cli import main

    argv = ["bench", "scale", "--out", str(tmp_path), "--items", "150", "--train-events", "400", "--test-events", "40",
            "--units", "4", "--n-sample", "8", "--json"]
    assert main(argv) in (0, None)
    (row,) = json.loads(capsys.readouterr().out)
    assert row["items"] == 150 and row["train_events"] == 400 and row["step_ms_p50"] > 0
    assert row["tables_mb"] == pytest.approx(3 * 150 * 5 * 4 / 2 ** 20, abs=0.05)
    assert row["export_mb"] > 0 and row["export_peak_rss_mb"] > 0 and row["evaluate_peak_rss_mb"] > 0
    assert row["step_p50_ms"] > 0 and row["recommend_p50_ms"] > 0 and row["serve_peak_rss_mb"] > 0
    assert len(json.loads((tmp_path / "items-150" / "run" / "vocab.json").read_text())["ids"]) == 150
    assert main([*argv[:4], "--items", "10,x"]) == 2
