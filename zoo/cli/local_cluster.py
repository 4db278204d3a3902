"""`zoo train --local-workers N`: a multi-worker cluster of N processes on this machine, to try it.

Each worker is `python -m zoo.cli train ...` (the same arguments, less `--local-workers`) with its own
`TF_CONFIG`: the N workers listen on free ports of 127.0.0.1 (never another address), worker 0 is the
chief. The chief's output is shown as it comes; the others' goes to log files, and the last lines of a
worker that fails are shown. If any worker fails, or on Ctrl-C or SIGTERM, every other worker is
killed, and a worker dies with this process even when it is killed outright (PR_SET_PDEATHSIG on Linux).

The ports are found by binding port 0 and closing the sockets just before the workers start, so
another program could take one in between: the workers then fail to start, and are all killed.
"""
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from zoo.errors import UserError

HOST = "127.0.0.1"
TAIL_LINES = 30


def free_ports(n, host=HOST):
    """`n` distinct ports that are free on `host` now (bound together to port 0, then released)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(n)]
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]


def tf_configs(ports, host=HOST):
    """The `TF_CONFIG` of each worker of a cluster on `host`:`ports` (worker 0 the chief)."""
    workers = [f"{host}:{port}" for port in ports]
    return [json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}})
            for i in range(len(ports))]


def strip_option(argv, option="--local-workers"):
    """`argv` without `option VALUE` / `option=VALUE` (or an argparse abbreviation of `option`)."""
    out, skip = [], False
    for arg in argv:
        name = arg.split("=", 1)[0]
        if skip:
            skip = False
        elif len(name) > 2 and option.startswith(name) and name.startswith("--"):
            skip = "=" not in arg
        else:
            out.append(arg)
    return out


def run_local_workers(n_workers, argv, env=None, poll_seconds=0.2, command=None):
    """Runs `zoo <argv>` as `n_workers` workers of one local cluster and waits for them.

    `command` replaces `python -m zoo.cli` (tests).

    Returns:
        0 when every worker succeeded; else the exit code of the first that failed (128 + signal for a
        killed one), 130 on Ctrl-C.

    Raises:
        UserError: `n_workers` < 1, or TF_CONFIG is set already (the workers get their own).
    """
    env = dict(os.environ if env is None else env)
    if n_workers < 1:
        raise UserError(f"--local-workers must be >= 1, got {n_workers}")
    if env.get("TF_CONFIG", "").strip():
        raise UserError("--local-workers sets each worker's TF_CONFIG itself: unset TF_CONFIG")
    logs = tempfile.mkdtemp(prefix="zoo-local-workers-")
    workers = []
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with contextlib.ExitStack() as files:
            for index, config in enumerate(tf_configs(free_ports(n_workers))):
                out = files.enter_context(open(os.path.join(logs, f"worker-{index}.log"), "wb")) if index else None
                workers.append(subprocess.Popen(  # this process starts no threads (preexec_fn)
                    [*(command or [sys.executable, "-m", "zoo.cli"]), *argv], env={**env, "TF_CONFIG": config},
                    stdout=out, stderr=subprocess.STDOUT if out else None, preexec_fn=_die_with_parent))  # noqa: PLW1509
            code = _wait(workers, logs, poll_seconds)
    except KeyboardInterrupt:
        print("zoo: interrupted: stopping the workers", file=sys.stderr)
        code = 130
    finally:
        _kill(workers)
        signal.signal(signal.SIGTERM, previous)
    shutil.rmtree(logs, ignore_errors=True)
    return code


def _wait(workers, logs, poll_seconds):
    """Waits until all workers succeed (0) or one fails (its code, after showing its last lines)."""
    while True:
        codes = [w.poll() for w in workers]
        for index, code in enumerate(codes):
            if code not in (None, 0):
                code = 128 - code if code < 0 else code
                _kill(workers)
                print(f"zoo: worker {index} of {len(workers)} failed (exit code {code}); stopped the others",
                      file=sys.stderr)
                if index:
                    _show_tail(os.path.join(logs, f"worker-{index}.log"), index)
                return code
        if all(code == 0 for code in codes):
            return 0
        time.sleep(poll_seconds)


def _kill(workers, grace=5.0):
    """SIGTERM to the workers still running, SIGKILL to those still running after `grace` seconds."""
    running = [w for w in workers if w.poll() is None]
    for w in running:
        w.terminate()
    deadline = time.monotonic() + grace
    for w in running:
        try:
            w.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()


def _show_tail(path, index):
    with contextlib.suppress(OSError), open(path, "rb") as f:
        lines = f.read().decode(errors="replace").splitlines()[-TAIL_LINES:]
        print(f"--- last lines of worker {index} ---", *lines, sep="\n", file=sys.stderr)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _die_with_parent():
    """In the child: be killed when the parent dies (Linux prctl PR_SET_PDEATHSIG; elsewhere nothing)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
