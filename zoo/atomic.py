"""Atomic, durable output: a reader sees the old file or directory or the complete new one, never half
of one and never neither, also after a crash or a power loss.

A new file or directory is written at a temporary path beside its target and fsync'd (every file and
folder of a tree), then put in place: a file by `os.replace` (atomic), a directory that replaces
another by an atomic exchange of the two (`exchange`: Linux's renameat2 RENAME_EXCHANGE), after which
the old one is removed; the parent folder is fsync'd so that the rename itself survives a power loss.
"""
import contextlib
import ctypes
import errno
import json
import os
import shutil
import tempfile

_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; puts it onto `path` only if the block succeeds.

    Works for files and directories alike (whatever the block creates at the yielded path). A
    directory replaces an existing one by `exchange`, so `path` never stops existing.
    """
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    target = os.path.join(tmp, os.path.basename(path))
    try:
        yield target
        fsync_tree(target)
        if os.path.isdir(path) and not os.path.islink(path):
            exchange(target, path)  # the old directory is now at `target`, removed below
        else:
            os.replace(target, path)
        fsync_tree(parent, recursive=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_json(path, obj):
    """Writes `obj` as indented JSON, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def exchange(a, b):
    """Swaps the paths `a` and `b` (both must exist) in one atomic step where the system allows it.

    Linux (renameat2 with RENAME_EXCHANGE, kernel 3.15+, on the common file systems): atomic. Elsewhere,
    or where the file system refuses it, three renames through a name beside `b`, with a short window
    in which `b` is missing.
    """
    a, b = os.fspath(a), os.fspath(b)
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), b)
    aside = tempfile.mktemp(prefix=".swap-", dir=os.path.dirname(os.path.abspath(b)))
    os.replace(b, aside)
    os.replace(a, b)
    os.replace(aside, a)


def fsync_tree(path, recursive=True):
    """fsyncs the file `path`, or the folder `path` and (with `recursive`) every file and folder below it."""
    if not os.path.isdir(path):
        _fsync(path, os.O_RDONLY)
        return
    if recursive:
        for folder, _, files in os.walk(path, topdown=False):
            for name in files:
                _fsync(os.path.join(folder, name), os.O_RDONLY)
            _fsync(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    else:
        _fsync(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def _fsync(path, flags):
    if os.path.islink(path):
        return
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    except OSError as e:  # some file systems cannot fsync a folder
        if e.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
