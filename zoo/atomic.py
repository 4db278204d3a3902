"""Atomic file output: a reader sees the old file or the complete new one, never half of one."""
import contextlib
import json
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; moves it onto `path` only if the block succeeds.

    Works for files and directories alike (whatever the block creates at the yielded path).
    """
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    target = os.path.join(tmp, os.path.basename(path))
    try:
        yield target
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path, obj):
    """Writes `obj` as indented JSON, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")
