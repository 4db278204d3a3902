"""`zoo train --validation` (per-epoch Recall@20 / MRR@20 in train_log.json) and `--tensorboard`."""
import json
import os

import pytest

from metric_reference import session_metrics
from zoo import runs
from zoo.cli import main
from zoo.datasets.io import load_events

SMALL = ["--set", "layers=8", "--set", "n_sample=16", "--set", "batch_size=16", "--epochs", "2", "--quiet"]


def test_validation_metrics_per_epoch_equal_the_final_evaluation(small_split, tmp_path, capsys):
    out, board = tmp_path / "run", tmp_path / "board"
    assert main(["train", "--model", "gru4rec", "--train", str(small_split / "train.tsv"), "--validation",
                 str(small_split / "test.tsv"), "--tensorboard", str(board), *SMALL, "--out", str(out)]) in (0, None)
    log = json.loads((out / "train_log.json").read_text())
    assert [row["epoch"] for row in log] == [1, 2]
    assert 0 <= log[0]["val_mrr@20"] <= log[0]["val_recall@20"] <= 1  # the first epoch's model is not kept
    capsys.readouterr()
    test = str(small_split / "test.tsv")
    assert main(["evaluate", str(out), "--test", test, "--cutoffs", "20", "--json"]) in (0, None)
    final = json.loads(capsys.readouterr().out)
    run = runs.load_run(out)
    expected = session_metrics(run.model, load_events(test), run.vocab, (20,))
    assert {key: final[key] for key in expected} == pytest.approx(expected, rel=1e-9)
    assert log[-1]["val_recall@20"] == pytest.approx(final["recall@20"])
    assert log[-1]["val_mrr@20"] == pytest.approx(final["mrr@20"])
    events = [name for _, _, files in os.walk(board) for name in files if "tfevents" in name]
    assert events, "no TensorBoard event file"


def test_baselines_refuse_the_training_only_options(small_split, tmp_path):
    assert main(["train", "--model", "sr", "--train", str(small_split / "train.tsv"),
                 "--validation", str(small_split / "test.tsv"),
                 "--out", str(tmp_path / "sr")]) == 2
