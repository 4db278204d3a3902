"""`zoo tune`: an Optuna study of a model's options, selected on a validation split of the training log.

    result = tune("tuning/rsc15", "train.tsv", model="gru4rec", trials=6, timeout=900, metric="mrr@20")
    result.best["value"], result.preset_path     # zoo train --preset <preset_path> trains the best trial

The study lives in `OUT/study.db` (SQLite, Optuna's RDB storage) and `tune` continues it: run it
again with the same options (a larger `trials`, say) and it adds trials until `trials` are done in
all. A trial that was running when a process was killed is found at the next start (one process at a
time holds `OUT/.lock`, so a running trial in the storage is a dead one), marked failed and `interrupted`,
and its parameters are tried again; interrupted trials do not count. A trial stopped by the deadline
(`timeout`, checked after every epoch) or by Ctrl-C is treated the same way.

A new study's first trial is the base configuration (`--preset`, `--set`; the options whose base value
lies outside the space are drawn: `zoo.tuning.space.base_draw`), so the best trial is never below the
base on the validation split and the table shows what the search gained over it.

Each recurrent trial trains `epochs` epochs on the training part and evaluates on the validation part
after every epoch (full ranking, conservative ties, `zoo.evaluation.evaluate_run`'s protocol: the user
protocol for a personalized model on a log with user ids); the value is the last epoch's `metric`. A
trial below the 25th percentile of the complete trials at the same epoch (in their bottom quarter) is
pruned (Optuna's `PercentilePruner`, once 2 trials are complete). A trial whose loss became non-finite, or whose options a
model refuses, fails and counts (the reason is in the table). Baselines are fitted once per trial.

Files in OUT (rewritten after every trial, each atomically): `tune.json` (the study's settings and
the validation split; a resume with other settings is refused), `space.json` (the searched space, a
space file), `trials.csv` and `trials.json` (every trial: state, value, per-epoch metrics, options),
`best.json` (the best trial) and, for the recurrent models, `best_preset.json`: the best trial's whole
configuration, which `zoo train --model M --preset OUT/best_preset.json` trains with.
"""
import contextlib
import dataclasses
import fcntl
import functools
import io
import math
import os
import re
import time

from zoo.atomic import atomic_path, write_json
from zoo.datasets.io import ITEM, load_events
from zoo.datasets.vocab import Vocabulary
from zoo.errors import ConfigError, UserError
from zoo.tuning import space as spaces
from zoo.tuning.validation import carve_validation, keep_latest, summary, validation_rule

METRIC = re.compile(r"^(recall|mrr)@([1-9][0-9]*)$")
STUDY_NAME = "zoo-tune"
SETTINGS, SPACE_FILE, TRIALS_CSV, TRIALS_JSON = "tune.json", "space.json", "trials.csv", "trials.json"
BEST, PRESET = "best.json", "best_preset.json"
OUTPUTS = (SETTINGS, SPACE_FILE, TRIALS_CSV, TRIALS_JSON, BEST, PRESET, "study.db", ".lock")
PRUNE_PERCENTILE, PRUNE_STARTUP = 25.0, 2
COLUMNS = {"session_key": "SessionId", "item_key": "ItemId", "time_key": "Time", "user_key": None}
ADDED_SETTINGS = {"train_fraction": 1.0}  # settings newer than some studies: their value where tune.json lacks them


@dataclasses.dataclass
class TuneResult:
    """What `tune` did: the study folder, the counted trials and their target, why it stopped
    ("trials", "timeout" or "done before": nothing left to do), the best trial (None before one
    completes: `{"number", "value", "metrics", "params", "config"}`), the preset file (None for a
    baseline or without a best trial) and the validation split's summary."""
    out: str
    model: str
    metric: str
    done: int
    trials: int
    stopped: str
    best: dict
    preset_path: str
    validation: dict
    train_args: list


class _OutOfTime(Exception):
    """The deadline passed during a trial (raised at an epoch's end)."""


def parse_metric(text):
    """("recall" or "mrr", K) of `text` such as "mrr@20".

    Raises:
        ConfigError: anything else.
    """
    match = METRIC.match(text or "")
    if not match:
        raise ConfigError(f"--metric must be recall@K or mrr@K with K >= 1 (e.g. mrr@20), got {text!r}")
    return match.group(1), int(match.group(2))


def tune(out, train_path, *, model="gru4rec", trials=20, timeout=None, metric="mrr@20", space_path=None,
         preset=None, sets=(), epochs=None, split="auto", prune=True, columns=None, progress=None,
         train_fraction=1.0):
    """Runs (or continues) the study in `out`; see the module docstring.

    Args:
        out: the study folder (created; an existing one must hold a study of the same settings).
        train_path: the training log; the validation split is carved from it (`carve_validation`).
        model: a name of `zoo.list_models()` (pop and spop have nothing to tune).
        trials: the number of trials the study should have done in all (interrupted ones not counted).
        timeout: seconds for this call: no trial starts after it, and a recurrent trial running then
            stops at its epoch's end (interrupted: tried again at the next call). None: no limit.
        metric: "mrr@K" or "recall@K" on the validation split, maximized.
        space_path: a space file (`zoo.tuning.space`), or None for the model's default space.
        preset, sets, epochs: the base configuration (`zoo.training.presets.resolve`; for a baseline
            `sets` only, and `epochs` for fpmc); options given in `sets` are fixed, not searched.
        split: "auto", "time" or "last-session" (`zoo.tuning.validation`).
        prune: stop trials clearly behind after an epoch (see the module docstring).
        columns: `load_events` column names.
        train_fraction: trials train on this latest share of the training part's sessions
            (`zoo.tuning.validation.keep_latest`): cheaper trials for a first, coarse study; 1: all.
        progress: a function called with a line of progress (trial, epoch, best so far, time left).

    Returns:
        A `TuneResult`.

    Raises:
        UserError: an option, the space file, the training log or `out` cannot be used; raised before
            any trial (and before `out` is created).
    """
    from zoo.models import registry

    note = progress or (lambda line: None)
    start = time.monotonic()
    _, k = parse_metric(metric)
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    if not 0 < train_fraction <= 1:
        raise ConfigError(f"--train-fraction must be in (0, 1], got {train_fraction:g}")
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"--timeout must be > 0 seconds, got {timeout}")
    cls = registry.model_class(model)
    baseline = model in registry.BASELINES
    if baseline and not cls.defaults:
        raise ConfigError(f"{model} has no options to tune")
    space = spaces.read_space(space_path) if space_path else spaces.default_space(model, baseline)
    base, fixed = _base(model, cls, baseline, preset, sets, epochs)
    space = spaces.ordered(spaces.without(space, fixed))
    _check_space(space, model, cls, base, baseline, space_path)
    _check_out(out)
    columns = {**COLUMNS, **(columns or {})}
    events = load_events(train_path, **columns)
    validation_rule(events, split)  # the --split choice, before the carve's work
    train, validation, rule = carve_validation(events, split, source=f"{train_path} (--train)")
    train, validation = keep_latest(train, validation, train_fraction, source=f"{train_path} (--train)")
    ctx = _Context(model=model, cls=cls, baseline=baseline, train=train, validation=validation, metric=metric,
                   cutoffs=tuple(sorted({20, k})), base=base, space=space, prune=prune, note=note)
    ctx.prepare()
    settings = {"model": model, "train": os.path.abspath(train_path), "metric": metric, "split": rule,
                "space": spaces.space_json(space), "base": base, "columns": columns,
                "train_fraction": train_fraction, "validation": summary(train, validation, rule)}
    _check_settings(out, settings)

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.makedirs(out, exist_ok=True)
    with _locked(out):
        if not os.path.exists(os.path.join(out, SETTINGS)):
            write_json(os.path.join(out, SETTINGS), settings)
            spaces.write_space(os.path.join(out, SPACE_FILE), space)
        storage = optuna.storages.RDBStorage(f"sqlite:///{os.path.abspath(out)}/study.db")
        study = optuna.create_study(study_name=STUDY_NAME, storage=storage, direction="maximize",
                                    load_if_exists=True)
        if not study.get_trials(deepcopy=False):
            study.enqueue_trial(spaces.base_draw(space, base), user_attrs={"base": True})
        _recover(study, storage, note)
        seed = int(base.get("seed", 42)) + len(study.get_trials(deepcopy=False))
        study.sampler = optuna.samplers.TPESampler(seed=seed)
        # Optuna's percentile is the share kept: 75 keeps the top three quarters, pruning the bottom one
        study.pruner = optuna.pruners.PercentilePruner(100.0 - PRUNE_PERCENTILE, n_startup_trials=PRUNE_STARTUP) \
            if prune else optuna.pruners.NopPruner()
        deadline = None if timeout is None else start + timeout
        ctx.deadline, ctx.trials = deadline, trials
        stopped = "done before" if _counted(study) >= trials else "trials"
        if stopped == "done before":
            note(f"the study in {out} has {_counted(study)} trials done of {trials}: nothing to do")
        while _counted(study) < trials:
            if deadline is not None and time.monotonic() >= deadline:
                stopped = "timeout"
                break
            if not _run_trial(study, ctx, out):
                stopped = "timeout"
                break
        best = _best(study)
        _write_outputs(out, study, ctx)
    preset_path = os.path.join(out, PRESET) if best is not None and not baseline else None
    return TuneResult(out, model, metric, _counted(study), trials, stopped, best, preset_path,
                      settings["validation"], _train_args(model, best, preset_path))


@dataclasses.dataclass
class _Context:
    model: str
    cls: type
    baseline: bool
    train: object
    validation: object
    metric: str
    cutoffs: tuple
    base: dict
    space: list
    prune: bool
    note: object
    deadline: float = None
    trials: int = 0
    vocab: object = None
    users: object = None

    def prepare(self):
        """The vocabularies, and the checks that the training and validation parts can be used."""
        from zoo import training
        from zoo.evaluation import check_evaluable, resolve_protocol

        self.vocab = Vocabulary.fit(self.train[ITEM])
        if not self.baseline:
            self.users = training.user_vocabulary(self.train, self.model)
        protocol = "session" if self.baseline else resolve_protocol(self.cls, self.validation)
        check_evaluable(self.validation, self.vocab, protocol, "the validation split")

    def time_left(self):
        if self.deadline is None:
            return "no time limit"
        return f"{max(0.0, self.deadline - time.monotonic()):.0f} s left"


def _base(model, cls, baseline, preset, sets, epochs):
    """(the base configuration, the options fixed by `sets`), checked."""
    names = {item.partition("=")[0].strip() for item in sets}
    if baseline:
        if preset:
            raise ConfigError(f"{model} is a baseline: --preset does not apply; set its options with --set")
        if epochs is not None and model != "fpmc":
            raise ConfigError(f"{model} is a baseline without epochs: --epochs does not apply")
        options = cls.parse_sets([*sets, *([f"epochs={epochs}"] if epochs is not None else [])])
        return {**cls.defaults, **options}, names | ({"epochs"} if epochs is not None else set())
    from zoo import training
    from zoo.training import presets

    config = presets.resolve(preset, sets, epochs=epochs)
    training.check_options(model, config)
    return config, names


def _check_space(space, model, cls, base, baseline, space_path):
    """Every value of the space is an option value the model takes (checked before any data is read)."""
    where = f"--space {space_path}" if space_path else "the default space"
    if len({p.name for p in space}) < len(space):
        raise ConfigError(f"{where}: an option is listed twice")
    known = cls.defaults if baseline else _rnn_defaults()
    for p in space:
        if p.name not in known:
            import difflib

            close = difflib.get_close_matches(p.name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: {p.name!r} is not an option of {model}{hint}")
        if p.dtype != "categorical" and (isinstance(known[p.name], (bool, str))):
            raise ConfigError(f"{where}: {p.name} takes {type(known[p.name]).__name__} values: use dtype categorical")
        for value in p.candidates():
            try:
                option = spaces.option_value(p.name, value, known[p.name])
                if baseline:
                    cls(1, **{**base, p.name: option})
                    if isinstance(option, (int, float)) and option < 0:
                        raise ConfigError(f"{p.name} must be >= 0")
                else:
                    from zoo import training
                    from zoo.training import presets

                    config = spaces.consistent({**spaces.compatible_base(p.name, base), p.name: option})
                    presets.validate(config)
                    training.check_options(model, config)
            except ConfigError as e:
                raise ConfigError(f"{where}: {p.name}={value!r} cannot be used: {e}") from None


def _rnn_defaults():
    from zoo.training import presets

    return presets.DEFAULTS


def _check_out(out):
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"{out} is a file; --out must be a folder")
    if os.path.isdir(out) and not os.path.exists(os.path.join(out, SETTINGS)):
        others = sorted(set(os.listdir(out)) - {".lock"})
        if others:
            raise UserError(f"{out} holds {others[0]!r} and no study of zoo tune; choose another --out")


def _check_settings(out, settings):
    """A study already in `out` must have been started with the same settings."""
    path = os.path.join(out, SETTINGS)
    if not os.path.exists(path):
        return
    import json

    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read the study's settings: {e}") from None
    for key, value in settings.items():
        if _jsonable(saved.get(key, ADDED_SETTINGS.get(key))) != _jsonable(value):
            what = {"validation": "the training log's content (its validation split differs)",
                    "base": "base configuration (--preset, --set, --epochs)",
                    "train_fraction": "--train-fraction"}.get(key, key)
            raise UserError(f"{out} holds a study with another {what}; resume it with the options it began with "
                            "(see its tune.json), or choose another --out")


def _jsonable(value):
    import json

    return json.loads(json.dumps(value, sort_keys=True))


@contextlib.contextmanager
def _locked(out):
    """Holds `out/.lock` (one process per study); a dead holder's lock is free again."""
    with open(os.path.join(out, ".lock"), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UserError(f"{out}: another zoo tune is running this study") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _recover(study, storage, note):
    """Marks the trials a killed process left running as failed (interrupted) and queues their parameters."""
    from optuna.trial import TrialState

    study_id = storage.get_study_id_from_name(STUDY_NAME)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_user_attr(trial_id, "interrupted", "killed")
        _retry(study, trial)
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
        note(f"trial {trial.number} was running when the last run stopped: marked failed; its parameters "
             "are tried again")


def _retry(study, trial):
    """Queues `trial`'s parameters once (a later `ask` runs them); a trial stopped before it drew any has none."""
    if trial.params and not any(t.user_attrs.get("retry_of") == trial.number for t in study.get_trials(deepcopy=False)):
        study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number})


def _counted(study):
    """Trials done: complete, pruned, or failed for a reason of their own (interrupted ones are not)."""
    from optuna.trial import TrialState

    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
               or t.state == TrialState.FAIL and "interrupted" not in t.user_attrs)


def _run_trial(study, ctx, out):
    """Runs one trial and records it; False when the deadline stopped it."""
    import optuna
    from optuna.trial import TrialState

    trial = study.ask()
    number = _counted(study) + 1
    retry = f" (again, as trial {trial.user_attrs['retry_of']} was interrupted)" if "retry_of" in trial.user_attrs else ""
    ctx.note(f"trial {trial.number} ({number} of {ctx.trials}){retry}: {_best_line(study)}; {ctx.time_left()}")
    began = time.monotonic()
    in_time = True
    try:
        value = _objective(trial, ctx)
    except optuna.TrialPruned as e:
        trial.set_user_attr("seconds", round(time.monotonic() - began, 1))
        trial.set_user_attr("note", str(e))
        study.tell(trial, state=TrialState.PRUNED)
        ctx.note(f"trial {trial.number} {e}")
    except (_OutOfTime, KeyboardInterrupt) as e:
        reason = "timeout" if isinstance(e, _OutOfTime) else "interrupted"
        trial.set_user_attr("seconds", round(time.monotonic() - began, 1))
        trial.set_user_attr("interrupted", reason)
        _retry(study, study.get_trials(deepcopy=False)[trial.number])
        study.tell(trial, state=TrialState.FAIL)
        if isinstance(e, KeyboardInterrupt):
            _write_outputs(out, study, ctx)
            raise
        ctx.note(f"trial {trial.number} stopped at the deadline: it is tried again when the study is resumed")
        in_time = False
    except UserError as e:  # a non-finite loss, or options the model refuses
        trial.set_user_attr("seconds", round(time.monotonic() - began, 1))
        trial.set_user_attr("error", str(e))
        study.tell(trial, state=TrialState.FAIL)
        ctx.note(f"trial {trial.number} failed: {e}")
    else:
        trial.set_user_attr("seconds", round(time.monotonic() - began, 1))
        study.tell(trial, value)
        ctx.note(f"trial {trial.number} done: val {ctx.metric} {value:.4f} in {time.monotonic() - began:.0f} s; "
                 f"{_best_line(study)}; {ctx.time_left()}")
    _write_outputs(out, study, ctx)
    return in_time


def _best_line(study):
    best = _best(study)
    return "best so far: none" if best is None else f"best so far {best['value']:.4f} (trial {best['number']})"


def _objective(trial, ctx):
    """Draws the trial's options, trains and evaluates; returns the metric (raises to prune or stop)."""
    if ctx.baseline:
        return _baseline_trial(trial, ctx)
    import keras

    from zoo import training

    config = dict(ctx.base)
    for p in ctx.space:
        if spaces.applies(p.name, config):
            config[p.name] = spaces.option_value(p.name, p.suggest(trial), ctx.base[p.name])
        config = spaces.consistent(config)
    trial.set_user_attr("config", config)
    reporter = _EpochReport(trial, ctx, config)
    try:
        training.fit(ctx.model, ctx.train, config, verbose=0, user_vocab=ctx.users, callbacks=[reporter])
    finally:
        keras.backend.clear_session()
    return reporter.rows[-1][ctx.metric]


def _baseline_trial(trial, ctx):
    from zoo import baselines
    from zoo.evaluation import evaluate

    options = dict(ctx.base)
    for p in ctx.space:
        options[p.name] = spaces.option_value(p.name, p.suggest(trial), ctx.base[p.name])
    trial.set_user_attr("config", options)
    fitted, vocab, _ = baselines.fit(ctx.model, ctx.train, [f"{key}={value}" for key, value in options.items()])
    metrics = evaluate(fitted, ctx.validation, vocab, cutoffs=ctx.cutoffs)
    row = {"epoch": 1, **{key: float(metrics[key]) for key in metrics if "@" in key}}
    trial.set_user_attr("epochs", [row])
    return row[ctx.metric]


@functools.cache
def _epoch_report_class():
    import keras

    class EpochReport(keras.callbacks.Callback):
        """After every epoch: the validation metrics, reported to the trial; prunes, or stops at the deadline."""

        def __init__(self, trial, ctx, config):
            super().__init__()
            self.trial, self.ctx, self.config, self.rows = trial, ctx, config, []

        def on_epoch_end(self, epoch, logs=None):
            import optuna
            from zoo.evaluation import evaluate_run

            loss = float((logs or {}).get("loss", math.nan))
            if not math.isfinite(loss):
                return  # the fit loop stops and raises
            ctx = self.ctx
            metrics = evaluate_run(self.model, ctx.validation, ctx.vocab, history=ctx.train, user_vocab=ctx.users,
                                   cutoffs=ctx.cutoffs)
            row = {"epoch": epoch + 1, "loss": loss, **{key: float(metrics[key]) for key in metrics if "@" in key}}
            self.rows.append(row)
            self.trial.set_user_attr("epochs", self.rows)
            value = row[ctx.metric]
            self.trial.report(value, epoch + 1)
            ctx.note(f"trial {self.trial.number} epoch {epoch + 1}/{self.config['epochs']}: loss {loss:.4f}, "
                     f"val {ctx.metric} {value:.4f}; {ctx.time_left()}")
            if ctx.prune and self.trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}: val {ctx.metric} {value:.4f} is below the "
                                         f"{PRUNE_PERCENTILE:g}th percentile of the complete trials")
            if ctx.deadline is not None and time.monotonic() >= ctx.deadline and epoch + 1 < self.config["epochs"]:
                raise _OutOfTime()

    return EpochReport


def _EpochReport(trial, ctx, config):
    return _epoch_report_class()(trial, ctx, config)


def _best(study):
    """The best complete trial as a dict, or None."""
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if not complete:
        return None
    trial = max(complete, key=lambda t: (t.value, -t.number))
    rows = trial.user_attrs.get("epochs", [])
    return {"number": trial.number, "value": trial.value, "metrics": rows[-1] if rows else {},
            "params": _params(trial), "config": trial.user_attrs.get("config")}


def _params(trial):
    return {key: spaces.tidy(value) for key, value in trial.params.items()}


def _train_args(model, best, preset_path):
    """The `zoo train` options that train the best trial (without --train, --out)."""
    if best is None:
        return []
    if preset_path:
        return ["--model", model, "--preset", preset_path]
    args = ["--model", model]
    for key, value in best["config"].items():
        args += ["--set", f"{key}={value}"]
    return args


def _trial_rows(study, metric):
    from optuna.trial import TrialState

    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.WAITING:  # enqueued (the base, a retry), not yet run
            continue
        note = t.user_attrs.get("error") or t.user_attrs.get("note") or \
            (f"interrupted ({t.user_attrs['interrupted']})" if "interrupted" in t.user_attrs else "")
        if "retry_of" in t.user_attrs:
            note = (note + "; " if note else "") + f"retry of trial {t.user_attrs['retry_of']}"
        if t.user_attrs.get("base"):
            note = "the base configuration" + ("; " + note if note else "")
        epochs = t.user_attrs.get("epochs", [])
        value = t.value if t.value is not None else (epochs[-1][metric] if epochs else None)
        rows.append({"number": t.number, "state": t.state.name.lower(), "value": value,
                     "epochs_run": len(epochs), "seconds": t.user_attrs.get("seconds"), "note": note,
                     "params": _params(t), "config": t.user_attrs.get("config"), "epochs": epochs})
    return rows


def _write_outputs(out, study, ctx):
    """trials.json, trials.csv, best.json and best_preset.json (the last two once a trial completed)."""
    import pandas as pd

    rows = _trial_rows(study, ctx.metric)
    write_json(os.path.join(out, TRIALS_JSON), {"metric": ctx.metric, "trials": rows})
    names = [p.name for p in ctx.space]
    table = pd.DataFrame([{**{key: row[key] for key in ("number", "state", "value", "epochs_run", "seconds")},
                           **{name: row["params"].get(name) for name in names}, "note": row["note"]} for row in rows],
                         columns=["number", "state", "value", "epochs_run", "seconds", *names, "note"])
    table = table.rename(columns={"value": f"val_{ctx.metric}"})
    buffer = io.StringIO()
    table.to_csv(buffer, index=False)
    with atomic_path(os.path.join(out, TRIALS_CSV)) as tmp, open(tmp, "w") as f:
        f.write(buffer.getvalue())
    best = _best(study)
    if best is None:
        return
    write_json(os.path.join(out, BEST), {"metric": ctx.metric, "model": ctx.model, "trial": best["number"],
                                         "value": best["value"], "validation_metrics": best["metrics"],
                                         "params": best["params"], "config": best["config"],
                                         "train_args": _train_args(ctx.model, best, None if ctx.baseline else
                                                                   os.path.join(out, PRESET))})
    if not ctx.baseline:
        write_json(os.path.join(out, PRESET), best["config"])
