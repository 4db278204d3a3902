"""Search spaces of `zoo tune`: the defaults per model, the space file, and turning an Optuna trial into options.

A space is a list of `Param`s. The space file is JSON: an array of objects, or one object a line (the
layout of the official GRU4Rec's `paramspaces/*.json`), each

    {"name": "learning_rate", "dtype": "float", "values": [0.01, 0.25], "step": 0.005}
    {"name": "layers", "dtype": "int", "values": [64, 512], "step": 32}
    {"name": "loss", "dtype": "categorical", "values": ["cross-entropy", "bpr-max"]}
    {"name": "reg", "dtype": "float", "values": [0.0001, 0.1], "log": true}

`name` is an option of the model (`zoo.training.presets.DEFAULTS` for the recurrent models, a
baseline's `defaults`), `dtype` one of int, float, categorical; int and float take `values` [low, high]
(both ends included) and an optional `step` or `log` (not both); categorical takes the list of values.
`layers` as an int is one layer of that size; as categorical it may also list "100,100" for two layers.
An empty array searches nothing: every trial trains the base configuration (`--preset`, `--set`).

The default spaces follow the reference GRU4Rec's (its `paramspaces/`: layers 64-512 by 32, batch 32-256
by 16, learning rate 0.01-0.25 by 0.005, embedding dropout 0-0.5 and hidden dropout 0-0.7 by 0.05,
momentum 0-0.9 by 0.05, sample_alpha 0-1 by 0.1, bpreg 0-2 by 0.05, final activation linear / elu-0.5 /
elu-1), with its two losses, its logQ switch and the choice of the constrained embedding searched too,
and n_sample among 512, 1024 and 2048. Options that do not apply to a trial's draw are not drawn and
take a neutral value (`consistent`): logq only with cross-entropy, bpreg and final_activation only
without it, embedding only without the constrained embedding, embedding dropout only with an embedding.
"""
import dataclasses
import json
import math

from zoo.errors import ConfigError

DTYPES = ("int", "float", "categorical")
ENTRY_KEYS = ("name", "dtype", "values", "step", "log")


@dataclasses.dataclass(frozen=True)
class Param:
    """One searched option: `int`/`float` over [low, high] (`values`), or `categorical` over `values`."""
    name: str
    dtype: str
    values: tuple
    step: float = None
    log: bool = False

    def suggest(self, trial):
        """The value the Optuna `trial` draws for this option (as drawn; `to_option` makes it an option)."""
        if self.dtype == "int":
            return trial.suggest_int(self.name, int(self.values[0]), int(self.values[1]), step=int(self.step or 1),
                                     log=self.log)
        if self.dtype == "float":
            return trial.suggest_float(self.name, float(self.values[0]), float(self.values[1]), step=self.step,
                                       log=self.log)
        return trial.suggest_categorical(self.name, list(self.values))

    def holds(self, value):
        """Whether the drawn `value` (as `suggest` returns it) lies in this option's space (on its step grid)."""
        if self.dtype == "categorical":
            return any(type(value) is type(v) and value == v for v in self.values)
        if isinstance(value, (bool, str)) or not isinstance(value, (int, float)):
            return False
        low, high = float(self.values[0]), float(self.values[1])
        if not low <= value <= high:
            return False
        step = self.step or (1 if self.dtype == "int" else None)
        return step is None or abs((value - low) / step - round((value - low) / step)) < 1e-8

    def candidates(self):
        """The values to check before a search: both ends of a range, or every category."""
        return list(self.values)

    def to_json(self):
        entry = {"name": self.name, "dtype": self.dtype, "values": list(self.values)}
        if self.step is not None:
            entry["step"] = self.step
        if self.log:
            entry["log"] = True
        return entry


def _p(name, dtype, values, step=None, log=False):
    return Param(name, dtype, tuple(values), step, log)


RNN_SPACE = (
    _p("loss", "categorical", ["cross-entropy", "bpr-max"]),
    _p("constrained_embedding", "categorical", [True, False]),
    _p("embedding", "categorical", [0, 64, 128, 256]),
    _p("layers", "int", [64, 512], 32),
    _p("batch_size", "int", [32, 256], 16),
    _p("learning_rate", "float", [0.01, 0.25], 0.005),
    _p("dropout_p_embed", "float", [0.0, 0.5], 0.05),
    _p("dropout_p_hidden", "float", [0.0, 0.7], 0.05),
    _p("momentum", "float", [0.0, 0.9], 0.05),
    _p("n_sample", "categorical", [512, 1024, 2048]),
    _p("sample_alpha", "float", [0.0, 1.0], 0.1),
    _p("logq", "categorical", [0.0, 1.0]),
    _p("bpreg", "float", [0.0, 2.0], 0.05),
    _p("final_activation", "categorical", ["linear", "elu-0.5", "elu-1"]),
)
MODEL_SPACES = {
    "hrnn": (
        _p("user_units", "int", [32, 256], 32),
        _p("user_propagation_mode", "categorical", ["init", "all"]),
        _p("dropout_p_user", "float", [0.0, 0.5], 0.05),
        _p("dropout_p_init", "float", [0.0, 0.5], 0.05),
    ),
    "user_gru": (
        _p("user_embedding", "categorical", [16, 32, 64, 128]),
        _p("user_mode", "categorical", ["linear", "rectified", "attentional"]),
        _p("user_unknown_p", "float", [0.0, 0.8], 0.1),
        _p("user_lr_scale", "float", [0.01, 1.0], log=True),
    ),
}
BASELINE_SPACES = {
    "sr": (_p("steps", "int", [1, 20]), _p("prune", "int", [0, 100], 10)),
    "sknn": (_p("k", "int", [50, 500], 50), _p("sample_size", "int", [250, 2500], 250)),
    "vsknn": (_p("k", "int", [50, 500], 50), _p("sample_size", "int", [250, 2500], 250)),
    "vsknn_e": (_p("k", "int", [50, 500], 50), _p("sample_size", "int", [250, 2500], 250),
                _p("extend_length", "int", [1, 15])),
    "recent_pop": (_p("hours", "float", [0.1, 48.0], log=True),),
    "fpmc": (_p("factors", "int", [16, 128], 16), _p("learning_rate", "float", [0.005, 0.2], log=True),
             _p("reg", "float", [0.0001, 0.1], log=True)),
}
# the order options are drawn in: those others depend on first (see `consistent`)
FIRST = ("loss", "constrained_embedding", "embedding")


def default_space(model_name, baseline=False):
    """The default space of `model_name` (a list of `Param`s).

    Raises:
        ConfigError: a baseline with no options (pop, spop).
    """
    if baseline:
        if model_name not in BASELINE_SPACES:
            raise ConfigError(f"{model_name} has no options to tune")
        return list(BASELINE_SPACES[model_name])
    return [*RNN_SPACE, *MODEL_SPACES.get(model_name, ())]


def read_space(path):
    """The `Param`s of the space file at `path` (see the module docstring), checked for form only.

    Raises:
        ConfigError: the file cannot be read, is not JSON, or an entry is malformed (one line naming the
            file and the entry).
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"--space {path}: cannot read the file: {getattr(e, 'strerror', None) or e}") from None
    entries = []
    if text.lstrip().startswith("["):
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"--space {path}: not valid JSON: {e.msg} at line {e.lineno}") from None
        where = [f"entry {i + 1}" for i in range(len(entries))]
    else:
        where = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ConfigError(f"--space {path}: line {number} is not valid JSON: {e.msg}") from None
                where.append(f"line {number}")
        if not entries:
            raise ConfigError(f"--space {path}: no entries; write [] to search nothing")
    return [_param(entry, f"--space {path}, {place}") for entry, place in zip(entries, where)]


def _param(entry, where):
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected an object like {{\"name\": ..., \"dtype\": ..., \"values\": [...]}}")
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    missing = [key for key in ("name", "dtype", "values") if key not in entry]
    if unknown or missing:
        raise ConfigError(f"{where}: " + (f"unknown key {unknown[0]!r}" if unknown else f"missing {missing[0]!r}") +
                          f"; an entry has {', '.join(ENTRY_KEYS)}")
    name, dtype, values = entry["name"], entry["dtype"], entry["values"]
    step, log = entry.get("step"), entry.get("log", False)
    where = f"{where} ({name})"
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: name must be an option name")
    if dtype not in DTYPES:
        raise ConfigError(f"{where}: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}: values must be a non-empty list")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false")
    if dtype == "categorical":
        if step is not None or log:
            raise ConfigError(f"{where}: step and log are for int and float ranges")
        if not all(isinstance(v, (bool, int, float, str)) for v in values) or len(set(map(repr, values))) < len(values):
            raise ConfigError(f"{where}: categorical values must be distinct numbers, strings or booleans")
        return Param(name, dtype, tuple(values))
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
    if len(values) != 2 or not numbers or values[0] > values[1]:
        raise ConfigError(f"{where}: a range ({dtype}) takes values [low, high] with low <= high")
    if dtype == "int" and not all(float(v).is_integer() for v in values):
        raise ConfigError(f"{where}: an int range takes whole numbers")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0
                             or dtype == "int" and not float(step).is_integer()):
        raise ConfigError(f"{where}: step must be a positive {'whole ' if dtype == 'int' else ''}number")
    if log and (step is not None or values[0] <= 0):
        raise ConfigError(f"{where}: a log range needs low > 0 and no step")
    if dtype == "int":
        values, step = [int(v) for v in values], None if step is None else int(step)
    return Param(name, dtype, tuple(values), step, log)


def base_draw(space, base):
    """The draw of each option of `space` that gives the base configuration's value, where the space holds it.

    `zoo tune` enqueues it as a study's first trial, so a study starts from the base (`--preset`) and its
    best can only be at or above the base on the validation split; the options whose base value lies
    outside the space are drawn.
    """
    draws = {}
    for p in space:
        value = base[p.name]
        if isinstance(value, list):  # layers: [512] is the draw 512, [100, 100] the draw "100,100"
            value = value[0] if len(value) == 1 else ",".join(map(str, value))
        if p.holds(value):
            draws[p.name] = value
    return draws


def without(space, fixed):
    """`space` less the options in `fixed` (those set with --set are not searched)."""
    return [p for p in space if p.name not in fixed]


def ordered(space):
    """`space` in drawing order: the options others depend on first, then as given."""
    return sorted(space, key=lambda p: FIRST.index(p.name) if p.name in FIRST else len(FIRST))


def option_value(name, value, default):
    """A drawn `value` as the option `name` holds it (the type of its `default`).

    Raises:
        ConfigError: the value cannot be that option's.
    """
    from zoo.training.presets import parse_value

    if isinstance(default, list):  # layers: one size, or "100,100"
        if isinstance(value, bool):
            raise ConfigError(f"{name}={value!r}: expected a layer size or sizes like \"100,100\"")
        return [int(value)] if isinstance(value, (int, float)) and float(value).is_integer() else \
            parse_value(name, str(value))
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{name}={value!r}: expected true or false")
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{name}={value!r}: expected a string like {default!r}")
        return value
    if isinstance(value, (bool, str)) or isinstance(default, int) and not float(value).is_integer():
        raise ConfigError(f"{name}={value!r}: expected a value like {default!r}")
    return type(default)(tidy(value))


def tidy(value):
    """A drawn float without the binary residue of Optuna's stepped grid (0.35000000000000003 -> 0.35)."""
    return round(value, 12) if isinstance(value, float) else value


def consistent(config):
    """`config` with the options that do not apply to it at neutral values (see the module docstring)."""
    config = dict(config)
    cross_entropy = config["loss"] == "cross-entropy"
    if not cross_entropy:
        config["logq"] = 0.0
    if config["loss"] != "bpr-max":
        config["bpreg"] = 0.0
    if cross_entropy and config["final_activation"] not in ("linear", "softmax"):
        config["final_activation"] = "linear"
    if config["constrained_embedding"]:
        config["embedding"] = 0
    one_hot = not config["constrained_embedding"] and config["embedding"] == 0
    if one_hot:
        config["dropout_p_embed"] = 0.0
        if config.get("user_mode") == "attentional":
            config["user_mode"] = "linear"  # the attention weighs the item embedding, which one-hot input lacks
    return config


def applies(name, config):
    """Whether `name` is drawn for a trial whose options so far are `config`."""
    if name == "logq":
        return config["loss"] == "cross-entropy"
    if name in ("bpreg",):
        return config["loss"] == "bpr-max"
    if name == "final_activation":
        return config["loss"] != "cross-entropy"
    if name == "embedding":
        return not config["constrained_embedding"]
    if name == "dropout_p_embed":
        return config["constrained_embedding"] or config["embedding"] > 0
    return True


def compatible_base(name, base):
    """A base configuration in which the option `name` applies (to check its values before a search)."""
    config = dict(base)
    if name == "logq":
        config["loss"] = "cross-entropy"
    elif name in ("bpreg", "final_activation"):
        config["loss"] = "bpr-max"
    elif name == "embedding":
        config["constrained_embedding"] = False
    elif name in ("dropout_p_embed", "user_mode"):
        config["constrained_embedding"] = True
    return config


def write_space(path, space):
    """Writes `space` as a space file (one entry a line), atomically."""
    from zoo.atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(p.to_json()) for p in space) + ("\n" if space else "") + "]\n")


def space_json(space):
    return [p.to_json() for p in space]


__all__ = ["Param", "applies", "compatible_base", "consistent", "default_space", "option_value", "ordered",
           "read_space", "space_json", "without", "write_space"]
