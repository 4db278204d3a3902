"""Multi-worker training: `tf.distribute.MultiWorkerMirroredStrategy` and a custom data-parallel loop.

A cluster is described the way clusters describe it, by `TF_CONFIG` in every worker's environment
(`{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}`, optionally with
a `chief` task); `zoo train --local-workers N` sets it for N processes on 127.0.0.1. Each worker is one
replica (its first device); the strategy's collectives (all-gather, all-reduce; RING over gRPC on
CPUs) are the only communication. Keras' `Model.fit` is not used under this strategy (reported broken
with Keras 3, keras-team/keras#20585); `fit` here runs its own loop with the same callbacks.

What is distributed, for a global batch of B session slots over N workers (b = B / N each):

* Slots and their states. Worker r owns slots r*b .. r*b+b-1: it plays them and keeps their recurrent
  states in per-replica variables (`synchronization=ON_READ`), reset per slot where its session
  starts. A checkpoint all-gathers them into the model's [B, S] `slot_states` (the one-worker layout),
  and a resumed worker takes its rows back.
* The schedule, two ways (`shard`):
  - "slots": every worker builds the one-worker session-parallel schedule of the whole log for B
    slots and plays its b columns. Together the workers compute exactly one worker's step (below).
  - "sessions": each worker schedules only its shard of the sessions (`zoo.datasets.sharding`: a
    stable hash of the session id) on its b slots, for logs no worker should hold whole. Not equal
    step for step to one worker; the same model, loss and optimizer.
  Every worker runs the same number of steps per epoch, the longest schedule's: a worker whose slots
  run dry plays masked steps (no pair, no loss), so no collective ever waits for a missing peer.
* Negative samples: every worker draws the same `n_sample` popularity-sampled negatives per step from
  the same seeded store (`zoo.datasets.sampling.sample_store`, seeded per epoch as one worker's).
* Targets: each step gathers the slots' (input, target, mask) triples, [B, 3] int32 (one integer
  all-reduce of every worker's rows in place, exact), and every worker merges the global candidates
  exactly as one worker does (`merge_candidates` on the B targets, B inputs and the shared negatives):
  the same distinct items in the same order everywhere, so every row is scored against the same
  candidates (the other B - 1 targets and the samples) as on one worker.
* Loss: worker r sums its active rows' losses and divides by the global B; the sum over workers is one
  worker's loss (summed over active slots, divided by the batch size), all-reduced for the log.
* Gradients, all-reduced by sum before the optimizer sees them: the dense ones (the recurrent
  weights) as they are; the item vectors' and biases' as ONE dense [U, H+1] block, since their rows
  are the candidates, the same U rows in the same order on every worker: each worker then applies
  the same `DistinctRows` gradient with the Adagrad-with-momentum row update of one worker (same rows
  touched, so the same velocities decay). Other sparse gradients (a separate input embedding,
  one-hot input tables) are all-gathered (indices and rows, in slot order) and summed per row by the
  optimizer, as one worker's are.

So with `shard="slots"` and no dropout, N workers with b slots each reach the weights of one worker
with B slots up to floating-point summation order (`tests/training/test_distributed.py`: 2 x 16
against 1 x 32, cross-entropy with logQ and BPR-max, within 1e-5 after an epoch). Named deviation:
worker r draws the dropout masks of its b slots from the model's (mirrored) seed generators with their
seeds moved by r (`_worker_seeds`), so the masks have one worker's distribution and are independent
across workers, but are not the masks one worker would draw for those slots (worker 0's are).

One graph call runs one step: in a graph loop over several steps, every iteration's collectives reuse
the instance keys TensorFlow assigns per call, and the workers paired one step's all-reduce with
another's (a shape mismatch; TF 2.21).

The chief (the `chief` task, else worker 0) writes the run directory and the checkpoints; the other
workers run the same saving code into a temporary folder they delete (TF's multi-worker guidance:
saving may run collectives, so every worker saves). A resumed run loads the chief's last checkpoint
on every worker (the run directory must be on a file system every worker reads, as for
`keras.callbacks.BackupAndRestore`).
"""
import contextlib
import json
import os
import shutil
import tempfile

import keras
import numpy as np

from zoo.atomic import atomic_path, write_json
from zoo.datasets.batches import ParallelBatches, order_sessions, session_parallel_batches, user_parallel_batches
from zoo.datasets.io import ITEM, SESSION
from zoo.datasets.pipeline import session_parallel_dataset
from zoo.datasets.sampling import merge_candidates, sample_store
from zoo.datasets.vocab import Vocabulary
from zoo.errors import ConfigError, DataError, UserError
from zoo.optimization import losses
from zoo.optimization.optimizers import DistinctRows, read_rows
from zoo.training import checkpoints, presets
from zoo.training.data import training_sequences
from zoo.training.callbacks import EpochLog, EpochProgbar, ValidationMetrics
from zoo.training.data import item_counts as count_items

SHARDS = ("slots", "sessions")
# TensorFlow's coordination service declares a worker dead after 10 s without a heartbeat; on a loaded
# machine (2 cores, other jobs) a live chief missed that and the run failed. A dead local worker is seen at
# once by `zoo train --local-workers` (its exit); on a cluster, the peers now notice within this time.
HEARTBEAT_TIMEOUT_S = 120
_worker = None  # the Worker of this process, once `join_cluster` made it


# --- the cluster ----------------------------------------------------------------------------------
def cluster_from_env(environ=None):
    """The cluster `TF_CONFIG` describes, as {"cluster": {...}, "task": {"type", "index"}}, or None when
    it is unset or empty (one process). Raises UserError for a TF_CONFIG this loop cannot use."""
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
        cluster, task = config.get("cluster") or {}, config.get("task") or {}
        kind, index = task.get("type"), int(task.get("index", 0))
    except (ValueError, TypeError, AttributeError) as e:
        raise UserError(f"TF_CONFIG is not a cluster description: {e}") from None
    if not cluster:
        return None
    others = sorted(set(cluster) - {"chief", "worker"})
    if others:
        raise UserError(f"TF_CONFIG: multi-worker training takes 'chief' and 'worker' tasks, not {', '.join(others)} "
                        "(MultiWorkerMirroredStrategy; no parameter servers or evaluators)")
    if kind not in cluster or not 0 <= index < len(cluster[kind]):
        raise UserError(f"TF_CONFIG: task {kind!r} {index} is not in the cluster {cluster}")
    return {"cluster": cluster, "task": {"type": kind, "index": index}}


class Worker:
    """This process in the cluster: the strategy, its replica `rank` (0..n_workers-1, the order of the
    all-gathers), and whether it is the chief (it alone writes the run)."""

    def __init__(self, strategy, rank, n_workers, is_chief):
        self.strategy, self.rank, self.n_workers, self.is_chief = strategy, rank, n_workers, is_chief

    def __repr__(self):
        return f"Worker(rank={self.rank} of {self.n_workers}{', chief' if self.is_chief else ''})"

    def barrier(self):
        """Returns once every worker has called it (a one-number all-reduce)."""
        import tensorflow as tf

        @tf.function
        def together():
            return self.strategy.run(lambda: tf.distribute.get_replica_context().all_reduce("sum", tf.ones([])))

        together()

    def all_gather(self, values):
        """Every worker's int64 vector `values` [k], stacked by rank: [n_workers, k] (NumPy)."""
        import tensorflow as tf

        values = tf.constant(np.asarray(values, np.int64)[np.newaxis])

        @tf.function
        def gather():
            return self.strategy.run(lambda: tf.distribute.get_replica_context().all_gather(values, axis=0))

        return self.strategy.experimental_local_results(gather())[0].numpy()


def join_cluster(environ=None):
    """Joins the cluster of `TF_CONFIG`: creates the MultiWorkerMirroredStrategy (once per process) and
    returns this process's `Worker`, or None without a cluster.

    It must run before TensorFlow runs any op (TensorFlow configures its collectives at start-up);
    `zoo train` calls it right after setting the thread count.

    Raises:
        UserError: TF_CONFIG is malformed, TensorFlow has already started, or a worker has more
            than one device (this loop runs one replica per worker).
    """
    global _worker
    if _worker is not None:
        return _worker
    spec = cluster_from_env(environ)
    if spec is None:
        return None
    import tensorflow as tf

    _configure_coordination(spec)
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as e:
        if "startup" not in str(e):
            raise
        raise UserError("TF_CONFIG names a cluster, but TensorFlow ran before it was joined: call "
                        "zoo.training.distributed.join_cluster() before any TensorFlow op") from None
    n_workers = sum(len(tasks) for tasks in spec["cluster"].values())
    if strategy.num_replicas_in_sync != n_workers:
        raise UserError(f"each worker must be one replica, but the {n_workers} workers make "
                        f"{strategy.num_replicas_in_sync}: show each worker one device (e.g. CUDA_VISIBLE_DEVICES)")

    @tf.function
    def replica_id():
        return strategy.run(lambda: tf.distribute.get_replica_context().replica_id_in_sync_group)

    rank = int(strategy.experimental_local_results(replica_id())[0])
    _worker = Worker(strategy, rank, n_workers, bool(strategy.extended.should_checkpoint))
    return _worker


def _configure_coordination(spec):
    """The coordination service MultiWorkerMirroredStrategy configures (TF 2.21,
    `CollectiveAllReduceExtended._initialize_multi_worker`), with `HEARTBEAT_TIMEOUT_S`; the strategy
    keeps a service configured before it. Private TensorFlow API: if it moved, the strategy's default."""
    try:
        from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
        from tensorflow.python.eager import context

        if context.context().coordination_service is not None:
            return
        jobs = [coordination_config_pb2.CoordinatedJob(name=job, num_tasks=len(spec["cluster"][job]))
                for job in ("chief", "worker") if job in spec["cluster"]]
        leader = "/job:chief/replica:0/task:0" if "chief" in spec["cluster"] else "/job:worker/replica:0/task:0"
        context.context().configure_coordination_service(
            service_type="standalone", service_leader=leader, coordinated_jobs=jobs,
            heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_S * 1000)
    except (ImportError, AttributeError, TypeError):
        return


def current_worker():
    """The `Worker` of this process, or None (no cluster joined)."""
    return _worker


# --- what each worker plays ------------------------------------------------------------------------
def slot_slice(batches, rank, n_workers):
    """Columns rank*b .. rank*b+b-1 of `batches` (b = B / n_workers): one worker's slots of the global
    schedule."""
    if batches.batch_size % n_workers:
        raise ConfigError(f"batch_size {batches.batch_size} does not split over {n_workers} workers")
    b = batches.batch_size // n_workers
    columns = slice(rank * b, rank * b + b)
    return ParallelBatches(**{name: None if value is None else np.ascontiguousarray(value[:, columns])
                              for name, value in vars(batches).items()})


def pad_steps(batches, n_steps):
    """`batches` followed by idle steps (no pair: mask False, items and targets 0) up to `n_steps`."""
    extra = n_steps - batches.n_steps
    if extra < 0:
        raise ValueError(f"cannot pad {batches.n_steps} steps to {n_steps}")
    return ParallelBatches(**{name: None if value is None else
                              np.concatenate([value, np.zeros((extra,) + value.shape[1:], value.dtype)])
                              for name, value in vars(batches).items()})


def worker_batches(events, item_vocab, config, worker, shard, user_vocab=None, user_parallel=False):
    """This worker's steps of one epoch, before padding: its slots' columns of the global schedule
    ("slots"), or its shard's own schedule on its b slots ("sessions", `events` being the shard)."""
    if shard not in SHARDS:
        raise ConfigError(f"shard must be one of {', '.join(SHARDS)}, got {shard!r}")
    slots = config["batch_size"] if shard == "slots" else config["batch_size"] // worker.n_workers
    if config["batch_size"] % worker.n_workers:
        raise ConfigError(f"batch_size {config['batch_size']} does not split over {worker.n_workers} workers")
    order = order_sessions(events, item_vocab, user_vocab)
    if shard == "slots":
        order.require_pairs()
    if user_parallel:
        batches = user_parallel_batches(order, slots)
    else:
        batches = session_parallel_batches(order, slots, with_users=user_vocab is not None)
    return slot_slice(batches, worker.rank, worker.n_workers) if shard == "slots" else batches


def worker_dataset(batches, counts, config, rows_needed, first_epoch=0):
    """The worker's steps as `(features, targets, negatives)`: its slots' features and targets [b] and
    the step's shared negatives [n_sample], drawn from the store every worker seeds alike."""
    import tensorflow as tf

    steps = session_parallel_dataset(batches)
    if config["n_sample"] > 0:
        store = sample_store(counts, config["n_sample"], config["sample_alpha"], config["seed"],
                             rows_needed=rows_needed, first_pass=first_epoch)
    else:
        store = tf.data.Dataset.from_tensors(tf.zeros([0], tf.int32)).repeat()
    dataset = tf.data.Dataset.zip((steps, store)).map(lambda step, negatives: (step[0], step[1], negatives))
    return dataset.apply(tf.data.experimental.assert_cardinality(batches.n_steps)).prefetch(tf.data.AUTOTUNE)


# --- the data-parallel step -----------------------------------------------------------------------
class DataParallelLoop:
    """The step of `SessionRecommender.train_step`, split over the workers (see the module docstring),
    and the loop that runs it.

    Args:
        model: a compiled `SessionRecommender` built with the global batch size, under the strategy.
        worker: this process's `Worker`.
        counts: the items' training counts (log Q of the targets and samples).
        sample_alpha: the sampling exponent (log Q of a sample is sample_alpha * log count).
    """

    def __init__(self, model, worker, counts, sample_alpha):
        import tensorflow as tf

        self.model, self.worker = model, worker
        self.slots = model.batch_size // worker.n_workers
        self.sample_alpha = float(sample_alpha)
        self.log_counts = tf.constant(np.log(np.maximum(np.asarray(counts, np.float64), 1.0)), tf.float32)
        with worker.strategy.scope():
            self.states = [tf.Variable(tf.zeros([self.slots, s.shape[1]]), trainable=False, name=f"worker_state_{k}",
                                       synchronization=tf.VariableSynchronization.ON_READ,
                                       aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
                           for k, s in enumerate(model.slot_states)]
        self._run = tf.function(self._run_step)
        self._gather = tf.function(lambda: worker.strategy.run(
            lambda: [tf.distribute.get_replica_context().all_gather(s.read_value(), axis=0) for s in self.states]))

    # states: this worker's rows <-> the model's global slot_states
    def load_states(self):
        """Takes this worker's rows of the model's [B, S] slot states (a new or resumed run)."""
        rows = slice(self.worker.rank * self.slots, (self.worker.rank + 1) * self.slots)
        for local, full in zip(self.states, self.model.slot_states):
            local.assign(full.numpy()[rows])

    def gather_states(self):
        """All-gathers every worker's slot states into the model's `slot_states` (a collective: every
        worker calls it at the same step), the layout of a one-worker model."""
        gathered = self.worker.strategy.experimental_local_results(self._gather())[0]  # one local replica
        for full, value in zip(self.model.slot_states, gathered, strict=True):
            full.assign(value)

    def run(self, iterator, steps):
        """Runs `steps` steps from `iterator`, one graph call each (see the module docstring); returns
        the sum of their (global) losses."""
        total = 0.0
        for _ in range(steps):
            total += self._run(iterator)
        return float(total)

    def _run_step(self, iterator):
        features, targets, negatives = next(iterator)
        loss = self.worker.strategy.run(self._replica_step, args=(features, targets, negatives))
        return self.worker.strategy.experimental_local_results(loss)[0]

    def _replica_step(self, features, targets, negatives):
        import tensorflow as tf

        model, ctx, b, rank = self.model, tf.distribute.get_replica_context(), self.slots, self.worker.rank
        # the global step's (input, target, mask), [B, 3], slots in order: worker after worker. An all-gather
        # as an integer all-reduce of each worker's rows in place: one collective (MWMS' all_gather is two,
        # the first for the sizes)
        own = tf.stack([features["item"], targets, tf.cast(features["mask"], tf.int32)], 1)
        every = ctx.all_reduce(tf.distribute.ReduceOp.SUM,
                               tf.pad(own, [[rank * b, (self.worker.n_workers - rank - 1) * b], [0, 0]]))
        col_log_q = tf.concat([tf.gather(self.log_counts, every[:, 1]),
                               self.sample_alpha * tf.gather(self.log_counts, negatives)], 0)
        merged = merge_candidates({"item": every[:, 0], "mask": every[:, 2] > 0}, every[:, 1], negatives, col_log_q)
        mine = slice(rank * b, rank * b + b)
        mask, candidates = features["mask"], merged["candidates"]
        logq = model.logq if model.loss_name == "cross-entropy" else 0.0
        columns = losses.merged_columns(merged["target_column"][mine], mask, merged["target_counts"],
                                        merged["sample_counts"], merged["target_log_q"], merged["sample_log_q"], logq)
        variables = model.trainable_variables
        with tf.GradientTape() as tape, _worker_seeds(model, rank):
            states = model.start_sessions([s.read_value() for s in self.states], features["reset"],
                                          features.get("user_start"), training=True)
            vectors = read_rows(model.item_vectors, candidates)
            x = tf.gather(vectors, merged["input_column"][mine]) if model.constrained_embedding else None
            hidden, new_states = model.step(features["item"], states, training=True, users=features.get("user"),
                                            item_vectors=x)
            scores = tf.matmul(hidden, vectors, transpose_b=True) + read_rows(model.item_bias, candidates)
            per_row = model._loss(model.final_scores(scores, columns), columns)
            loss = tf.reduce_sum(tf.where(mask, per_row, tf.zeros_like(per_row))) / float(model.batch_size)
        gradients = self._sum_over_workers(ctx, tape.gradient(loss, variables), variables, candidates, loss)
        loss, gradients = gradients[0], gradients[1:]
        with _presummed(model.optimizer):
            model.optimizer.apply(gradients, variables)
        for variable, value in zip(self.states, new_states):
            variable.assign(value)
        return loss

    def _sum_over_workers(self, ctx, gradients, variables, candidates, loss):
        """[global loss, *gradients summed over the workers]: one all-reduce for the loss, the dense
        gradients and the candidate rows of the item vectors and biases (the same rows everywhere);
        other sparse gradients all-gathered."""
        import tensorflow as tf

        model = self.model
        rows = {id(model.item_vectors): None, id(model.item_bias): None}  # their gathers at `candidates`
        dense, where = [loss], []
        for g, v in zip(gradients, variables):
            if g is None:
                where.append(None)
            elif isinstance(g, tf.IndexedSlices) and id(v) in rows:
                rows[id(v)] = g.values
                where.append(("rows", id(v)))
            elif isinstance(g, tf.IndexedSlices):  # rows of the worker's own inputs: gathered in slot order
                where.append(("gathered", tf.IndexedSlices(ctx.all_gather(g.values, axis=0),
                                                           ctx.all_gather(g.indices, axis=0), g.dense_shape)))
            else:
                where.append(("dense", len(dense)))
                dense.append(g)
        vector_rows, bias_rows = rows[id(model.item_vectors)], rows[id(model.item_bias)]
        blocked = vector_rows is not None or bias_rows is not None
        if blocked:  # one [U, H+1] block of candidate rows (a row count other than U fails the concat)
            u = tf.shape(candidates)[0]
            vector_rows = tf.zeros([u, model.item_vectors.shape[1]]) if vector_rows is None else vector_rows
            bias_rows = tf.zeros([u]) if bias_rows is None else bias_rows
            dense.append(tf.concat([vector_rows, bias_rows[:, tf.newaxis]], 1))
        summed = ctx.all_reduce(tf.distribute.ReduceOp.SUM, dense)
        block = summed[-1] if blocked else None
        out = [summed[0]]
        for (g, v), place in zip(zip(gradients, variables), where):
            if place is None:
                out.append(None)
            elif place[0] == "dense":
                out.append(summed[place[1]])
            elif place[0] == "gathered":
                out.append(place[1])
            else:
                values = block[:, :-1] if v is model.item_vectors else block[:, -1]
                out.append(DistinctRows(values, candidates, g.dense_shape))
        return out


@contextlib.contextmanager
def _worker_seeds(model, rank, stride=1_000_003):
    """While the step is traced, worker `rank`'s random draws (the dropout masks) come from its own
    streams: the seed of each of the model's Keras seed generators (mirrored: the same state on every
    worker) moved by rank * `stride`. Worker 0 draws what one worker draws."""
    import tensorflow as tf

    generators = [g for layer in model._flatten_layers() for g in getattr(layer, "_seed_generators", [])]
    if rank:
        for generator in generators:
            def moved(ordered=True, original=generator.next):
                seed = original(ordered)
                return seed + tf.constant([rank * stride, 0], dtype=seed.dtype)
            generator.next = moved
    try:
        yield
    finally:
        for generator in generators:
            generator.__dict__.pop("next", None)


@contextlib.contextmanager
def _presummed(optimizer):
    """Keras' TensorFlow optimizer all-reduces the gradients it is given in a replica context
    (`TFOptimizer._all_reduce_sum_gradients`, Keras 3.15); these are summed already, by
    `DataParallelLoop`'s own collectives (one dense block for the candidate rows, where Keras would
    all-gather them). Applies only while the step is traced."""
    if not hasattr(optimizer, "_all_reduce_sum_gradients"):
        raise RuntimeError("this Keras optimizer has no _all_reduce_sum_gradients: the multi-worker loop "
                           "needs Keras 3's TensorFlow optimizer (keras>=3.10,<4)")
    optimizer._all_reduce_sum_gradients = list
    try:
        yield
    finally:
        del optimizer._all_reduce_sum_gradients


# --- checkpoints ------------------------------------------------------------------------------------
class WorkerCheckpoint(checkpoints.Checkpoint):
    """`zoo.training.checkpoints.Checkpoint` on every worker: the slot states gathered (a collective),
    then the chief writes `directory` and every other worker writes a temporary folder it deletes.
    `state.json` also records the cluster (`distribution`: workers, shard)."""

    def __init__(self, loop, distribution, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loop, self.distribution = loop, distribution

    def save(self, epoch, step):
        self.loop.gather_states()
        with worker_output(self.loop.worker, self.directory) as directory, atomic_path(directory) as staging:
            os.makedirs(staging)
            self.model.save(os.path.join(staging, checkpoints.MODEL))
            write_json(os.path.join(staging, checkpoints.STATE),
                       {"epoch": epoch, "step": step, "config": self.config, "log": self.log.rows,
                        "seed_states": [v.numpy().tolist() for v in checkpoints.seed_states(self.model)],
                        "distribution": self.distribution})


@contextlib.contextmanager
def worker_output(worker, directory):
    """Where this worker writes `directory` (a checkpoint, a run directory): `directory` itself on the
    chief; on the other workers the same name in a temporary folder, deleted when the block ends."""
    if worker.is_chief:
        yield directory
        return
    scratch = tempfile.mkdtemp(prefix=f"zoo-worker-{worker.rank}-")
    try:
        yield os.path.join(scratch, os.path.basename(os.path.normpath(directory)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --- fit ---------------------------------------------------------------------------------------------
def fit(model_name, events, config, worker, shard="slots", item_vocab=None, item_counts=None, verbose=1,
        callbacks=(), user_vocab=None, checkpoint_dir=None, checkpoint_every=0, resume=False, validation=None):
    """`zoo.training.fit` on every worker of a cluster (call it on all of them with the same arguments
    but the data of "sessions" sharding). Returns (model, item vocabulary, per-epoch log rows).

    Args:
        worker: this process's `Worker` (`join_cluster`).
        shard: "slots" (`events` the whole log on every worker) or "sessions" (`events` this worker's
            shard, `zoo.datasets.sharding.load_shard`; then `item_vocab` and `item_counts`, the whole
            log's, are required).
        the rest: as `zoo.training.fit`. `checkpoint_dir` is the chief's; the other workers save into
            temporary folders and resume from the chief's checkpoint. Validation runs on the chief.

    Raises:
        ConfigError: the batch does not split over the workers, or a model "sessions" cannot shard.
        DataError: the workers' training data differ ("slots"), or the loss became non-finite.
        UserError: a checkpoint of another cluster layout to resume within an epoch.
    """
    from zoo.models.registry import get_model, model_class
    from zoo.training.loop import make_optimizer

    cls = model_class(model_name)
    if shard == "sessions" and cls.personalized:
        raise ConfigError(f"{model_name} is personalized: --shard sessions shards by session and would split a "
                          "user's sessions over workers; use --shard slots")
    if shard == "sessions" and (item_vocab is None or item_counts is None):
        raise ValueError("shard='sessions' needs the whole log's item_vocab and item_counts")
    keras.utils.set_random_seed(config["seed"])
    vocab = Vocabulary.fit(events[ITEM]) if item_vocab is None else item_vocab
    counts = count_items(events, vocab) if item_counts is None else np.asarray(item_counts)
    options = presets.model_options(config, cls.extra_options)
    if cls.personalized:
        from zoo.training.data import user_vocabulary

        user_vocab = user_vocabulary(events, model_name) if user_vocab is None else user_vocab
        options["n_users"] = len(user_vocab)
    events = training_sequences(events, cls)
    batches = worker_batches(events, vocab, config, worker, shard, user_vocab if cls.personalized else None,
                             cls.user_parallel)
    local_pairs = int(len(events) - events[SESSION].nunique())
    facts = worker.all_gather([batches.n_steps, local_pairs, len(vocab), int(counts.sum())])
    if shard == "slots" and (facts != facts[0]).any():
        raise DataError("the workers' training data differ (steps, pairs, items or events); with --shard slots "
                        "every worker must read the same training log")
    n_steps = int(facts[:, 0].max())
    n_pairs = local_pairs if shard == "slots" else int(facts[:, 1].sum())
    if n_pairs == 0:
        raise DataError("the training data has no session with 2 or more events")
    batches = pad_steps(batches, n_steps)

    distribution = {"workers": worker.n_workers, "shard": shard}
    first_epoch, skip, rows = 0, 0, []
    with worker.strategy.scope():
        if resume:
            model, state = checkpoints.load(checkpoint_dir, config)
            first_epoch, skip, rows = state["epoch"], state["step"], state["log"]
            _check_layout(checkpoint_dir, state, distribution)
        else:
            model = get_model(model_name, n_items=len(vocab), **options)
            model.compile(optimizer=make_optimizer(config), steps_per_execution=config["steps_per_execution"])
        model.optimizer.build(model.trainable_variables)
        loop = DataParallelLoop(model, worker, counts, config["sample_alpha"])
    loop.load_states()
    worker.barrier()  # every worker has read the checkpoint before the chief may write one
    log = EpochLog(n_pairs, n_steps, skip)
    log.rows = rows
    dataset = worker_dataset(batches, counts, config, rows_needed=n_steps, first_epoch=first_epoch)
    saver = [WorkerCheckpoint(loop, distribution, checkpoint_dir, config, log, checkpoint_every, skip)] \
        if checkpoint_dir else []
    validator = [ValidationMetrics(validation, vocab)] if validation is not None and worker.is_chief else []
    progress = [EpochProgbar(log)] if verbose and worker.is_chief else []
    callbacks = keras.callbacks.CallbackList(
        [*validator, log, keras.callbacks.TerminateOnNaN(), *saver, *progress, *callbacks], add_history=False,
        add_progbar=False, model=model, verbose=verbose, epochs=config["epochs"], steps=n_steps)
    model.stop_training = False
    callbacks.on_train_begin()
    for epoch in range(first_epoch, config["epochs"]):
        if model.stop_training or log.diverged is not None:
            break
        offset = skip if epoch == first_epoch else 0
        _run_epoch(loop, dataset.skip(offset) if offset else dataset, epoch, n_steps - offset,
                   config["steps_per_execution"], callbacks, model)
    callbacks.on_train_end()
    loop.gather_states()
    if log.diverged is not None:
        kept = f"; the last good checkpoint is kept in {checkpoint_dir}" if checkpoint_dir else ""
        raise DataError(f"training stopped: the loss became {log.diverged['loss']} in epoch {log.diverged['epoch']}, "
                        f"step {log.diverged['step']}{kept}; lower learning_rate")
    return model, vocab, log.rows


def _run_epoch(loop, dataset, epoch, steps, steps_per_execution, callbacks, model):
    """One epoch of `steps` steps, `steps_per_execution` to a graph call; the callbacks see Keras'
    batch numbering (the last step of each call) and the running mean loss."""
    callbacks.on_epoch_begin(epoch)
    iterator, done, total, logs = iter(dataset), 0, 0.0, {}
    while done < steps and not model.stop_training:
        k = min(steps_per_execution, steps - done)
        callbacks.on_train_batch_begin(done)
        total += loop.run(iterator, k)
        done += k
        logs = {"loss": total / done}
        callbacks.on_train_batch_end(done - 1, logs)
    callbacks.on_epoch_end(epoch, logs)


def check_resume_layout(directory, workers=1, shard="slots"):
    """Refuses (UserError) to resume the checkpoint in `directory` within an epoch with another sharding
    than it was taken with (`zoo train --resume` in one process calls it too)."""
    try:
        with open(os.path.join(directory, checkpoints.STATE)) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return  # no or a damaged checkpoint: `checkpoints.load` says so
    if isinstance(state, dict) and "step" in state:
        _check_layout(directory, state, {"workers": workers, "shard": shard})


def _check_layout(directory, state, distribution):
    """Refuses to resume within an epoch with another sharding: the steps done would not be the ones skipped."""
    saved = state.get("distribution") or {"workers": 1, "shard": "slots"}
    same = saved == distribution or (saved.get("shard") == distribution["shard"] == "slots")
    if state["step"] and not same:
        raise UserError(f"{directory}: the checkpoint was taken within an epoch by {saved['workers']} worker(s) "
                        f"sharding by {saved['shard']}; resume it with the same --local-workers / TF_CONFIG and "
                        "--shard (at an epoch end any layout can resume)")

