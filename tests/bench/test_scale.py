"""`zoo bench scale-run` and `zoo bench measure`: the synthetic run evaluates; a child's time and peak memory."""
import json
import sys

import pandas as pd

from zoo.bench.scale import make_scale_run, measure
from zoo.cli import main
from zoo.evaluation import evaluate
from zoo.runs.directory import load_run


def test_synthetic_run_and_test_log(tmp_path):
    run_dir, test_path = make_scale_run(str(tmp_path), n_items=50, layers=(8,), n_events=31, seed=1)
    test = pd.read_csv(test_path, sep="\t")
    assert len(test) == 31 and test.groupby("SessionId").size().between(2, 9).all()
    run = load_run(run_dir)
    assert run.model.n_items == 50 and len(run.vocab) == 50
    metrics = evaluate(run.model, test, run.vocab, cutoffs=(20,), chunk_size=7)
    assert metrics["events"] == 31 - test.SessionId.nunique()


def test_measure_reads_the_child_alone(capsys):
    result = measure([sys.executable, "-c", "x = bytearray(200 * 2 ** 20); x[::4096] = b'1' * len(x[::4096])"])
    assert result["returncode"] == 0 and result["peak_rss_mb"] >= 200 and result["seconds"] > 0
    assert main(["bench", "measure", "--", sys.executable, "-c", "raise SystemExit(3)"]) == 1
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["returncode"] == 3
