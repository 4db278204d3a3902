"""The README's Python API block runs as written, on the built-in synthetic data."""
import re
from pathlib import Path

import pytest

from metric_reference import session_metrics
from zoo.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def python_block():
    text = README.read_text()
    start = text.index("## Python API")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def test_readme_python_api_block_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["datasets", "synth", "--out", "data/synth.tsv", "--users", "400"]) in (0, None)
    assert main(["datasets", "prep", "data/synth.tsv", "--out", "data/synth", "--test-days", "2"]) in (0, None)
    namespace = {}
    exec(compile(python_block().replace("epochs=2", "epochs=1"), "README.md", "exec"), namespace)
    metrics, top = namespace["metrics"], namespace["top"]
    expected = session_metrics(namespace["model"], namespace["test"], namespace["vocab"], (10, 20))
    assert {key: metrics[key] for key in expected} == pytest.approx(expected, rel=1e-9)
    assert len(top) == 5 and all(isinstance(score, float) for _, score in top)
