"""Multi-worker training (`zoo.training.distributed`): N workers with B/N slots each compute one worker's
step with B slots; sharded sessions train as well as one worker; a killed cluster resumes.

The cluster tests start real worker processes on 127.0.0.1 (loopback only), each with its TF_CONFIG;
a cluster that runs past its time limit is killed and fails the test.

Why a learning rate of 0.02 in the equality tests: the workers sum the gradient rows of their slots
apart and then add the sums, so the float32 results differ from one worker's in the last bits. With the
presets' 0.2, Adagrad's first steps amplify any such difference: one worker's own run moves by O(1)
after an epoch when one weight of its initialization is moved by one ulp (measured on this log). At
0.02 the same one-ulp perturbation stays under 1e-6, so 1e-5 tells a faithful split from a wrong one.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from zoo import training
from zoo.cli.local_cluster import free_ports, run_local_workers, strip_option, tf_configs
from zoo.datasets.batches import ParallelBatches
from zoo.datasets.io import load_events
from zoo.errors import ConfigError, UserError
from zoo.evaluation import evaluate
from zoo.runs import load_run
from zoo.training import distributed, presets

JOB = Path(__file__).with_name("multiworker_job.py")


def weights_by_name(model):  # as multiworker_job.py saves them
    return {f"{i:02d}_{v.name}": v.numpy() for i, v in enumerate(model.weights)}
CLUSTER_SECONDS = 300
EXACT = ["n_sample=128", "learning_rate=0.02", "dropout_p_hidden=0", "steps_per_execution=16"]
JOBS = [
    {"name": "xe", "preset": "rsc15-xe-shared", "sets": EXACT, "epochs": 1},
    # with a separate input embedding: its gradient rows (the slots' inputs) are all-gathered, not all-reduced
    {"name": "bprmax", "preset": "rsc15-bprmax-shared", "epochs": 1,
     "sets": EXACT + ["constrained_embedding=false", "embedding=32"]},
    {"name": "sharded", "preset": "rsc15-xe-shared", "sets": ["n_sample=128", "steps_per_execution=16"], "epochs": 4,
     "shard": "sessions"},
    # last: the chief SIGKILLs itself at step 48 of 186, after the checkpoint at step 32 (`run/checkpoint`)
    {"name": "killed", "preset": "rsc15-xe-shared", "sets": EXACT, "epochs": 1, "checkpoint_every": 32,
     "die_after": 40},
]


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """A synthetic log (400 users, 200 items; about 7,000 training events) split by time."""
    from zoo.cli import main

    root = tmp_path_factory.mktemp("multiworker")
    assert main(["datasets", "synth", "--out", str(root / "log.tsv"), "--users", "400", "--items", "200"]) in (0, None)
    assert main(["datasets", "prep", str(root / "log.tsv"), "--out", str(root / "prep"), "--test-days", "3"]) in (0, None)
    return root / "prep"


def start_cluster(n_workers, command, cwd, log_dir):
    """Starts `command` as the workers of a cluster on 127.0.0.1; returns the processes (worker 0 the chief)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return [subprocess.Popen(command, cwd=cwd, env={**env, "TF_CONFIG": config},
                             stdout=open(Path(log_dir) / f"worker-{i}.log", "wb"), stderr=subprocess.STDOUT)
            for i, config in enumerate(tf_configs(free_ports(n_workers)))]


def wait_for_chief(workers, log_dir, expected, seconds=CLUSTER_SECONDS):
    """Waits for the chief's exit (code `expected`), then kills the workers still running."""
    try:
        workers[0].wait(seconds)
        for w in workers[1:]:
            if expected == 0:
                w.wait(60)
    except subprocess.TimeoutExpired:
        pass
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    if workers[0].returncode != expected or (expected == 0 and any(w.returncode for w in workers)):
        tails = "\n".join(f"--- worker {i} ---\n" + (Path(log_dir) / f"worker-{i}.log").read_text()[-3000:]
                          for i in range(len(workers)))
        pytest.fail(f"cluster exit codes {[w.returncode for w in workers]}\n{tails}")


@pytest.fixture(scope="module")
def cluster_results(split, tmp_path_factory):
    """The chief's results of JOBS, trained by one cluster of 2 workers, the jobs one after the other;
    `run/checkpoint` is the killed job's last checkpoint."""
    out = tmp_path_factory.mktemp("cluster")
    JOBS[-1]["checkpoint_dir"] = str(out / "run" / "checkpoint")
    spec = out / "spec.json"
    spec.write_text(json.dumps({"train": str(split / "train.tsv"), "test": str(split / "test.tsv"), "out": str(out),
                                "jobs": JOBS}))
    wait_for_chief(start_cluster(2, [sys.executable, str(JOB), str(spec)], out, out), out, expected=-signal.SIGKILL)
    return out


@pytest.fixture(scope="module")
def one_worker(split):
    """Job name -> (model, vocab, log) of one worker with the job's whole batch (trained once)."""
    trained = {}

    def train(name):
        job = next(job for job in JOBS if job["name"] == name)
        config = presets.resolve(job["preset"], sets=job["sets"], epochs=job["epochs"])
        key = json.dumps(config, sort_keys=True)
        if key not in trained:
            trained[key] = training.fit("gru4rec", load_events(split / "train.tsv"), config, verbose=0)
        return trained[key]

    return train


def assert_same_weights(got, want, atol=1e-5):
    assert sorted(got) == sorted(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=atol, err_msg=name)


@pytest.mark.parametrize("name", ["xe", "bprmax"])
def test_two_workers_of_16_slots_give_the_weights_of_one_worker_of_32(cluster_results, one_worker, name):
    model, _, log = one_worker(name)
    got = dict(np.load(cluster_results / f"{name}.npz"))
    assert_same_weights(got, weights_by_name(model))  # slot states (gathered) included
    result = json.loads((cluster_results / f"{name}.json").read_text())
    assert result["workers"] == 2
    assert result["heartbeat_timeout_ms"] == distributed.HEARTBEAT_TIMEOUT_S * 1000  # ours, not TF's 10 s
    assert result["log"][-1]["loss"] == pytest.approx(log[-1]["loss"], rel=1e-5)


def test_sharded_sessions_train_as_well_as_one_worker(split, cluster_results, one_worker):
    model, vocab, _ = one_worker("sharded")
    one = evaluate(model, load_events(split / "test.tsv"), vocab, cutoffs=(20,))
    two = json.loads((cluster_results / "sharded.json").read_text())
    assert two["log"][-1]["loss"] < two["log"][0]["loss"]
    # ~1,000 ranked test events: Recall@20 of one worker's runs with other seeds differ by about 0.01
    assert abs(two["metrics"]["recall@20"] - one["recall@20"]) < 0.03, (two["metrics"], one)


def test_killed_cluster_resumes_on_all_workers_to_the_uninterrupted_weights(split, cluster_results, one_worker):
    """The chief died (SIGKILL) in the epoch after its checkpoint at step 32; `zoo train --local-workers 2
    --resume` continues the run to the weights of one uninterrupted worker."""
    run = cluster_results / "run"
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    assert (state["epoch"], state["step"], state["distribution"]) == (0, 32, {"workers": 2, "shard": "slots"})
    env = {**{k: v for k, v in os.environ.items() if k != "TF_CONFIG"}, "TF_CPP_MIN_LOG_LEVEL": "2"}
    resumed = subprocess.run([sys.executable, "-m", "zoo.cli", "train", "--train", str(split / "train.tsv"),
                              "--out", str(run), "--resume", "--quiet", "--local-workers", "2"],
                             env=env, capture_output=True, timeout=CLUSTER_SECONDS, check=False)
    assert resumed.returncode == 0, resumed.stderr.decode()[-3000:]
    loaded = load_run(str(run))
    assert loaded.info["distribution"] == {"workers": 2, "shard": "slots"}
    model, _, _ = one_worker("killed")
    assert_same_weights(weights_by_name(loaded.model), weights_by_name(model))
    assert [row["epoch"] for row in json.loads((run / "train_log.json").read_text())] == [1]


@pytest.mark.skipif(os.environ.get("ZOO_SLOW_TESTS") != "1", reason="slow (minutes): set ZOO_SLOW_TESTS=1")
def test_rsc15_sharded_sessions_recall_within_0_01_of_one_worker(shared_data, tmp_path):
    """rsc15-100k, `rsc15-xe-shared` (ZOO_SLOW_EPOCHS epochs, default 5): 2 workers each scheduling its
    shard of the sessions reach one worker's Recall@20 within 0.01."""
    data = shared_data / "rsc15-100k"
    epochs = os.environ.get("ZOO_SLOW_EPOCHS", "5")
    env = {**{k: v for k, v in os.environ.items() if k != "TF_CONFIG"}, "TF_CPP_MIN_LOG_LEVEL": "2"}
    results = {}
    for name, extra in (("one", []), ("sharded", ["--local-workers", "2", "--shard", "sessions"])):
        done = subprocess.run([sys.executable, "-m", "zoo.cli", "train", "--preset", "rsc15-xe-shared", "--epochs", epochs,
                               "--train", str(data / "yoochoose-clicks-100k_train_full.txt"),
                               "--test", str(data / "yoochoose-clicks-100k_test.txt"), "--out", str(tmp_path / name),
                               "--quiet", *extra], env=env, capture_output=True, timeout=3600, check=False)
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        results[name] = {"metrics": json.loads((tmp_path / name / "metrics.json").read_text()),
                         "log": json.loads((tmp_path / name / "train_log.json").read_text())}
    print(json.dumps({name: {"recall@20": r["metrics"]["recall@20"], "mrr@20": r["metrics"]["mrr@20"],
                             "events_per_s": [row["events_per_s"] for row in r["log"]]}
                      for name, r in results.items()}))
    assert abs(results["sharded"]["metrics"]["recall@20"] - results["one"]["metrics"]["recall@20"]) < 0.01


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- without a cluster --------------------------------------------------------------------------
def test_tf_config_parsing():
    assert distributed.cluster_from_env({}) is None
    assert distributed.cluster_from_env({"TF_CONFIG": " "}) is None
    spec = distributed.cluster_from_env({"TF_CONFIG": tf_configs([1, 2])[1]})
    assert spec == {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 1}}
    for bad in ("{", '{"cluster": {"ps": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": 0}}',
                '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}'):
        with pytest.raises(UserError, match="TF_CONFIG"):
            distributed.cluster_from_env({"TF_CONFIG": bad})


def batches(n_steps=3, n_slots=4):
    cells = np.arange(n_steps * n_slots, dtype=np.int32).reshape(n_steps, n_slots)
    return ParallelBatches(items=cells, targets=cells + 100, reset=cells % 3 == 0, mask=cells % 5 != 0)


def test_slot_slice_and_padding():
    whole = batches()
    mine = distributed.slot_slice(whole, rank=1, n_workers=2)
    np.testing.assert_array_equal(mine.items, whole.items[:, 2:4])
    np.testing.assert_array_equal(mine.mask, whole.mask[:, 2:4])
    padded = distributed.pad_steps(mine, 5)
    assert padded.n_steps == 5 and padded.n_pairs == mine.n_pairs
    assert not padded.mask[3:].any() and not padded.reset[3:].any() and (padded.targets[3:] == 0).all()
    with pytest.raises(ConfigError, match="does not split"):
        distributed.slot_slice(whole, rank=0, n_workers=3)


def test_resume_within_an_epoch_needs_the_same_sharding():
    state = {"step": 10, "distribution": {"workers": 2, "shard": "sessions"}}
    distributed._check_layout("ckpt", state, {"workers": 2, "shard": "sessions"})
    distributed._check_layout("ckpt", {**state, "step": 0}, {"workers": 3, "shard": "sessions"})
    distributed._check_layout("ckpt", {"step": 10}, {"workers": 4, "shard": "slots"})  # a one-worker checkpoint
    with pytest.raises(UserError, match="same --local-workers"):
        distributed._check_layout("ckpt", state, {"workers": 3, "shard": "sessions"})
    with pytest.raises(UserError, match="same --local-workers"):  # one process, a sharded checkpoint
        distributed._check_layout("ckpt", state, {"workers": 1, "shard": "slots"})


def test_local_cluster_helpers():
    ports = free_ports(3)
    assert len(set(ports)) == 3
    configs = [json.loads(c) for c in tf_configs(ports)]
    assert [c["task"]["index"] for c in configs] == [0, 1, 2]
    assert all(c["cluster"]["worker"] == [f"127.0.0.1:{p}" for p in ports] for c in configs)
    argv = ["train", "--local-workers", "2", "--out", "r", "--local-workers=3", "--local-w", "4", "--quiet"]
    assert strip_option(argv) == ["train", "--out", "r", "--quiet"]
    with pytest.raises(UserError, match="unset TF_CONFIG"):
        run_local_workers(2, ["train"], env={"TF_CONFIG": tf_configs([1])[0]})


WORKER = """
import glob, json, os, sys, time
config = json.loads(os.environ["TF_CONFIG"])
index, n = config["task"]["index"], len(config["cluster"]["worker"])
with open(os.path.join(sys.argv[1], f"{index}.tmp"), "w") as f:
    f.write(str(os.getpid()))
os.replace(f.name, os.path.join(sys.argv[1], f"{index}.pid"))
print(f"worker {index} here", flush=True)
if index == int(sys.argv[2]):
    while len(glob.glob(os.path.join(sys.argv[1], "*.pid"))) < n:  # fails once all are running
        time.sleep(0.05)
    sys.exit(3)
time.sleep(120)
"""


def test_a_failing_worker_stops_the_others(tmp_path, capfd):
    """One worker fails: the launcher kills the others, returns its exit code and shows its last lines."""
    started = time.monotonic()
    code = run_local_workers(3, [str(tmp_path), "1"], command=[sys.executable, "-c", WORKER])
    assert code == 3 and time.monotonic() - started < 60
    out, err = capfd.readouterr()
    assert "worker 0 here" in out  # the chief's output is shown as it comes
    assert "worker 1 of 3 failed (exit code 3)" in err and "worker 1 here" in err  # the tail of the failing one
    pids = [int((tmp_path / f"{i}.pid").read_text()) for i in range(3)]
    assert not any(alive(p) for p in pids)


def test_ctrl_c_stops_every_worker(tmp_path):
    script = ("import sys; from zoo.cli.local_cluster import run_local_workers; "
              f"sys.exit(run_local_workers(2, [{str(tmp_path)!r}, '-1'], command=[sys.executable, '-c', {WORKER!r}]))")
    # Ctrl-C as from a terminal: SIGINT at its default disposition, even when this suite runs under nohup or
    # in a background job (SIGINT ignored there, which a child inherits, and Python then keeps ignoring it)
    launcher = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"{i}.pid").exists() for i in range(2)):
        assert time.monotonic() < deadline and launcher.poll() is None
        time.sleep(0.05)
    launcher.send_signal(signal.SIGINT)
    assert launcher.wait(30) == 130
    assert not any(alive(int((tmp_path / f"{i}.pid").read_text())) for i in range(2))
