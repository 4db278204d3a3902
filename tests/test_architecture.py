"""The package tree's contracts: dependencies point one way (import-linter, with setup.cfg's contract), and
the wheel ships every module of the tree under the one `zoo` namespace."""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import zoo

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"zoo": "zoo", "datasets": "zoo/datasets", "export": "zoo/export"}  # source folder -> installed path


def _installed_layout(target):
    """A copy of the sources laid out as a wheel installs them (import-linter reads one package tree)."""
    for source, installed in MAPPED.items():
        shutil.copytree(ROOT / source, target / installed, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "setup.cfg", target / "setup.cfg")
    return target


def _lint_imports(tree):
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--no-cache", "setup.cfg"], cwd=tree, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(tree)})


def test_the_import_contract_holds(tmp_path):
    result = _lint_imports(_installed_layout(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("module, upward", [
    ("zoo/models/recommender.py", "zoo.cli"),  # a library module importing the CLI
    ("zoo/atomic.py", "zoo.datasets.io"),  # a circle: datasets.io imports zoo.atomic
    ("zoo/export/exporter.py", "zoo.runs"),  # export must not reach up to the run directories
])
def test_the_import_contract_fails_on_an_upward_import(tmp_path, module, upward):
    tree = _installed_layout(tmp_path)
    with open(tree / module, "a") as f:
        f.write(f"\nimport {upward}  # noqa\n")
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and upward in result.stdout


def test_the_wheel_ships_every_module_of_the_tree(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    [wheel] = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if name.endswith(".py")}
        metadata = next(archive.read(n).decode() for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    expected = {f"{installed}/{path.relative_to(ROOT / source).as_posix()}"
                for source, installed in MAPPED.items() for path in (ROOT / source).rglob("*.py")
                if "__pycache__" not in path.parts}
    assert expected <= shipped, f"missing from the wheel: {sorted(expected - shipped)}"
    assert not {name for name in shipped if name.split("/")[0] in ("datasets", "export")}  # never top-level
    assert f"\nVersion: {zoo.__version__}\n" in metadata  # the version is written once, in zoo/__init__.py
    assert not [line for line in metadata.splitlines() if line.startswith("Requires-Dist: keras-rs")]


def test_no_module_of_the_tree_is_ignored_by_git():
    """A .gitignore pattern once matched `zoo/runs/` (meant for the run folders at the top): the package
    was missing from every clean clone while the working tree passed."""
    ignored = subprocess.run(["git", "ls-files", "--others", "--ignored", "--exclude-standard", "--", *MAPPED],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert not [path for path in ignored if path.endswith(".py")]
