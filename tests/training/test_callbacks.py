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


def test_progress_and_checkpoints_count_the_epochs_real_steps(small_split, monkeypatch, capsys):
    """Keras counts the last steps_per_execution call of an epoch as whole: the progress bar printed
    1472/1429, and a mid-epoch checkpoint there recorded more steps than were trained."""
    import re

    from zoo import training
    from zoo.datasets.io import load_events
    from zoo.datasets.vocab import Vocabulary
    from zoo.training import checkpoints, presets

    saved = []
    monkeypatch.setattr(checkpoints.Checkpoint, "save", lambda self, epoch, step: saved.append((epoch, step)))
    events = load_events(small_split / "train.tsv")
    config = presets.resolve(sets=["layers=8", "n_sample=8", "batch_size=16", "steps_per_execution=16"], epochs=1)
    steps = int(training.train_dataset(events, Vocabulary.fit(events.ItemId), config).cardinality())
    assert steps % 16 and steps > 16  # the last call of the epoch is partial
    capsys.readouterr()
    training.fit("gru4rec", events, config, verbose=1, checkpoint_dir="unused",
                 checkpoint_every=steps - 1)
    shown = [(int(a), int(b)) for a, b in re.findall(r"(\d+)/(\d+)", capsys.readouterr().out)]
    assert shown and all(total == steps and done <= steps for done, total in shown) and shown[-1] == (steps, steps)
    # the step save falls due in the epoch's last (partial) call, which ends the epoch: only the epoch-end
    # checkpoint is written (neither one at Keras' overcounted step, nor one at the epoch's last step)
    assert saved == [(1, 0)]


def test_the_median_step_time_shares_each_calls_time_among_its_steps(monkeypatch):
    """Calls of 3, 3 and 1 steps taking 30, 60 and 5 ms: steps of 10, 10, 10, 20, 20, 20 and 5 ms."""
    from zoo.training import callbacks

    clock = iter([0.0, 0.030, 0.090, 0.095, 0.095])
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(clock))
    log = callbacks.EpochLog(n_pairs=70, epoch_steps=7)
    log.on_epoch_begin(0)
    for batch in (2, 5, 8):  # Keras reports a 3-step call by its last batch, also past the epoch's end
        log.on_train_batch_end(batch, {"loss": 1.0})
    log.on_epoch_end(0, {"loss": 1.0})
    assert log.rows[0]["step_ms_p50"] == pytest.approx(10.0) and log.rows[0]["seconds"] == pytest.approx(0.095)
