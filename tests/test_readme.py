"""The README's Python API block runs as written, on the built-in synthetic data."""
import re
from pathlib import Path

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
    assert 0.0 < metrics["recall@20"] <= 1.0 and 0.0 < metrics["mrr@20"] <= metrics["recall@20"]
    assert len(top) == 5 and all(isinstance(score, float) for _, score in top)
