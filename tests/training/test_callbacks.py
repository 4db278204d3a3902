"""`zoo train --validation` (per-epoch Recall@20 / MRR@20 in train_log.json) and `--tensorboard`."""
import json
import os

import pytest

from zoo.cli import main

SMALL = ["--set", "layers=8", "--set", "n_sample=16", "--set", "batch_size=16", "--epochs", "2", "--quiet"]


def test_validation_metrics_per_epoch_equal_the_final_evaluation(small_split, tmp_path, capsys):
    out, board = tmp_path / "run", tmp_path / "board"
    assert main(["train", "--model", "gru4rec", "--train", str(small_split / "train.tsv"), "--validation",
                 str(small_split / "test.tsv"), "--tensorboard", str(board), *SMALL, "--out", str(out)]) in (0, None)
    log = json.loads((out / "train_log.json").read_text())
    assert [row["epoch"] for row in log] == [1, 2]
    assert all(0 <= row["val_mrr@20"] <= row["val_recall@20"] <= 1 for row in log)
    capsys.readouterr()
    test = str(small_split / "test.tsv")
    assert main(["evaluate", str(out), "--test", test, "--cutoffs", "20", "--json"]) in (0, None)
    final = json.loads(capsys.readouterr().out)
    assert log[-1]["val_recall@20"] == pytest.approx(final["recall@20"])
    assert log[-1]["val_mrr@20"] == pytest.approx(final["mrr@20"])
    events = [name for _, _, files in os.walk(board) for name in files if "tfevents" in name]
    assert events, "no TensorBoard event file"


def test_baselines_refuse_the_training_only_options(small_split, tmp_path):
    assert main(["train", "--model", "sr", "--train", str(small_split / "train.tsv"),
                 "--validation", str(small_split / "test.tsv"),
                 "--out", str(tmp_path / "sr")]) == 2
