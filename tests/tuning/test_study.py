"""`zoo tune` end to end on a tiny synthetic log: no test event reaches tuning, a killed study resumes to its
trial count, the best trial's preset file trains exactly that configuration, bad inputs are refused first."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from zoo.cli import main
from zoo.datasets.io import load_events
from zoo.tuning import carve_validation
from zoo.tuning.validation import keep_latest

TINY = ["--epochs", "1", "--set", "layers=8", "--set", "n_sample=8", "--set", "batch_size=16", "--set",
        "steps_per_execution=8"]
SPACE = [{"name": "learning_rate", "dtype": "float", "values": [0.05, 0.2], "step": 0.05},
         {"name": "loss", "dtype": "categorical", "values": ["cross-entropy", "bpr-max"]},
         {"name": "momentum", "dtype": "float", "values": [0.0, 0.5], "step": 0.1}]


@pytest.fixture(scope="module")
def space_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("space") / "space.json"
    path.write_text("\n".join(json.dumps(entry) for entry in SPACE) + "\n")  # the reference's one-object-a-line layout
    return path


def tune_args(small_split, out, space_file, trials):
    return ["tune", "--train", str(small_split / "train.tsv"), "--out", str(out), "--trials", str(trials),
            "--space", str(space_file), *TINY]


@pytest.fixture(scope="module")
def opened():
    """Records the files this process opens while `opened.on` is true (a Python audit hook: every open())."""
    class Recorder:
        on, paths = False, []

    def hook(event, args):
        if Recorder.on and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            Recorder.paths.append(os.path.abspath(os.fsdecode(args[0])))

    sys.addaudithook(hook)
    return Recorder


@pytest.fixture(scope="module")
def study(small_split, space_file, opened, tmp_path_factory):
    """A finished study of 2 trials (the files opened meanwhile in `opened.paths`)."""
    out = tmp_path_factory.mktemp("tune") / "study"
    opened.on = True
    try:
        assert main(tune_args(small_split, out, space_file, 2)) in (0, None)
    finally:
        opened.on = False
    return out


def trials_of(out):
    return json.loads((out / "trials.json").read_text())["trials"]


def counted(rows):
    return [r for r in rows if r["state"] in ("complete", "pruned") or r["state"] == "fail"
            and not r["note"].startswith("interrupted")]


def test_tuning_never_reads_the_test_log(study, small_split, opened):
    logs = {str(small_split / name) for name in os.listdir(small_split)}
    read = {path for path in opened.paths if path in logs}
    assert read == {str(small_split / "train.tsv")}  # test.tsv lies beside it and is never opened


def test_the_study_validates_on_the_carved_split_and_trains_on_the_rest(study, small_split):
    train, valid, rule = carve_validation(load_events(small_split / "train.tsv"))
    recorded = json.loads((study / "tune.json").read_text())["validation"]
    assert recorded["rule"] == rule == "last-session"
    assert (recorded["train_events"], recorded["validation_events"]) == (len(train), len(valid))
    assert recorded["validation_sessions"] == valid.SessionId.nunique() > 0
    test = load_events(small_split / "test.tsv")
    assert not set(test.SessionId) & (set(train.SessionId) | set(valid.SessionId))


def test_a_killed_study_resumes_to_its_trial_count_in_the_same_sqlite(study, small_split, space_file, tmp_path):
    out = tmp_path / "study"
    shutil.copytree(study, out)
    assert len(counted(trials_of(out))) == 2
    # a second process, asked for 3 trials, is killed (SIGKILL) while its trial (number 2) trains
    args = tune_args(small_split, out, space_file, 3)
    process = subprocess.Popen([sys.executable, "-m", "zoo.cli", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not _running(out / "study.db", 2):
            assert process.poll() is None, "the process ended before its trial was seen running"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    # the next run marks the dead trial failed, retries its parameters, and stops at 3 counted trials, not 5
    assert main(args) in (0, None)
    rows = trials_of(out)
    assert len(counted(rows)) == 3 and len(rows) == 4
    killed = next(r for r in rows if r["note"] == "interrupted (killed)")
    retry = next(r for r in rows if "retry of trial" in r["note"])
    assert killed["number"] == 2 and retry["number"] == 3 and retry["params"] == killed["params"]
    assert retry["state"] in ("complete", "pruned")
    assert main(args) in (0, None)  # nothing left to do
    assert len(trials_of(out)) == 4
    assert sorted(os.listdir(out)) == [".lock", "best.json", "best_preset.json", "space.json", "study.db",
                                       "trials.csv", "trials.json", "tune.json"]


def _running(db, number):
    if not db.exists():
        return False
    try:
        with sqlite3.connect(db) as connection:
            return bool(connection.execute(  # running, its options all drawn ("config" is recorded before training)
                "SELECT count(*) FROM trials t JOIN trial_user_attributes a ON a.trial_id = t.trial_id "
                "WHERE t.state = 'RUNNING' AND t.number = ? AND a.key = 'config'", (number,)).fetchone()[0])
    except sqlite3.Error:  # not created yet
        return False


def test_the_best_preset_file_trains_exactly_the_best_trial(study, small_split, tmp_path):
    best = json.loads((study / "best.json").read_text())
    preset = json.loads((study / "best_preset.json").read_text())
    [row] = [r for r in trials_of(study) if r["number"] == best["trial"]]
    assert row["state"] == "complete" and row["config"] == preset == best["config"]
    assert preset["layers"] == [8] and preset["epochs"] == 1 and preset["learning_rate"] == best["params"]["learning_rate"]
    assert best["value"] == max(r["value"] for r in trials_of(study) if r["state"] == "complete")
    run = tmp_path / "run"
    assert main(["train", "--model", "gru4rec", "--preset", str(study / "best_preset.json"), "--train",
                 str(small_split / "train.tsv"), "--out", str(run), "--quiet"]) in (0, None)
    info = json.loads((run / "config.json").read_text())
    assert info["config"] == preset and info["preset"] == str(study / "best_preset.json")
    table = (study / "trials.csv").read_text().splitlines()
    assert table[0].split(",")[:3] == ["number", "state", "val_mrr@20"] and len(table) == 3


def test_a_study_stops_at_its_timeout(small_split, space_file, tmp_path, capsys):
    out = tmp_path / "timed"
    assert main([*tune_args(small_split, out, space_file, 5), "--timeout", "0.001"]) in (0, None)
    assert "0 of 5 trials done (stopped at --timeout)" in capsys.readouterr().out
    assert trials_of(out) == []


def bad_space(tmp_path, text):
    path = tmp_path / "bad_space.json"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("extra, words", [
    (["--metric", "ndcg@10"], "--metric must be recall@K or mrr@K"),
    (["--metric", "mrr@0"], "--metric must be recall@K or mrr@K"),
    (["--model", "gru5rec"], "unknown model 'gru5rec'"),
    (["--model", "pop"], "pop has no options to tune"),
    (["--trials", "0"], "--trials must be >= 1"),
    (["--train-fraction", "0"], "--train-fraction must be in (0, 1], got 0"),
    (["--train-fraction", "1.5"], "--train-fraction must be in (0, 1], got 1.5"),
    (["--space", "{tmp}/missing.json"], "cannot read the file"),
    (["--space", lambda t: bad_space(t, '[{"name": "learning_rate", "dtype": "float"')], "not valid JSON"),
    (["--space", lambda t: bad_space(t, '{"name": "lerning_rate", "dtype": "float", "values": [0.1, 0.2]}')],
     "'lerning_rate' is not an option of gru4rec (did you mean 'learning_rate'?)"),
    (["--space", lambda t: bad_space(t, '{"name": "learning_rate", "dtype": "float", "values": [0.0, 0.2]}')],
     "learning_rate=0.0 cannot be used: learning_rate must be > 0"),
    (["--space", lambda t: bad_space(t, '{"name": "layers", "dtype": "normal", "values": [8, 16]}')],
     "dtype must be one of int, float, categorical"),
    (["--space", lambda t: bad_space(t, '{"name": "user_units", "dtype": "int", "values": [8, 16]}')],
     "user_units is an option of hrnn only"),
])
def test_bad_input_is_one_line_and_exit_2_before_any_work(small_split, space_file, tmp_path, capsys, extra, words):
    out = tmp_path / "study"
    args = [e(tmp_path) if callable(e) else e.format(tmp=tmp_path) for e in extra]
    argv = tune_args(small_split, out, space_file, 1)
    if "--space" in args:  # replace the good space
        argv = argv[:argv.index("--space")] + argv[argv.index("--space") + 2:]
    capsys.readouterr()
    assert main([*argv, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("zoo: error: ") and "\n" not in err and words in err, err
    assert not out.exists()


def test_a_study_is_resumed_only_with_its_own_settings(study, small_split, space_file, tmp_path, capsys):
    out = tmp_path / "study"
    shutil.copytree(study, out)
    before = (out / "trials.json").read_text()
    capsys.readouterr()
    assert main([*tune_args(small_split, out, space_file, 3), "--metric", "recall@20"]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds a study with another metric" in err and "\n" not in err
    assert (out / "trials.json").read_text() == before


def test_a_study_older_than_train_fraction_resumes_as_one_on_the_whole_training_part(study, small_split, space_file,
                                                                                   tmp_path, capsys):
    out = tmp_path / "study"
    shutil.copytree(study, out)
    settings = json.loads((out / "tune.json").read_text())
    assert settings.pop("train_fraction") == 1.0
    (out / "tune.json").write_text(json.dumps(settings))
    assert main(tune_args(small_split, out, space_file, 2)) in (0, None)
    assert "2 of 2 trials done (already complete)" in capsys.readouterr().out


def test_trials_train_on_the_latest_fraction_of_the_training_part(small_split, space_file, tmp_path, capsys):
    out = tmp_path / "half"
    assert main([*tune_args(small_split, out, space_file, 1), "--train-fraction", "0.5"]) in (0, None)
    train, valid = keep_latest(*carve_validation(load_events(small_split / "train.tsv"))[:2], 0.5)
    recorded = json.loads((out / "tune.json").read_text())
    assert recorded["train_fraction"] == 0.5
    assert (recorded["validation"]["train_sessions"], recorded["validation"]["validation_events"]) == \
        (train.SessionId.nunique(), len(valid))
    assert "(the latest 0.5 of the training part's sessions)" in capsys.readouterr().out
    assert main([*tune_args(small_split, out, space_file, 2)]) == 2  # resumed with the whole part: refused
    assert "holds a study with another --train-fraction" in capsys.readouterr().err


def test_a_baseline_is_tuned_and_its_best_options_train_it(small_split, tmp_path):
    out, run = tmp_path / "sr", tmp_path / "run"
    train = str(small_split / "train.tsv")
    assert main(["tune", "--train", train, "--model", "sr", "--out", str(out), "--trials", "2"]) in (0, None)
    best = json.loads((out / "best.json").read_text())
    assert not (out / "best_preset.json").exists()  # zoo train takes a baseline's options with --set only
    assert set(best["config"]) == {"steps", "prune"} and len(trials_of(out)) == 2
    assert main(["train", *best["train_args"], "--train", train, "--out", str(run)]) in (0, None)
    assert json.loads((run / "config.json").read_text())["config"] == best["config"]


def test_a_new_studys_first_trial_is_the_base_configuration(small_split, space_file, tmp_path):
    out = tmp_path / "base"
    args = tune_args(small_split, out, space_file, 2)
    assert main([*args, "--preset", "rsc15-bprmax-shared", "--no-prune"]) in (0, None)
    first, second = trials_of(out)
    # rsc15-bprmax-shared: bpr-max, learning rate 0.2, momentum 0.1: all in SPACE, so trial 0 is exactly it
    assert first["params"] == {"learning_rate": 0.2, "loss": "bpr-max", "momentum": 0.1}
    assert first["note"] == "the base configuration" and second["note"] == ""
    assert first["config"]["bpreg"] == 0.5 and first["config"]["final_activation"] == "elu-0.5"
