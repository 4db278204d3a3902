"""A training run's whole lifecycle, as `zoo train` runs it: every input checked before any work, the
old run kept until the new one is saved (`overwrite`), or an interrupted run continued (`resume`).

    result = train_run("runs/synth", "data/synth/train.tsv", model="gru4rec", preset="rsc15-xe-shared",
                       test_path="data/synth/test.tsv")
    result.log[-1]["loss"], result.metrics["recall@20"]
"""
import contextlib
import dataclasses
import importlib.util
import os
import shutil

from zoo import training
from zoo.atomic import exchange
from zoo.datasets import sharding
from zoo.datasets.io import ITEM, load_events
from zoo.datasets.vocab import Vocabulary
from zoo.errors import UserError
from zoo.evaluation import check_evaluable, evaluate_run, resolve_protocol
from zoo.models import registry
from zoo.runs.directory import save_run
from zoo.training import checkpoints, distributed, presets

COLUMNS = {"session_key": "SessionId", "item_key": "ItemId", "time_key": "Time", "user_key": None}


@dataclasses.dataclass
class TrainedRun:
    """What `train_run` saved: the run directory, the model's name and options, the per-epoch log
    rows and the test metrics (None without a test log)."""
    run_dir: str
    model_name: str
    options: dict
    log: list
    metrics: dict = None


def train_run(out, train_path, *, model="gru4rec", test_path=None, validation_path=None, preset=None, sets=(),
              epochs=None, columns=None, overwrite=False, resume=False, checkpoint_every=0, cutoffs=(5, 10, 20),
              ties="conservative", protocol="auto", tensorboard=None, verbose=1, shard="slots"):
    """Trains `model` on the log at `train_path` and saves the run directory `out` (see `zoo.runs`).

    Args:
        out: the run directory to write.
        train_path, test_path, validation_path: event logs (test: evaluated after training, saved as
            metrics.json; validation: evaluated after every epoch, recorded in train_log.json).
        model: a name of `zoo.list_models()`.
        preset, sets, epochs: the configuration (`zoo.training.presets.resolve`); with `resume` and
            neither a preset nor sets, the checkpoint's own configuration; with `resume` and no
            `epochs`, the checkpoint's own epoch count (a larger `epochs` trains on).
        columns: `load_events` column names (session_key, item_key, time_key, user_key).
        overwrite: replace an existing `out`: the new run is trained in `out.next` and swapped with the
            old one in one step once it is complete; until then `out` is the old run, whole.
        resume: continue the run in `out` from its last checkpoint: in place if the run was interrupted;
            in `out.next`, swapped in once complete, if it had finished (`out` stays that run, whole).
        checkpoint_every: also checkpoint every this many steps (0: at epoch ends only).
        cutoffs, ties, protocol: of the test metrics (`zoo.evaluation.evaluate_run`; the user protocol's
            history is the training log).
        tensorboard: a directory for TensorBoard logs, or None.
        verbose: Keras progress (0: none, 1: a bar).
        shard: with a cluster in TF_CONFIG (`zoo.training.distributed`): "slots" (every worker reads the
            whole log and plays its slots of the one-worker schedule) or "sessions" (each worker reads
            and schedules only its shard of the sessions). Every worker calls `train_run` alike; the
            chief writes `out`, the others only temporary folders, and only the chief's result has metrics.

    Returns:
        A `TrainedRun`.

    Raises:
        UserError: an option, a log or `out` cannot be used (raised before any training or write).
    """
    columns = {**COLUMNS, **(columns or {})}
    registry.model_class(model)
    if model in registry.BASELINES:
        if distributed.cluster_from_env() is not None:
            raise UserError(f"{model} is a baseline: it trains in one process; unset TF_CONFIG")
        if (preset or resume or checkpoint_every or validation_path or tensorboard
                or epochs is not None and model != "fpmc"):
            raise UserError(f"{model} is a baseline: --preset, --resume, --checkpoint-every, --validation and "
                            "--tensorboard do not apply (--epochs only to fpmc); set its options with --set")
        return _train_baseline(out, train_path, model, test_path, sets, epochs, columns, overwrite, cutoffs, ties,
                               protocol)
    worker = distributed.join_cluster()  # None: one process (no cluster in TF_CONFIG)
    checkpoint_dir = os.path.join(out, "checkpoint")
    if resume:  # the run's own target unless --epochs changes it
        saved = checkpoints.saved_config(checkpoint_dir)
        if worker is None:  # a multi-worker checkpoint of sharded sessions resumes only as it was taken
            distributed.check_resume_layout(checkpoint_dir)
        epochs = saved["epochs"] if epochs is None else epochs
        config = presets.resolve(preset, sets, epochs=epochs) if (preset or sets) else \
            presets.resolve(sets=[], **{**saved, "epochs": epochs})
    else:
        config = presets.resolve(preset, sets, epochs=epochs)
    training.check_options(model, config)  # before reading the data, and removing a run to --overwrite
    _check_ranking_options(cutoffs)
    if checkpoint_every < 0:
        raise UserError(f"--checkpoint-every must be >= 0, got {checkpoint_every}")
    if shard not in distributed.SHARDS or (shard != "slots" and worker is None):
        raise UserError(f"--shard {shard}: use slots or sessions, the latter with several workers (TF_CONFIG or "
                        "--local-workers)")
    if shard == "sessions" and registry.model_class(model).personalized:
        raise UserError(f"{model} is personalized: --shard sessions would split a user's sessions over workers; "
                        "use --shard slots")
    if os.path.exists(out) and not (overwrite or resume):
        raise UserError(f"{out} exists; pass --resume to continue it, --overwrite to start again, "
                        "or choose another --out")
    counts = None
    if worker is not None and shard == "sessions":  # this worker's sessions, and the whole log's items
        vocab, counts = sharding.item_counts(train_path, item_key=columns["item_key"])
        train = sharding.load_shard(train_path, worker.rank, worker.n_workers, **columns)
    else:
        train = load_events(train_path, **columns)
        vocab = Vocabulary.fit(train[ITEM])
    test = _load_evaluable(test_path, "--test", columns, vocab, registry.model_class(model), protocol)
    validation = _load_evaluable(validation_path, "--validation", columns, vocab)
    if tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise UserError("--tensorboard needs the tensorboard package: pip install tensorboard")

    import keras

    users = training.user_vocabulary(train, model)
    board = [keras.callbacks.TensorBoard(tensorboard)] if tensorboard else []
    chief = worker is None or worker.is_chief  # the others write temporary folders only
    target = out
    if chief and os.path.isdir(out) and (overwrite and not resume or resume and _is_complete(out)):
        target = _staging(out)  # the old run stays whole in `out` until the new one replaces it
        if resume:  # a complete run trained on: from a copy of its checkpoint
            shutil.copytree(checkpoint_dir, os.path.join(target, "checkpoint"))
    if worker is None:
        trained, vocab, log = training.fit(model, train, config, verbose=verbose, user_vocab=users,
                                           checkpoint_dir=os.path.join(target, "checkpoint"),
                                           checkpoint_every=checkpoint_every, resume=resume, validation=validation,
                                           callbacks=board)
    else:
        trained, vocab, log = distributed.fit(
            model, train, config, worker, shard=shard, item_vocab=vocab if counts is not None else None,
            item_counts=counts, verbose=verbose if chief else 0, user_vocab=users,
            checkpoint_dir=os.path.join(target, "checkpoint"), checkpoint_every=checkpoint_every, resume=resume,
            validation=validation, callbacks=board if chief else [])
    metrics = None
    if test is not None and chief:
        metrics = evaluate_run(trained, test, vocab, protocol, history=train, user_vocab=users, cutoffs=cutoffs,
                               ties=ties)
    info = _run_info(model, preset, config, train_path, columns)
    if worker is not None:
        info["distribution"] = {"workers": worker.n_workers, "shard": shard}
    with contextlib.nullcontext(target) if worker is None else distributed.worker_output(worker, target) as where:
        save_run(where, trained, vocab, info, log, metrics, users)
    if chief:
        _put_in_place(target, out)
    if worker is not None:
        worker.barrier()  # the others wait for the chief's run directory
    return TrainedRun(out, model, config, log, metrics)


def _train_baseline(out, train_path, model, test_path, sets, epochs, columns, overwrite, cutoffs, ties, protocol):
    """`train_run` of a baseline: fit on the training log, evaluate on the test log, save the run."""
    from zoo import baselines

    _check_ranking_options(cutoffs)
    if os.path.exists(out) and not overwrite:
        raise UserError(f"{out} exists; pass --overwrite to replace it, or choose another --out")
    train = load_events(train_path, **columns)
    cls = registry.model_class(model)
    test = _load_evaluable(test_path, "--test", columns, Vocabulary.fit(train[ITEM]), cls, protocol)
    sets = [*sets, *([f"epochs={epochs}"] if epochs is not None else [])]
    fitted, vocab, log = baselines.fit(model, train, sets)
    metrics = None
    if test is not None:
        metrics = evaluate_run(fitted, test, vocab, protocol, history=train, cutoffs=cutoffs, ties=ties)
    target = _staging(out) if os.path.isdir(out) else out
    save_run(target, fitted, vocab, _run_info(model, None, fitted.options, train_path, columns), log, metrics)
    _put_in_place(target, out)
    return TrainedRun(out, model, fitted.options, log, metrics)


def _staging(out):
    """Where `--overwrite` builds the new run: `OUT.next` beside the old run, which stays whole in `OUT`
    until the new one is complete (a leftover `OUT.next` of an interrupted attempt is removed first)."""
    staging = out.rstrip("/") + ".next"
    shutil.rmtree(staging, ignore_errors=True)
    return staging


def _is_complete(run_dir):
    """Whether `run_dir` holds a finished run (its model saved), as opposed to an interrupted one."""
    return os.path.exists(os.path.join(run_dir, "model.keras"))


def _put_in_place(target, out):
    """Swaps the complete new run at `target` with the old one at `out` in one step, then removes the old."""
    if target != out:
        exchange(target, out)
        shutil.rmtree(target)


def _check_ranking_options(cutoffs):
    if not cutoffs or min(cutoffs) < 1:
        raise UserError(f"--cutoffs must be positive, got {','.join(map(str, cutoffs))!r}")


def _load_evaluable(path, option, columns, vocab, model_class=None, protocol="auto"):
    """The log at `path` (None without one), read and checked before training, so that a log that
    would leave nothing to evaluate fails first, naming itself and its option.

    `model_class`, `protocol`: the model the log evaluates after training and the protocol asked
    for; no `model_class`: the session protocol, as the per-epoch validation runs it.
    """
    if not path:
        return None
    events = load_events(path, **columns)
    protocol = "session" if model_class is None else resolve_protocol(model_class, events, protocol)
    check_evaluable(events, vocab, protocol, f"{path} ({option})")
    return events


def _run_info(model, preset, config, train_path, columns):
    """The contents of the run's config.json."""
    return {"model": model, "preset": preset, "config": config, "train": os.path.abspath(train_path),
            "columns": {"session": columns["session_key"], "item": columns["item_key"],
                        "time": columns["time_key"], "user": columns["user_key"]}}
