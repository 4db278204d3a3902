"""Training configuration: defaults, the reference GRU4Rec's published best settings, `--set` parsing.

A configuration is one flat dict: the model options of `SessionRecommender` plus the training options
(`learning_rate`, `momentum`, `optimizer`, `n_sample`, `sample_alpha`, `epochs`, `seed`), plus the
options of the personalized models (HRNN: `user_units`, `user_propagation_mode`, `dropout_p_user`,
`dropout_p_init`; user-gated GRU: `user_embedding`, `user_mode`, `user_unknown_p`, `user_lr_scale`), which only those
models take (`model_options`).

Presets are the hyper-parameters published with the official GRU4Rec code (its `paramfiles/`, tuned
with Optuna for MRR@20, shared = constrained embedding, 2048 popularity-sampled negatives):

    name                          loss           layers batch  drop(e/h)  lr     mom   alpha bpreg logq  final
    rsc15-xe-shared               cross-entropy  100    32     0.0/0.4    0.2    0.2   0.5   -     1.0   linear
    rsc15-bprmax-shared           bpr-max        100    32     0.0/0.0    0.2    0.1   0.0   0.5   -     elu-0.5
    yoochoose-xe-shared           cross-entropy  480    48     0.0/0.2    0.07   0.0   0.2   -     1.0   linear
    rees46-xe-shared              cross-entropy  512    240    0.45/0.0   0.065  0.0   0.5   -     1.0   linear
    retailrocket-bprmax-shared    bpr-max        224    80     0.5/0.05   0.05   0.4   0.4   1.95  -     elu-0.5
    diginetica-bprmax-shared      bpr-max        512    128    0.5/0.3    0.05   0.15  0.3   0.9   -     elu-1
    coveo-bprmax-shared           bpr-max        512    144    0.35/0.0   0.05   0.4   0.2   1.85  -     elu-1

`rsc15-bprmax-shared` is the reference's RSC15 example run with BPR-max and a shared embedding (its
`run_rsc15.py`); all presets train 10 epochs.
"""
import ast
import copy
import difflib
import json
import os

from zoo.errors import ConfigError

DEFAULTS = {
    # model (see zoo.models.recommender.SessionRecommender)
    "layers": [100],
    "embedding": 0,
    "constrained_embedding": True,
    "dropout_p_embed": 0.0,
    "dropout_p_hidden": 0.0,
    "final_activation": "linear",
    "loss": "cross-entropy",
    "bpreg": 0.0,
    "logq": 0.0,
    "batch_size": 32,
    # training
    "learning_rate": 0.05,
    "momentum": 0.0,
    "optimizer": "adagrad_momentum",
    "n_sample": 2048,
    "sample_alpha": 0.5,
    "epochs": 10,
    "seed": 42,
    "steps_per_execution": 64,
    # GRU4Rec only: the PyTorch port's reset-after GRU (see zoo.models.gru4rec)
    "reset_after": False,
    # personalized models (see zoo.models.hrnn, zoo.models.user_gru)
    "user_units": 100,
    "user_propagation_mode": "init",
    "dropout_p_user": 0.0,
    "dropout_p_init": 0.2,
    "user_embedding": 100,
    "user_mode": "linear",
    "user_unknown_p": 0.5,
    "user_lr_scale": 0.1,
}

MODEL_KEYS = ("layers", "embedding", "constrained_embedding", "dropout_p_embed", "dropout_p_hidden",
              "final_activation", "loss", "bpreg", "logq", "batch_size", "seed")


def _preset(loss, units, batch, drop_embed, drop_hidden, lr, momentum, alpha, bpreg=0.0, logq=0.0, final="linear"):
    return {"loss": loss, "layers": [units], "batch_size": batch, "dropout_p_embed": drop_embed,
            "dropout_p_hidden": drop_hidden, "learning_rate": lr, "momentum": momentum, "sample_alpha": alpha,
            "bpreg": bpreg, "logq": logq, "final_activation": final, "constrained_embedding": True,
            "embedding": 0, "n_sample": 2048, "epochs": 10}


PRESETS = {
    "rsc15-xe-shared": _preset("cross-entropy", 100, 32, 0.0, 0.4, 0.2, 0.2, 0.5, logq=1.0),
    "rsc15-bprmax-shared": _preset("bpr-max", 100, 32, 0.0, 0.0, 0.2, 0.1, 0.0, bpreg=0.5, final="elu-0.5"),
    "yoochoose-xe-shared": _preset("cross-entropy", 480, 48, 0.0, 0.2, 0.07, 0.0, 0.2, logq=1.0),
    "rees46-xe-shared": _preset("cross-entropy", 512, 240, 0.45, 0.0, 0.065, 0.0, 0.5, logq=1.0),
    "retailrocket-bprmax-shared": _preset("bpr-max", 224, 80, 0.5, 0.05, 0.05, 0.4, 0.4, bpreg=1.95, final="elu-0.5"),
    "diginetica-bprmax-shared": _preset("bpr-max", 512, 128, 0.5, 0.3, 0.05, 0.15, 0.3, bpreg=0.9, final="elu-1"),
    "coveo-bprmax-shared": _preset("bpr-max", 512, 144, 0.35, 0.0, 0.05, 0.4, 0.2, bpreg=1.85, final="elu-1"),
}


def _unknown(kind, name, known):
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown {kind} {name!r}{hint}; known: {', '.join(sorted(known))}")


def parse_value(key, text):
    """Parses the text of `--set KEY=VALUE` to the type of the key's default.

    `layers` accepts `100`, `100,100` or `[100, 100]`; booleans accept true/false/1/0.
    """
    default = DEFAULTS[key]
    try:
        if isinstance(default, list):
            value = ast.literal_eval(text) if text.strip().startswith("[") else [int(p) for p in text.split(",")]
            return [int(v) for v in value]
        if isinstance(default, bool):
            if text.lower() in ("true", "1", "yes"):
                return True
            if text.lower() in ("false", "0", "no"):
                return False
            raise ValueError
        return type(default)(text)
    except (ValueError, SyntaxError, TypeError):
        raise ConfigError(f"{key}={text!r}: expected a value like {default!r}") from None


def resolve(preset=None, sets=(), **overrides):
    """Defaults, then the preset (a name of `PRESETS` or a preset file's path, `read_preset_file`), then
    `KEY=VALUE` strings, then keyword overrides (None ignored)."""
    config = copy.deepcopy(DEFAULTS)
    if preset:
        if preset in PRESETS:
            config.update(copy.deepcopy(PRESETS[preset]))
        elif preset.endswith(".json") or os.sep in preset or os.path.exists(preset):
            config.update(read_preset_file(preset))
        else:
            raise _unknown("preset", preset, PRESETS)
    for item in sets:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        if key not in DEFAULTS:
            raise _unknown("option", key, DEFAULTS)
        config[key] = parse_value(key, text)
    for key, value in overrides.items():
        if value is not None:
            if key not in DEFAULTS:
                raise _unknown("option", key, DEFAULTS)
            config[key] = value
    validate(config)
    return config


def read_preset_file(path):
    """The options of a preset file: a JSON object of options (`zoo tune` writes one as best_preset.json).

    Raises:
        ConfigError: one line naming the file: unreadable, not a JSON object, an unknown option or a value
            of the wrong type.
    """
    try:
        with open(path, encoding="utf-8") as f:
            options = json.load(f)
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"--preset {path}: cannot read the preset file: {getattr(e, 'strerror', None) or e}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"--preset {path}: not a preset file: invalid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(options, dict):
        raise ConfigError(f"--preset {path}: not a preset file: expected a JSON object of options")
    for key, value in options.items():
        if key not in DEFAULTS:
            raise ConfigError(f"--preset {path}: {_unknown('option', key, DEFAULTS)}")
        default = DEFAULTS[key]
        if isinstance(default, list):
            ok = isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = type(value) is type(default)
        if not ok:
            raise ConfigError(f"--preset {path}: {key}={value!r}: expected a value like {default!r}")
        options[key] = float(value) if isinstance(default, float) else value
    return options


def validate(config):
    """Range checks for the training options (the model checks its own)."""
    checks = [
        ("learning_rate", lambda v: v > 0, "> 0"),
        ("momentum", lambda v: 0 <= v < 1, "in [0, 1)"),
        ("n_sample", lambda v: v >= 0, ">= 0"),
        ("sample_alpha", lambda v: v >= 0, ">= 0"),
        ("epochs", lambda v: v >= 1, ">= 1"),
        ("steps_per_execution", lambda v: v >= 1, ">= 1"),
    ]
    for key, ok, requirement in checks:
        if not ok(config[key]):
            raise ConfigError(f"{key} must be {requirement}, got {config[key]!r}")


MODEL_SPECIFIC_KEYS = {"reset_after": "gru4rec", "user_units": "hrnn", "user_propagation_mode": "hrnn", "dropout_p_user": "hrnn",
                       "dropout_p_init": "hrnn", "user_embedding": "user_gru", "user_mode": "user_gru",
                       "user_unknown_p": "user_gru", "user_lr_scale": "user_gru"}


def model_options(config, extra=()):
    """The shared model options of `config`, plus the model-specific keys `extra` (a model's `extra_options`).

    Raises:
        ConfigError: a model-specific option differs from its default but is not in `extra`.
    """
    for key, owner in MODEL_SPECIFIC_KEYS.items():
        if key not in extra and config.get(key, DEFAULTS[key]) != DEFAULTS[key]:
            raise ConfigError(f"{key} is an option of {owner} only")
    return {key: config[key] for key in (*MODEL_KEYS, *extra)}
