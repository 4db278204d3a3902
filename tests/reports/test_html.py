"""`zoo report`: the page and its plots from run directories (and a bench JSON)."""
import json

import pytest

from zoo.cli import main
from zoo.errors import UserError
from zoo.reports.html import read_run, write_report

PNG = b"\x89PNG\r\n\x1a\n"


def make_run(root, name, model, dataset, log, metrics=None):
    run = root / name
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model": model, "train": f"/data/{dataset}/train.tsv"}))
    (run / "train_log.json").write_text(json.dumps(log))
    if metrics is not None:
        (run / "metrics.json").write_text(json.dumps(metrics))
    return run


@pytest.fixture
def runs(tmp_path):
    log = [{"epoch": e, "loss": 1 / e, "val_recall@20": 0.1 * e, "val_mrr@20": 0.05 * e} for e in (1, 2, 3)]
    return [make_run(tmp_path, "gru", "gru4rec", "rsc15-100k", log, {"recall@20": 0.6, "mrr@20": 0.3}),
            make_run(tmp_path, "pop", "pop", "rsc15-100k", [{"epoch": 1}], {"recall@20": 0.09, "mrr@20": 0.03}),
            make_run(tmp_path, "sr", "sr", "ml-100k", [{"epoch": 1}], {"recall@20": 0.2, "mrr@20": 0.1})]


def test_read_run_takes_the_dataset_from_the_training_logs_folder(runs):
    run = read_run(runs[0])
    assert (run["name"], run["model"], run["dataset"]) == ("gru", "gru4rec", "rsc15-100k")
    assert run["metrics"]["recall@20"] == 0.6 and len(run["log"]) == 3


def test_report_writes_the_page_and_its_plots_replacing_an_old_report(runs, tmp_path):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"serve": {"latency": {"saved_model.step.grpc": {"p50_ms": 1.0, "p99_ms": 2.5}}}}))
    out = tmp_path / "report"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    assert main(["report", *map(str, runs), "--out", str(out), "--bench", str(bench)]) in (0, None)
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "latency.png", "metrics.png", "training.png"]
    assert all((out / name).read_bytes().startswith(PNG) for name in ("latency.png", "metrics.png", "training.png"))
    page = (out / "index.html").read_text()
    assert "<td>gru4rec</td><td>rsc15-100k</td><td>0.6000</td><td>0.3000</td>" in page
    assert 'src="latency.png"' in page


def test_report_without_losses_or_bench_has_the_metrics_plot_only(runs, tmp_path):
    write_report(runs[1:], tmp_path / "r")
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["index.html", "metrics.png"]


def test_report_errors_are_user_errors(runs, tmp_path):
    with pytest.raises(UserError, match="not a run directory"):
        write_report([tmp_path / "nothing"], tmp_path / "r")
    with pytest.raises(UserError, match="recall@5"):
        write_report(runs, tmp_path / "r", cutoff=5)
    assert not (tmp_path / "r").exists()


def test_report_shows_the_breakdowns_of_the_runs_that_have_them(runs, tmp_path):
    groups = {"1": {"recall@20": 0.5, "mrr@20": 0.25, "events": 4}, "2": {"events": 0}}
    metrics = {"recall@20": 0.5, "mrr@20": 0.2, "by_position": groups, "by_earlier_sessions": groups}
    hrnn = make_run(tmp_path, "hrnn-run", "hrnn", "globo", [{"epoch": 1}], metrics)
    page = (tmp_path / "r" / "index.html").read_text() if write_report([*runs, hrnn], tmp_path / "r") else ""
    assert "by the prediction after click n</h2>" in page and "by the user&#x27;s earlier sessions</h2>" in page
    assert "<tr><td>hrnn-run</td><td>0.5000 / 0.2500 (4)</td><td>-</td></tr>" in page
    assert "<td>gru</td><td>" not in page.split("after click n</h2>")[1]  # runs without breakdowns are not rows


def test_evaluate_prints_the_breakdowns(capsys):
    from zoo.cli.runs import _print_metrics

    groups = {"1": {"recall@20": 0.5, "mrr@20": 0.25, "events": 4}, "4+": {"events": 0}}
    _print_metrics({"recall@20": 0.5, "mrr@20": 0.2, "events": 4, "sessions": 2, "protocol": "session",
                    "ties": "conservative", "dropped_unknown_item_events": 0, "dropped_short_sessions": 0,
                    "by_position": groups})
    assert capsys.readouterr().out.splitlines()[-1] == (
        "by the prediction after click n, R@20 / MRR@20 (events): 1: 0.5000 / 0.2500 (4)   4+: - (0)")


def test_report_plots_a_zoo_tune_search(runs, tmp_path):
    study = tmp_path / "study"
    study.mkdir()
    trials = [{"number": 0, "state": "complete", "value": 0.30}, {"number": 1, "state": "pruned", "value": 0.10},
              {"number": 2, "state": "complete", "value": 0.35}, {"number": 3, "state": "fail", "value": None}]
    (study / "trials.json").write_text(json.dumps({"metric": "mrr@20", "trials": trials}))
    write_report(runs, tmp_path / "r", study_dir=study)
    assert (tmp_path / "r" / "search.png").read_bytes().startswith(PNG)
    assert 'src="search.png"' in (tmp_path / "r" / "index.html").read_text()
    (study / "trials.json").write_text("{}")
    with pytest.raises(UserError, match="has no list of trials"):
        write_report(runs, tmp_path / "r", study_dir=study)
