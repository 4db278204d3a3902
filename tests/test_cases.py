"""The failing cases of ../shared/cases/ (small inputs built after public bug reports), each rebuilt here
with its right result, and more tests of the same kind of fault beside each.

    shared-session-id-across-users         the meaning of the input is never guessed silently
    eval-log-checked-after-training        every input is checked before any work or write
    resume-ignores-saved-epochs            what the program says about a run is true
    eval-dropped-sessions-miscount         every test session is accounted for
    export-baseline-traceback              clear refusals: one line, exit code 2, nothing written
(exclude-history-returns-history-items: tests/export/test_one_answer.py; serve-internal-signature-500:
tests/export/test_server.py.)
"""
import json
import os

import pandas as pd
import pytest

from zoo.cli import main

TINY = ["--set", "layers=8", "--set", "n_sample=8", "--set", "batch_size=8", "--quiet"]
ITEMS = [f"i{n:02d}" for n in range(12)]


def write_log(path, rows, users=False):
    columns = ["SessionId", "ItemId", "Time", "UserId"][:4 if users else 3]
    pd.DataFrame(rows, columns=columns).to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture(scope="module")
def train_log(tmp_path_factory):
    root = tmp_path_factory.mktemp("cases")
    rows = [(f"s{s}", ITEMS[(s + t) % len(ITEMS)], s * 100.0 + t) for s in range(80) for t in range(4)]
    return write_log(root / "train.tsv", rows)


def error_of(capsys, argv):
    capsys.readouterr()
    assert main(argv) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("zoo datasets: ")]
    assert len(err) == 1 and err[0].startswith("zoo: error: ")  # one line, beside progress notes
    return err[0]


# --- shared-session-id-across-users ------------------------------------------------------------
def test_shared_session_ids_are_refused_by_every_command(tmp_path, capsys):
    rows = [(s, f"{u}-{n}", s * 10 + n, u) for u in ("u1", "u2") for s in (1, 2) for n in range(3)]
    log = write_log(tmp_path / "shared_ids.tsv", rows, users=True)
    commands = [["datasets", "describe", log], ["datasets", "prep", log, "--out", tmp_path / "prep", "--split", "none"],
                *[["train", "--model", m, "--train", log, "--out", tmp_path / m, "--epochs", "1", *TINY]
                  for m in ("gru4rec", "hrnn")], ["train", "--model", "pop", "--train", log, "--out", tmp_path / "pop"]]
    for argv in commands:
        err = error_of(capsys, [str(a) for a in argv])
        assert "session id '1' (and 1 more) is used by users 'u1', 'u2'" in err
    assert os.listdir(tmp_path) == ["shared_ids.tsv"]  # nothing written


# --- eval-log-checked-after-training -----------------------------------------------------------
@pytest.mark.parametrize("option", ["--test", "--validation"])
def test_an_unusable_evaluation_log_is_refused_before_training(train_log, tmp_path, capsys, option):
    bad = write_log(tmp_path / "val_bad.tsv", [("a", "NEW1", 1), ("a", "NEW2", 2), ("b", "i01", 3),
                                               ("c", "i02", 4), ("c", "NEW3", 5)])
    err = error_of(capsys, ["train", "--train", str(train_log), option, str(bad), "--out", str(tmp_path / "run"),
                            "--epochs", "3", *TINY])
    assert err.endswith(f"{bad} ({option}): no session is left after dropping 3 events with items unknown to the "
                        "model and sessions shorter than 2; nothing to evaluate")
    assert not (tmp_path / "run").exists()


def test_prep_refuses_an_output_folder_it_would_wipe_before_reading_the_log(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    err = error_of(capsys, ["datasets", "prep", str(tmp_path / "missing.tsv"), "--out", str(tmp_path / "out")])
    assert "holds 'notes.txt', which zoo datasets prep did not write" in err
    assert os.listdir(tmp_path / "out") == ["notes.txt"]


# --- resume-ignores-saved-epochs --------------------------------------------------------------
def unfinished_run(train_log, out, epochs, monkeypatch):
    """A run whose training stopped after its checkpoint of epoch 1 (the model file never written)."""
    from zoo.runs import directory

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(directory, "atomic_path", crash)  # dies where the finished run would be saved
    assert main(["train", "--train", str(train_log), "--out", str(out), "--epochs", str(epochs), *TINY]) == 130
    monkeypatch.undo()
    assert (out / "checkpoint").is_dir() and not (out / "model.keras").exists()


@pytest.mark.parametrize("epochs, more", [(1, []), (2, []), (1, ["--epochs", "2"])])
def test_resume_trains_to_the_runs_own_epochs_unless_told(train_log, tmp_path, monkeypatch, capsys, epochs, more):
    out = tmp_path / "run"
    unfinished_run(train_log, out, epochs, monkeypatch)
    capsys.readouterr()
    assert main(["train", "--train", str(train_log), "--out", str(out), "--resume", "--quiet", *more]) in (0, None)
    target = int(more[1]) if more else epochs
    assert f"trained gru4rec for {target} epochs" in capsys.readouterr().err
    assert [row["epoch"] for row in json.loads((out / "train_log.json").read_text())] == list(range(1, target + 1))
    assert json.loads((out / "config.json").read_text())["config"]["epochs"] == target


def test_a_resumed_run_without_a_test_log_keeps_no_stale_metrics(train_log, tmp_path):
    out, test = tmp_path / "run", train_log
    assert main(["train", "--train", str(train_log), "--test", str(test), "--out", str(out), "--epochs", "1", *TINY]) \
        in (0, None)
    assert (out / "metrics.json").exists()
    assert main(["train", "--train", str(train_log), "--out", str(out), "--resume", "--epochs", "2", "--quiet"]) \
        in (0, None)
    assert not (out / "metrics.json").exists()  # it described the 1-epoch model


# --- eval-dropped-sessions-miscount -----------------------------------------------------------
def test_every_test_session_is_evaluated_or_dropped(train_log, tmp_path, capsys):
    sessions = {"A": ["i01", "NEW1", "i02", "i03"], "B": ["NEW2", "i05", "i06"], "C": ["i07", "NEW3"],
                "D": ["NEW4", "NEW5"], "E": ["i10", "i11", "NEW6"]}
    rows = [(s, item, t) for s, items in sessions.items() for t, item in enumerate(items)]
    test = write_log(tmp_path / "test_unseen.tsv", rows)
    assert main(["train", "--model", "pop", "--train", str(train_log), "--out", str(tmp_path / "run")]) in (0, None)
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--test", str(test), "--json"]) in (0, None)
    metrics = json.loads(capsys.readouterr().out)
    assert (metrics["sessions"], metrics["dropped_short_sessions"], metrics["events"],
            metrics["dropped_unknown_item_events"]) == (3, 2, 4, 6)


def test_the_user_protocol_counts_a_session_of_unknown_items_too():
    import numpy as np

    from zoo.datasets.vocab import Vocabulary
    from zoo.evaluation import evaluate_users
    from zoo.models.registry import get_model

    vocab = Vocabulary.fit(pd.Series(ITEMS))
    model = get_model("gru4rec", n_items=len(vocab), layers=[4], batch_size=2)
    history = pd.DataFrame([("h", "i01", 1.0, "u"), ("h", "i02", 2.0, "u")], columns=["SessionId", "ItemId", "Time", "UserId"])
    test = pd.DataFrame([("t1", "i03", 10.0, "u"), ("t1", "i04", 11.0, "u"), ("t2", "NEW", 20.0, "u")],
                        columns=["SessionId", "ItemId", "Time", "UserId"])
    metrics = evaluate_users(model, test, vocab, history, batch_size=2)
    assert (metrics["sessions"], metrics["dropped_short_sessions"], metrics["dropped_unknown_item_events"]) == (1, 1, 1)
    assert np.isfinite(metrics["recall@20"])


# --- export-baseline-traceback ----------------------------------------------------------------
@pytest.mark.parametrize("baseline", ["pop", "sr", "sknn", "fpmc"])
def test_exporting_a_baseline_is_one_line_and_writes_nothing(train_log, tmp_path, capsys, baseline):
    run = tmp_path / "run"
    assert main(["train", "--model", baseline, "--train", str(train_log), "--out", str(run)]) in (0, None)
    err = error_of(capsys, ["export", str(run), "--out", str(tmp_path / "exp")])
    assert f"{run}: baseline {baseline!r} cannot be exported" in err
    assert not (tmp_path / "exp").exists()


def test_a_baseline_runs_the_sampled_protocol(train_log, tmp_path, capsys):
    """`zoo evaluate BASELINE_RUN --negatives FILE` ended in an AttributeError."""
    run, users = tmp_path / "run", ["u1", "u2"]
    history = write_log(tmp_path / "history.tsv", [(u, ITEMS[n], n, u) for u in users for n in range(3)], users=True)
    test = write_log(tmp_path / "test.tsv", [(u, ITEMS[3], 9, u) for u in users], users=True)
    (tmp_path / "negatives.txt").write_text("".join(f"{u} {ITEMS[7]} {ITEMS[8]}\n" for u in users))
    assert main(["train", "--model", "pop", "--train", str(train_log), "--out", str(run)]) in (0, None)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--test", str(test), "--history", str(history), "--negatives",
                 str(tmp_path / "negatives.txt"), "--json"]) in (0, None)
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["sampled_cases"] == 2 and metrics["sampled_negatives"] == 2


def test_quantization_refuses_an_export_without_tflite_or_test_sessions(train_log, tmp_path, capsys):
    run, exp = tmp_path / "run", tmp_path / "exp"
    assert main(["train", "--train", str(train_log), "--out", str(run), "--epochs", "1", *TINY]) in (0, None)
    assert main(["export", str(run), "--out", str(exp), "--format", "saved_model", "--max-k", "5",
                 "--default-k", "5"]) in (0, None)
    err = error_of(capsys, ["bench", "quantization", str(exp), "--test", str(train_log), "--cutoff", "5"])
    assert "no model.tflite, model_fp16.tflite, model_int8.tflite" in err
    assert main(["export", str(run), "--out", str(exp), "--format", "tflite", "--max-k", "5",
                 "--default-k", "5"]) in (0, None)
    unknown = write_log(tmp_path / "unknown.tsv", [("a", "NEW1", 1), ("a", "NEW2", 2)])
    err = error_of(capsys, ["bench", "quantization", str(exp), "--test", str(unknown), "--cutoff", "5"])
    assert "no session is left" in err


@pytest.mark.parametrize("model", ["gru4rec", "pop", "sr", "vsknn", "fpmc"])
def test_one_rule_for_a_log_of_one_click_sessions(tmp_path, capsys, model):
    """Baselines once trained on it while the recurrent models refused it."""
    log = write_log(tmp_path / "single.tsv", [(f"s{n}", ITEMS[n], n) for n in range(6)])
    err = error_of(capsys, ["train", "--model", model, "--train", str(log), "--out", str(tmp_path / "run")])
    assert err == "zoo: error: the training data has no session with 2 or more events"
    assert not (tmp_path / "run").exists()
