"""Shared fixtures."""
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data():
    """The folder of real datasets beside the repository (never copied into it); skips if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="module")
def small_split(tmp_path_factory):
    """A small synthetic log (60 users, 40 items) prepared by `zoo datasets prep`: the folder of its train.tsv and
    test.tsv."""
    from zoo.cli import main

    root = tmp_path_factory.mktemp("small")
    assert main(["datasets", "synth", "--out", str(root / "log.tsv"), "--users", "60", "--items", "40"]) in (0, None)
    prep = root / "prep"
    assert main(["datasets", "prep", str(root / "log.tsv"), "--out", str(prep), "--test-days", "3"]) in (0, None)
    return prep
