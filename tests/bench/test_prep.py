"""`zoo bench prep`: the synthetic Yoochoose-sized log and the measured child processes."""
import json
import sys

import pandas as pd

from zoo.bench.prep import run_measured, synthetic_clicks
from zoo.cli import main


def test_the_synthetic_log_has_the_shape_it_promises(tmp_path):
    events, sessions = synthetic_clicks(tmp_path / "log.parquet", n_events=20_000, n_items=500)
    log = pd.read_parquet(tmp_path / "log.parquet")
    assert len(log) == events <= 20_000 and log.SessionId.nunique() == sessions
    lengths = log.groupby("SessionId").size()
    assert 3.2 < lengths.mean() < 4.2 and 0.2 < (lengths == 1).mean() < 0.35  # geometric, p = 0.27
    assert log.ItemId.nunique() <= 500 and log.groupby("SessionId").Time.is_monotonic_increasing.all()


def test_a_child_is_measured_alone(tmp_path):
    out, seconds, peak = run_measured([sys.executable, "-c", "b = bytearray(300 * 2**20); print(len(b))"])
    assert out.strip() == str(300 * 2**20) and seconds > 0 and peak >= 300


def test_the_command_reports_prep_and_the_pipeline(capsys):
    assert main(["bench", "prep", "--events", "3000", "--items", "200", "--json"]) in (0, None)
    result = json.loads(capsys.readouterr().out)
    assert result["log"]["items"] == 200 and result["pipeline"]["events"] == result["log"]["events"]
    assert result["prep"]["peak_rss_mb"] > 0 and result["pipeline"]["steps"] > 0
