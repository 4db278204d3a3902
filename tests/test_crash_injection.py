"""kill -9 at random moments of every command that writes (prep, train, train --overwrite, train --resume,
export --overwrite, report): after each kill the output is the old complete state, the new complete state,
or (a training) a visibly unfinished run that resumes; never a mix of two generations, never nothing.

Bounded: a few kills per command, at moments drawn (seeded) over the command's own uninterrupted duration.
"""
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import pytest

ROUNDS = 3
TINY = ["--set", "layers=8", "--set", "n_sample=16", "--set", "batch_size=8", "--quiet"]


def zoo(*argv, kill_after=None):
    """Runs `zoo argv` in a subprocess; with `kill_after` seconds, SIGKILLs it then (if still running).

    Returns the exit code (negative: killed) and the seconds it ran."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "zoo.cli", *map(str, argv)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        process.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
    if kill_after is None:
        assert process.returncode == 0, process.stderr.read()
    process.stderr.close()
    return process.returncode, time.perf_counter() - start


def snapshot(folder):
    """Relative path -> SHA-256 of every file below `folder` (None if it does not exist)."""
    if not os.path.exists(folder):
        return None
    return {os.path.relpath(os.path.join(d, f), folder): hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest()
            for d, _, files in os.walk(folder) for f in files}


def kills(duration, seed):
    """Moments to kill at: spread over the command's run, past the interpreter's start."""
    rng = random.Random(seed)
    return [rng.uniform(0.3 * duration, 1.05 * duration) for _ in range(ROUNDS)]


def check_run(run_dir):
    """A run directory is complete (every file, consistent with its config) or visibly unfinished (no
    model.keras) with, if any, a checkpoint whose two files belong together."""
    names = set(os.listdir(run_dir))
    checkpoint = os.path.join(run_dir, "checkpoint")
    if os.path.isdir(checkpoint):
        assert set(os.listdir(checkpoint)) == {"model.keras", "state.json"}
        state = json.load(open(os.path.join(checkpoint, "state.json")))
        assert zipfile.ZipFile(os.path.join(checkpoint, "model.keras")).testzip() is None
        assert len(state["log"]) == state["epoch"]  # the log rows of the epochs done
    if "model.keras" not in names:
        return "unfinished"
    assert {"vocab.json", "config.json", "train_log.json"} <= names
    config, log = json.load(open(os.path.join(run_dir, "config.json"))), json.load(open(os.path.join(run_dir, "train_log.json")))
    assert [row["epoch"] for row in log] == list(range(1, config["config"]["epochs"] + 1))  # one generation
    assert zipfile.ZipFile(os.path.join(run_dir, "model.keras")).testzip() is None
    return "complete"


@pytest.fixture(scope="module")
def logs(small_split):
    return small_split / "train.tsv", small_split / "test.tsv"


def test_prep_killed_leaves_the_old_or_the_new_folder(small_split, tmp_path):
    source, out = small_split.parent / "log.tsv", tmp_path / "prep"
    _, duration = zoo("datasets", "prep", source, "--out", out, "--test-days", "4")
    new = snapshot(out)
    zoo("datasets", "prep", source, "--out", out, "--test-days", "2")
    old = snapshot(out)
    assert old != new
    for moment in kills(duration, seed=1):
        zoo("datasets", "prep", source, "--out", out, "--test-days", "4", kill_after=moment)
        assert snapshot(out) in (old, new)
        if snapshot(out) == new:  # start the next round from the old folder again
            zoo("datasets", "prep", source, "--out", out, "--test-days", "2")


def test_train_killed_leaves_an_unfinished_run_that_resumes(logs, tmp_path):
    train, test = logs
    argv = ["train", "--train", train, "--test", test, "--epochs", "3", "--checkpoint-every", "3", *TINY]
    _, duration = zoo(*argv, "--out", tmp_path / "whole")
    for round_, moment in enumerate(kills(duration, seed=2)):
        out = tmp_path / f"run{round_}"
        zoo(*argv, "--out", out, kill_after=moment)
        if not out.exists():
            continue  # killed before it wrote anything
        if check_run(out) == "unfinished" and (out / "checkpoint").exists():
            zoo("train", "--train", train, "--test", test, "--out", out, "--resume", "--quiet")
            assert check_run(out) == "complete"


def test_train_overwrite_killed_keeps_the_old_run_whole(logs, tmp_path):
    train, test = logs
    out = tmp_path / "run"
    zoo("train", "--train", train, "--test", test, "--epochs", "1", *TINY, "--out", out)
    old = snapshot(out)
    argv = ["train", "--train", train, "--test", test, "--epochs", "2", *TINY, "--out", out, "--overwrite"]
    _, duration = zoo("train", "--train", train, "--test", test, "--epochs", "2", *TINY, "--out", tmp_path / "timed")
    for moment in kills(duration, seed=3):
        zoo(*argv, kill_after=moment)
        now = snapshot(out)
        assert now == old or (check_run(out) == "complete" and now["model.keras"] != old["model.keras"])
        if now != old:
            return  # the new run is in place; the rounds before it saw the old one whole


def test_resume_of_a_finished_run_killed_never_mixes_generations(logs, tmp_path):
    train, test = logs
    out = tmp_path / "run"
    zoo("train", "--train", train, "--test", test, "--epochs", "1", *TINY, "--out", out)
    old = snapshot(out)
    _, duration = zoo("train", "--train", train, "--test", test, "--epochs", "2", *TINY, "--out", tmp_path / "timed")
    for round_, moment in enumerate(kills(duration, seed=4)):
        trial = tmp_path / f"trial{round_}"
        shutil.copytree(out, trial)
        zoo("train", "--train", train, "--test", test, "--out", trial, "--resume", "--epochs", "2", "--quiet",
            kill_after=moment)
        state = check_run(trial)  # complete (old or new, each whole) or visibly unfinished
        assert state == "unfinished" or snapshot(trial) == old or json.load(open(trial / "config.json"))[
            "config"]["epochs"] == 2
        zoo("train", "--train", train, "--test", test, "--out", trial, "--resume", "--epochs", "2", "--quiet")
        assert check_run(trial) == "complete"


def test_export_overwrite_killed_leaves_the_old_or_the_new_deployment(logs, tmp_path):
    train, _ = logs
    run, out = tmp_path / "run", tmp_path / "export"
    zoo("train", "--train", train, "--epochs", "1", *TINY, "--out", run)
    zoo("export", run, "--out", out, "--max-k", "5", "--default-k", "3")
    old = snapshot(out)
    _, duration = zoo("export", run, "--out", tmp_path / "timed", "--max-k", "7", "--default-k", "3")
    for moment in kills(duration, seed=5):
        zoo("export", run, "--out", out, "--max-k", "7", "--default-k", "3", "--overwrite", kill_after=moment)
        now = snapshot(out)
        if now == old:
            continue
        assert json.load(open(out / "export.json"))["max_k"] == 7
        rewritten = [p for p in old if p.endswith(".tflite") or p.endswith("saved_model.pb")]
        assert rewritten and all(now[p] != old[p] for p in rewritten)  # every piece of the new export
        assert set(now) == set(old)
        return


def test_report_killed_leaves_the_old_or_the_new_page(logs, tmp_path):
    train, test = logs
    runs = [tmp_path / "a", tmp_path / "b"]
    for run in runs:
        zoo("train", "--train", train, "--test", test, "--epochs", "1", *TINY, "--out", run)
    out = tmp_path / "report"
    zoo("report", runs[0], "--out", out)
    old = snapshot(out)
    _, duration = zoo("report", *runs, "--out", tmp_path / "timed")
    new = snapshot(tmp_path / "timed")
    for moment in kills(duration, seed=6):
        zoo("report", *runs, "--out", out, kill_after=moment)
        now = snapshot(out)
        assert now == old or (set(now) == set(new) and now["index.html"] == new["index.html"])
