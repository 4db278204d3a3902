"""`zoo train`, `zoo evaluate`, `zoo recommend`, `zoo models` end to end on a small synthetic log."""
import json
import os

import numpy as np
import pytest

from metric_reference import scores_after, session_metrics
from zoo import runs
from zoo.cli import main
from zoo.datasets.io import load_events

SMALL = ["--set", "layers=16", "--set", "n_sample=32", "--set", "batch_size=16", "--epochs", "2", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    assert main(["datasets", "synth", "--out", str(root / "log.tsv"), "--users", "300", "--items", "200"]) in (0, None)
    assert main(["datasets", "prep", str(root / "log.tsv"), "--out", str(root / "prep"), "--test-days", "3"]) in (0, None)
    return root / "prep"


@pytest.fixture(scope="module")
def run_dir(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    code = main(["train", "--model", "gru4rec", "--train", str(data / "train.tsv"), "--test", str(data / "test.tsv"),
                 "--preset", "rsc15-xe-shared", *SMALL, "--out", str(out)])
    assert code in (0, None)
    return out


def error_of(capsys, argv):
    """Runs the CLI, checks it failed as a user error (exit 2, one line), returns the line."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("zoo: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_train_writes_a_complete_run_directory(run_dir, data):
    assert sorted(os.listdir(run_dir)) == ["checkpoint", "config.json", "metrics.json", "model.keras", "train_log.json",
                                           "vocab.json"]
    info = json.loads((run_dir / "config.json").read_text())
    assert info["model"] == "gru4rec" and info["config"]["layers"] == [16] and info["config"]["epochs"] == 2
    assert info["config"]["logq"] == 1.0  # from the preset, not overridden
    log = json.loads((run_dir / "train_log.json").read_text())
    assert [row["epoch"] for row in log] == [1, 2] and all(row["events_per_s"] > 0 for row in log)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    run = runs.load_run(run_dir)
    expected = session_metrics(run.model, load_events(data / "test.tsv"), run.vocab, (5, 10, 20))
    assert {key: metrics[key] for key in expected} == pytest.approx(expected, rel=1e-9)


def test_evaluate_json_reproduces_the_metrics_of_training(run_dir, data, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--test", str(data / "test.tsv"), "--json"]) in (0, None)
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((run_dir / "metrics.json").read_text())
    for key in ("recall@20", "mrr@20", "recall@5", "events"):
        assert printed[key] == pytest.approx(saved[key], abs=1e-9)


# The run's model with its item vectors zeroed scores every item by its bias, whatever the session: items 0 and
# 1 score 2 (a tie), item 2 scores 1, every other item -1. Test session 3 0 1 2, targets 0, 1 and 2:
#   0 and 1: none above, 2 equal (0 and 1) -> standard 1, median 1.5, conservative 2;  2: 2 above -> 3.
TIE_FIGURES = {  # (Recall@1, MRR@3) of those ranks
    "standard": (2 / 3, (1 + 1 + 1 / 3) / 3),
    "median": (0, (1 / 1.5 + 1 / 1.5 + 1 / 3) / 3),
    "conservative": (0, (1 / 2 + 1 / 2 + 1 / 3) / 3),
}


def test_evaluate_ties_option_ranks_ties_by_each_mode(run_dir, tmp_path, capsys):
    run = runs.load_run(run_dir)
    run.model.item_vectors.assign(np.zeros(run.model.item_vectors.shape, np.float32))
    run.model.item_bias.assign(np.r_[2.0, 2.0, 1.0, np.full(len(run.vocab) - 3, -1.0)].astype(np.float32))
    runs.save_run(tmp_path / "fixed", run.model, run.vocab, run.info, [])
    ids = run.vocab.decode([3, 0, 1, 2])
    test = tmp_path / "test.tsv"
    test.write_text("SessionId\tItemId\tTime\n" + "".join(f"s\t{item}\t{t}\n" for t, item in enumerate(ids)))
    for ties, (recall, mrr) in TIE_FIGURES.items():
        capsys.readouterr()
        assert main(["evaluate", str(tmp_path / "fixed"), "--test", str(test), "--json", "--ties", ties,
                     "--cutoffs", "1,3"]) in (0, None)
        printed = json.loads(capsys.readouterr().out)
        assert (printed["ties"], printed["events"]) == (ties, 3)
        assert (printed["recall@1"], printed["mrr@3"]) == pytest.approx((recall, mrr)), ties


def test_recommend_prints_k_known_items(run_dir, data, capsys):
    first = (data / "train.tsv").read_text().splitlines()[1].split("\t")[1]
    capsys.readouterr()
    assert main(["recommend", str(run_dir), "--items", f"{first},no-such-item", "-k", "4", "--json"]) in (0, None)
    answer = json.loads(capsys.readouterr().out)
    vocab = json.loads((run_dir / "vocab.json").read_text())
    assert len(answer["items"]) == 4 and answer["unknown"] == ["no-such-item"]
    assert answer["scores"] == sorted(answer["scores"], reverse=True)
    assert set(answer["items"]) <= {str(i) for i in vocab["ids"]}


def test_models_lists_gru4rec(capsys):
    assert main(["models"]) in (0, None)
    assert "gru4rec" in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    (["train", "--model", "nope", "--train", "x", "--out", "y"], "unknown model"),
    (["train", "--preset", "rsc15-xe-sharred", "--train", "x", "--out", "y"], "did you mean 'rsc15-xe-shared'"),
    (["train", "--set", "layerz=3", "--train", "x", "--out", "y"], "unknown option 'layerz'"),
    (["train", "--set", "learning_rate=fast", "--train", "x", "--out", "y"], "learning_rate"),
    (["train", "--set", "momentum=1.5", "--train", "x", "--out", "y"], "momentum must be"),
    (["train", "--train", "/no/such/file.tsv", "--out", "y"], "/no/such/file.tsv"),
    (["evaluate", "/no/such/run", "--test", "/no/such/file.tsv"], "/no/such/file.tsv"),
    (["recommend", "/no/such/run", "--items", "1"], "no such run directory"),
    (["recommend", "/no/such/run", "--items", "1", "-k", "0"], "-k must be"),
])
def test_user_mistakes_are_one_line_errors(capsys, argv, words):
    assert words in error_of(capsys, argv)


def test_existing_run_directory_is_not_overwritten(run_dir, data, capsys):
    before = (run_dir / "model.keras").stat().st_mtime
    err = error_of(capsys, ["train", "--train", str(data / "train.tsv"), "--out", str(run_dir), *SMALL])
    assert "exists; pass --resume" in err and (run_dir / "model.keras").stat().st_mtime == before


def test_damaged_run_directories_are_reported(run_dir, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    (broken / "model.keras").write_bytes(b"not a zip")
    assert "cannot be loaded" in error_of(capsys, ["recommend", str(broken), "--items", "1"])
    (broken / "vocab.json").unlink()
    assert "vocab.json is missing" in error_of(capsys, ["recommend", str(broken), "--items", "1"])


def test_unknown_items_only_is_a_clear_error(run_dir, capsys):
    assert "none of the given items" in error_of(capsys, ["recommend", str(run_dir), "--items", "zz1,zz2"])


def test_resume_trains_more_epochs_with_the_saved_settings(run_dir, data, tmp_path, capsys):
    import shutil

    copy = tmp_path / "more"
    shutil.copytree(run_dir, copy)
    (copy / "model.keras").unlink()  # as if the run had been interrupted after its last checkpoint
    capsys.readouterr()
    assert "model.keras is missing" in error_of(capsys, ["recommend", str(copy), "--items", "1"])
    code = main(["train", "--train", str(data / "train.tsv"), "--out", str(copy), "--resume", "--epochs", "3",
                 "--quiet"])
    assert code in (0, None)
    log = json.loads((copy / "train_log.json").read_text())
    assert [row["epoch"] for row in log] == [1, 2, 3]
    info = json.loads((copy / "config.json").read_text())
    assert info["config"]["layers"] == [16] and info["config"]["epochs"] == 3  # the checkpoint's settings


def test_resume_without_a_checkpoint_is_a_clear_error(data, tmp_path, capsys):
    err = error_of(capsys, ["train", "--train", str(data / "train.tsv"), "--out", str(tmp_path / "new"), "--resume"])
    assert "no checkpoint to resume from" in err


def test_evaluate_with_fixed_negatives_prints_sampled_metrics(run_dir, data, tmp_path, capsys):
    import pandas as pd

    test = pd.read_csv(data / "test.tsv", sep="\t", dtype=str)
    one_each = tmp_path / "one_each.tsv"
    test.drop_duplicates("UserId").to_csv(one_each, sep="\t", index=False)  # one test item per user
    vocab = [str(i) for i in json.loads((run_dir / "vocab.json").read_text())["ids"]]
    negatives = tmp_path / "negatives.txt"
    negatives.write_text("".join(f"{user} {' '.join(vocab[:9])}\n" for user in test["UserId"].unique()))
    err = error_of(capsys, ["evaluate", str(run_dir), "--test", str(data / "test.tsv"), "--negatives", str(negatives)])
    assert "one test item per user" in err
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--test", str(one_each), "--negatives", str(negatives),
                 "--json", "--cutoffs", "1,10"]) in (0, None)
    got = json.loads(capsys.readouterr().out)
    assert got["sampled_negatives"] <= 9 and got["sampled_cases"] > 0
    assert got["sampled_hr@10"] == 1.0  # at most 9 negatives: the target is always within the top 10
    # The reference: each user's training events (known items, in time order) then its test item, ranked
    # against the 9 negatives (vocabulary indices 0-8), conservatively: 1 + the negatives scored >= it.
    run, train = runs.load_run(run_dir), load_events(data / "train.tsv")
    histories, targets = [], []
    for user, item in load_events(one_each)[["UserId", "ItemId"]].itertuples(index=False):
        past = train[train.UserId == user].sort_values("Time", kind="stable").ItemId
        past, target = run.vocab.encode(past), run.vocab.encode([item])[0]
        if (past >= 0).any() and target >= 0:
            histories.append(past[past >= 0][-200:])
            targets.append(target)
    scores = scores_after(run.model, histories)
    ranks = 1 + (scores[:, :9] >= scores[np.arange(len(targets)), targets][:, None]).sum(axis=1)
    assert got["sampled_cases"] == len(ranks) and got["sampled_negatives"] == 9
    assert got["sampled_hr@1"] == pytest.approx(np.mean(ranks <= 1))
    assert got["sampled_mrr"] == pytest.approx(np.mean(1 / ranks))


def test_overwrite_keeps_the_old_run_until_the_new_one_is_saved(run_dir, data, tmp_path, capsys, monkeypatch):
    import shutil

    from zoo import training

    target = tmp_path / "again"
    shutil.copytree(run_dir, target)
    before, inode = (target / "model.keras").read_bytes(), (target / "model.keras").stat().st_ino

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "fit", crash)
    argv = ["train", "--train", str(data / "train.tsv"), "--out", str(target), "--overwrite", *SMALL]
    for _ in range(2):  # two failed trainings in a row once deleted the only good run
        assert main(argv) == 130  # interrupted during training
        assert (target / "model.keras").read_bytes() == before  # the old run, whole, where it was
    monkeypatch.undo()
    assert main(argv) in (0, None)
    assert (target / "model.keras").stat().st_ino != inode and not (tmp_path / "again.next").exists()


def test_resume_of_a_finished_run_keeps_it_whole_until_the_longer_one_is_saved(run_dir, data, tmp_path, monkeypatch):
    """A kill between the first new checkpoint and the new model left a 'complete' 2-epoch run whose
    checkpoint was of epoch 3 (CI, tests/test_crash_injection.py): a finished run trains on in RUN_DIR.next."""
    import shutil

    from zoo import training
    from zoo.training import checkpoints

    target = tmp_path / "finished"
    shutil.copytree(run_dir, target)
    files = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    real_fit = training.fit

    def dies_after_training(*args, **kwargs):
        real_fit(*args, **kwargs)  # its checkpoints are written; the process dies before the run is saved
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "fit", dies_after_training)
    argv = ["train", "--train", str(data / "train.tsv"), "--out", str(target), "--resume", "--epochs", "3", "--quiet"]
    assert main(argv) == 130
    assert {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()} == files
    monkeypatch.undo()
    assert main(argv) in (0, None)
    assert [row["epoch"] for row in json.loads((target / "train_log.json").read_text())] == [1, 2, 3]
    assert checkpoints.saved_config(str(target / "checkpoint"))["epochs"] == 3
    assert not (tmp_path / "finished.next").exists()


def test_a_runs_model_has_its_weights_without_the_optimizers_slots(run_dir, data):
    """The optimizer's two slots per item row tripled model.keras and the memory of every `zoo evaluate`
    and `zoo export` (780 MB and a 2.8 GB peak to load GRU4Rec over 1M items); `checkpoint/` keeps them."""
    import io
    import zipfile

    import h5py

    def groups(path):
        with zipfile.ZipFile(path) as archive:
            return set(h5py.File(io.BytesIO(archive.read("model.weights.h5"))))

    assert "optimizer" not in groups(run_dir / "model.keras")
    assert "optimizer" in groups(run_dir / "checkpoint" / "model.keras")
    from zoo.training import checkpoints

    run, sessions = runs.load_run(run_dir), np.array([[1, 2, 3], [4, 5, -1]])
    model, _ = checkpoints.load(str(run_dir / "checkpoint"), json.loads((run_dir / "config.json").read_text())["config"])
    np.testing.assert_allclose(run.model({"items": sessions}).numpy(), model({"items": sessions}).numpy(), rtol=1e-6)
