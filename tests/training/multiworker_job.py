"""One worker of the test clusters of `test_distributed.py` (run as a script, TF_CONFIG set per process).

    python multiworker_job.py SPEC.json

SPEC: {"train": PATH, "test": PATH or null, "out": DIR, "jobs": [JOB, ...]}, a JOB {"name", "preset", "sets",
"epochs", "shard"} and optionally {"checkpoint_dir", "checkpoint_every", "die_after"}.
Every worker joins the cluster, then trains the jobs one after the other with `distributed.fit`
("slots": the whole log on every worker; "sessions": its shard, read by `zoo.datasets.sharding`);
the chief writes OUT/NAME.npz (the weights by position and name) and OUT/NAME.json (the log, Recall@20 / MRR@20 on
the test log, the worker count). With "die_after": N the chief kills itself (SIGKILL) once N steps of
the epoch are done (put that job last: the other workers then wait for it in a collective).
"""
import json
import os
import signal
import sys

from zoo.training import distributed

worker = distributed.join_cluster()  # first: before TensorFlow runs an op

import keras  # after joining the cluster
import numpy as np

from zoo.datasets import sharding
from zoo.datasets.io import load_events
from zoo.evaluation import evaluate
from zoo.training import presets


def weights_by_name(model):
    """{"<position>_<name>": value} of the model's weights (names alone repeat, e.g. HRNN's two GRUs)."""
    return {f"{i:02d}_{v.name}": v.numpy() for i, v in enumerate(model.weights)}


class Die(keras.callbacks.Callback):
    """SIGKILLs this process once `after` steps of an epoch are done (Keras numbering, as `EpochLog`)."""

    def __init__(self, after):
        super().__init__()
        self.after = after

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 >= self.after:
            os.kill(os.getpid(), signal.SIGKILL)


def main(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    events = load_events(spec["train"])
    test = load_events(spec["test"]) if spec.get("test") else None
    for job in spec["jobs"]:
        config = presets.resolve(job.get("preset"), sets=job["sets"], epochs=job["epochs"])
        shard = job.get("shard", "slots")
        options = {"checkpoint_dir": job.get("checkpoint_dir"), "checkpoint_every": job.get("checkpoint_every", 0),
                   "callbacks": [Die(job["die_after"])] if "die_after" in job and worker.is_chief else [],
                   "verbose": 0}
        if shard == "sessions":
            vocab, counts = sharding.item_counts(spec["train"])
            mine = sharding.load_shard(spec["train"], worker.rank, worker.n_workers, chunk_rows=2000)
            model, vocab, log = distributed.fit(job.get("model", "gru4rec"), mine, config, worker, shard=shard,
                                                item_vocab=vocab, item_counts=counts, **options)
        else:
            model, vocab, log = distributed.fit(job.get("model", "gru4rec"), events, config, worker, **options)
        if worker.is_chief:
            np.savez(os.path.join(spec["out"], job["name"] + ".npz"), **weights_by_name(model))
            from tensorflow.python.eager import context

            result = {"log": log, "workers": worker.n_workers,
                      "heartbeat_timeout_ms": context.context().config.experimental.coordination_config.heartbeat_timeout_in_ms}
            if test is not None:
                result["metrics"] = evaluate(model, test, vocab, cutoffs=(20,))
            with open(os.path.join(spec["out"], job["name"] + ".json"), "w") as f:
                json.dump(result, f)
        worker.barrier()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
