"""`zoo datasets ...`: describe, synth, prep, and errors as one line with exit code 2."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from zoo.cli import main

HEADER = "SessionId\tItemId\tTime\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run(capsys, *argv):
    code = main(["datasets", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err):
    lines = [line for line in err.splitlines() if line.startswith("zoo: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_describe_json_on_rsc15_100k(shared_data, capsys):
    path = shared_data / "rsc15-100k" / "yoochoose-clicks-100k_train_full.txt"
    code, out, _ = run(capsys, "describe", path, "--json")
    summary = json.loads(out)
    assert code == 0
    assert (summary["events"], summary["sessions"], summary["items"], summary["users"]) == (70278, 17794, 2933, None)
    assert summary["session_length"]["min"] == 2


def test_describe_text_with_column_flags(tmp_path, capsys):
    path = write(tmp_path, "log.csv", "u;s;i;t\nx;1;a;2024-01-01\nx;1;b;2024-01-02\n")
    code, out, _ = run(capsys, "describe", path, "--sep", ";", "--user-key", "u", "--session-key", "s",
                       "--item-key", "i", "--time-key", "t")
    assert code == 0
    assert "events: 2\nsessions: 1\nusers: 1\nitems: 2\n" in out
    assert "2024-01-01T00:00:00.000+00:00 to 2024-01-02T00:00:00.000+00:00 (1.00 days)" in out


def test_describe_an_original_dataset_file(tmp_path, capsys):
    path = write(tmp_path, "yoochoose-clicks.dat", "1,2014-04-07T10:51:09.277Z,5,0\n1,2014-04-07T10:52:09.277Z,6,0\n")
    code, out, _ = run(capsys, "describe", path, "--format", "rsc15", "--json")
    assert code == 0
    assert json.loads(out)["time"]["start"] == "2014-04-07T10:51:09.277+00:00"


def test_synth_is_deterministic(tmp_path, capsys):
    assert run(capsys, "synth", "--out", tmp_path / "a.tsv", "--users", 100, "--items", 200)[0] == 0
    assert run(capsys, "synth", "--out", tmp_path / "b.tsv", "--users", 100, "--items", 200)[0] == 0
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()
    assert (tmp_path / "a.tsv").read_text().startswith("SessionId\tItemId\tTime\tUserId\n")


def hand_log(tmp_path):
    """Sessions 1-3 on day 0, session 4 on the last day: 4 has one unseen item and one seen twice."""
    rows = ["1\ta\t0", "1\tb\t1", "1\tc\t2", "2\ta\t10", "2\tb\t11", "3\tc\t20", "3\ta\t21", "3\tz\t22",
            "4\ta\t200000", "4\tb\t200001", "4\ty\t200002", "5\tq\t200003"]
    return write(tmp_path, "log.tsv", HEADER + "\n".join(rows) + "\n")


def test_prep_writes_train_test_and_report(tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "prep", hand_log(tmp_path), "--out", out_dir, "--min-item-support", 1)
    assert code == 0
    train = pd.read_csv(out_dir / "train.tsv", sep="\t", dtype=str)
    test = pd.read_csv(out_dir / "test.tsv", sep="\t", dtype=str)
    assert list(train.columns) == ["SessionId", "ItemId", "Time"]
    assert train["SessionId"].unique().tolist() == ["1", "2", "3"]
    assert test["ItemId"].tolist() == ["a", "b"]  # y is not in train; session 5 is one event
    report = json.loads((out_dir / "prep_report.json").read_text())
    steps = {step["step"]: step for step in report["steps"]}
    assert steps["sessions < 2 events (round 1)"]["sessions_removed"] == 1
    assert steps["test: items not in train"]["events_removed"] == 1
    assert report["train"]["events"] == 8 and report["test"]["events"] == 2
    assert "test: items not in train" in out and "splitting" in err


def test_prep_makes_sessions_for_user_logs(tmp_path, capsys):
    rows = ["u\ta\t0", "u\tb\t10", "u\tb\t5000", "u\ta\t5010", "v\ta\t100000", "v\tb\t100010"]
    path = write(tmp_path, "users.tsv", "UserId\tItemId\tTime\n" + "\n".join(rows) + "\n")
    code, _, _ = run(capsys, "prep", path, "--out", tmp_path / "out", "--min-item-support", 1,
                     "--split", "last-session", "--sessionize-gap", 600)
    assert code == 0
    test = pd.read_csv(tmp_path / "out" / "test.tsv", sep="\t", dtype=str)
    assert test["ItemId"].tolist() == ["b", "a"]  # u's second session; v has only one
    report = json.loads((tmp_path / "out" / "prep_report.json").read_text())
    assert report["steps"][1]["step"] == "sessionize (gap 600 s)" and report["steps"][1]["sessions"] == 3


def test_prep_split_none_writes_only_train(tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert run(capsys, "prep", hand_log(tmp_path), "--out", out_dir, "--split", "none", "--min-item-support", 1)[0] == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["prep_report.json", "train.tsv"]


ERRORS = [
    (["describe", "{dir}/missing.tsv"], "missing.tsv: cannot read the file"),
    (["describe", "{log}", "--item-key", "Product"], "missing column(s) 'Product'"),
    (["prep", "{log}", "--out", "{dir}/o", "--min-item-support", "1", "--min-session-length", "3"], "test set is empty"),
    (["prep", "{log}", "--out", "{dir}/out", "--min-session-length", "9"], "no events left after filtering"),
    (["prep", "{log}", "--out", "{dir}/out", "--sessionize-gap", "60"], "--sessionize-gap is for logs without"),
    (["prep", "{log}", "--out", "{dir}/out", "--min-item-support", "0"], "--min-item-support must be >= 1"),
    (["prep", "{log}", "--out", "{dir}/out", "--min-item-support", "1", "--split", "last-session"], "no user ids"),
    (["describe", "{log}", "--format", "rsc15", "--sep", ","], "--format rsc15 has fixed columns"),
    (["synth", "--out", "{dir}/s.xlsx", "--users", "10"], "cannot tell the format"),
    (["synth", "--out", "{dir}/s.tsv", "--items", "2"], "n_items >= n_topics"),
    (["synth", "--out", "{log}/s.tsv", "--users", "10"], "cannot write the file"),
]


@pytest.mark.parametrize("argv, message", ERRORS)
def test_user_errors_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, argv, message):
    log = hand_log(tmp_path)
    argv = [arg.format(dir=tmp_path, log=log) for arg in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.tsv"]


def test_bad_row_from_the_command_line_names_file_row_and_column(tmp_path):
    path = write(tmp_path, "log.tsv", HEADER + "1\ta\t1\n1\tb\tnoon\n")
    result = subprocess.run(
        [sys.executable, "-m", "zoo.cli", "datasets", "describe", path], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert error_line(result.stderr) == f"zoo: error: {path}: row 2, column 'Time': cannot read time 'noon' " \
        "(expected Unix seconds or an ISO 8601 date)"


def test_data_commands_do_not_import_tensorflow():
    code = (
        "import sys, zoo.cli.datasets, zoo.datasets.fetch, zoo.datasets.synth; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
