"""`zoo train` / `zoo evaluate` with the personalized models, on a small synthetic log split by user."""
import json
import shutil

import pytest

from zoo import runs
from zoo.evaluation import recommend
from zoo.cli import main

SMALL = ["--set", "layers=16", "--set", "n_sample=32", "--set", "batch_size=16", "--epochs", "1", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_users")
    assert main(["datasets", "synth", "--out", str(root / "log.tsv"), "--users", "150", "--items", "100"]) in (0, None)
    assert main(["datasets", "prep", str(root / "log.tsv"), "--out", str(root / "prep"),
                 "--split", "last-session"]) in (0, None)
    return root / "prep"


@pytest.fixture(scope="module")
def hrnn_run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "hrnn"
    assert main(["train", "--model", "hrnn", "--train", str(data / "train.tsv"), "--test", str(data / "test.tsv"),
                 "--set", "user_units=8", *SMALL, "--out", str(out)]) in (0, None)
    return out


def evaluate_json(capsys, argv):
    capsys.readouterr()
    assert main(argv + ["--json", "--cutoffs", "20"]) in (0, None)
    return json.loads(capsys.readouterr().out)


def test_hrnn_run_has_users_and_user_protocol_metrics(hrnn_run, data, capsys):
    assert (hrnn_run / "users.json").is_file()
    saved = json.loads((hrnn_run / "metrics.json").read_text())
    assert saved["protocol"] == "user" and saved["users"] == saved["sessions"] > 0
    printed = evaluate_json(capsys, ["evaluate", str(hrnn_run), "--test", str(data / "test.tsv")])
    assert printed["recall@20"] == pytest.approx(saved["recall@20"], abs=1e-9)
    explicit = evaluate_json(capsys, ["evaluate", str(hrnn_run), "--test", str(data / "test.tsv"),
                                      "--history", str(data / "train.tsv")])
    assert explicit["mrr@20"] == pytest.approx(saved["mrr@20"], abs=1e-9)
    session = evaluate_json(capsys, ["evaluate", str(hrnn_run), "--test", str(data / "test.tsv"),
                                     "--protocol", "session"])
    assert session["protocol"] == "session" and session["events"] == saved["events"]


def test_user_gru_trains_and_recommends_for_known_and_unseen_users(data, tmp_path):
    out = tmp_path / "user_gru"
    assert main(["train", "--model", "user_gru", "--train", str(data / "train.tsv"), "--set", "user_embedding=4",
                 *SMALL, "--out", str(out)]) in (0, None)
    run = runs.load_run(out)
    user = run.users.decode([0])[0]
    items = list(run.vocab.decode([0, 1]))
    known, _ = recommend(run.model, run.vocab, items, k=5, user=user, users=run.users)
    unseen, _ = recommend(run.model, run.vocab, items, k=5, user="nobody", users=run.users)
    default, _ = recommend(run.model, run.vocab, items, k=5)
    assert unseen == default and known != unseen


def test_personalized_mistakes_are_one_line_errors(hrnn_run, data, tmp_path, capsys):
    no_users = tmp_path / "no_users.tsv"
    no_users.write_text("\n".join(line.rsplit("\t", 1)[0] for line in (data / "train.tsv").read_text().splitlines()))
    capsys.readouterr()
    assert main(["train", "--model", "hrnn", "--train", str(no_users), "--out", str(tmp_path / "x"), *SMALL]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("zoo: error: hrnn is a personalized model") and "\n" not in err
    assert main(["train", "--model", "gru4rec", "--train", str(no_users), "--set", "user_mode=rectified",
                 "--out", str(tmp_path / "y"), *SMALL]) == 2
    assert "user_mode is an option of user_gru only" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(hrnn_run, broken)
    (broken / "users.json").unlink()
    assert main(["evaluate", str(broken), "--test", str(data / "test.tsv")]) == 2
    assert "users.json is missing" in capsys.readouterr().err
    assert main(["evaluate", str(hrnn_run), "--test", str(data / "test.tsv"), "--history", str(no_users)]) == 2
    assert "history events have no user ids" in capsys.readouterr().err


def test_recommend_replays_earlier_sessions_for_hrnn(hrnn_run, capsys):
    run = runs.load_run(hrnn_run)
    first, second, current = (list(run.vocab.decode(pair)) for pair in ([0, 1, 2], [3, 4, 5], [6, 7]))

    def cli(*more):
        capsys.readouterr()
        assert main(["recommend", str(hrnn_run), "--items", ",".join(current), "-k", "5", "--json", *more]) in (0, None)
        return json.loads(capsys.readouterr().out)["items"]

    replayed = cli("--earlier", f"{','.join(first)};{','.join(second)}")
    expected, _ = recommend(run.model, run.vocab, current, k=5, earlier_sessions=[first, second])
    assert replayed == [str(i) for i, _ in expected]
    alone, _ = recommend(run.model, run.vocab, current, k=5)
    assert cli() == [str(i) for i, _ in alone]
