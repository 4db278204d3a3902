"""`zoo train --validation` (per-epoch Recall@20 / MRR@20 in train_log.json) and `--tensorboard`."""
import json
import os

import pytest

from zoo.cli import main

SMALL = ["--set", "layers=8", "--set", "n_sample=16", "--set", "batch_size=16", "--epochs", "2", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    assert main(["datasets", "synth", "--out", str(root / "log.tsv"), "--users", "100", "--items", "60"]) in (0, None)
    assert main(["datasets", "prep", str(root / "log.tsv"), "--out", str(root / "prep"), "--test-days", "3"]) in (0, None)
    return root / "prep"


def test_validation_metrics_per_epoch_equal_the_final_evaluation(data, tmp_path, capsys):
    out, board = tmp_path / "run", tmp_path / "board"
    assert main(["train", "--model", "gru4rec", "--train", str(data / "train.tsv"), "--validation",
                 str(data / "test.tsv"), "--tensorboard", str(board), *SMALL, "--out", str(out)]) in (0, None)
    log = json.loads((out / "train_log.json").read_text())
    assert [row["epoch"] for row in log] == [1, 2]
    assert all(0 <= row["val_mrr@20"] <= row["val_recall@20"] <= 1 for row in log)
    capsys.readouterr()
    assert main(["evaluate", str(out), "--test", str(data / "test.tsv"), "--cutoffs", "20", "--json"]) in (0, None)
    final = json.loads(capsys.readouterr().out)
    assert log[-1]["val_recall@20"] == pytest.approx(final["recall@20"])
    assert log[-1]["val_mrr@20"] == pytest.approx(final["mrr@20"])
    events = [name for _, _, files in os.walk(board) for name in files if "tfevents" in name]
    assert events, "no TensorBoard event file"


def test_baselines_refuse_the_training_only_options(data, tmp_path):
    assert main(["train", "--model", "sr", "--train", str(data / "train.tsv"), "--validation", str(data / "test.tsv"),
                 "--out", str(tmp_path / "sr")]) == 2
