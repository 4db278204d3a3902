"""zoo.training.presets: resolution order, `--set` parsing, errors with hints, and the published preset table."""
import copy

import pytest

from zoo.training import presets
from zoo.errors import ConfigError
from zoo.training.presets import DEFAULTS, MODEL_KEYS, PRESETS, model_options, parse_value, resolve, validate

# The table of the module docstring, typed again here ("-" is 0):
#   name: (loss, units, batch, drop_embed, drop_hidden, lr, momentum, alpha, bpreg, logq, final)
TABLE = {
    "rsc15-xe-shared": ("cross-entropy", 100, 32, 0.0, 0.4, 0.2, 0.2, 0.5, 0.0, 1.0, "linear"),
    "rsc15-bprmax-shared": ("bpr-max", 100, 32, 0.0, 0.0, 0.2, 0.1, 0.0, 0.5, 0.0, "elu-0.5"),
    "yoochoose-xe-shared": ("cross-entropy", 480, 48, 0.0, 0.2, 0.07, 0.0, 0.2, 0.0, 1.0, "linear"),
    "rees46-xe-shared": ("cross-entropy", 512, 240, 0.45, 0.0, 0.065, 0.0, 0.5, 0.0, 1.0, "linear"),
    "retailrocket-bprmax-shared": ("bpr-max", 224, 80, 0.5, 0.05, 0.05, 0.4, 0.4, 1.95, 0.0, "elu-0.5"),
    "diginetica-bprmax-shared": ("bpr-max", 512, 128, 0.5, 0.3, 0.05, 0.15, 0.3, 0.9, 0.0, "elu-1"),
    "coveo-bprmax-shared": ("bpr-max", 512, 144, 0.35, 0.0, 0.05, 0.4, 0.2, 1.85, 0.0, "elu-1"),
}
FIELDS = ("loss", "layers", "batch_size", "dropout_p_embed", "dropout_p_hidden", "learning_rate", "momentum",
          "sample_alpha", "bpreg", "logq", "final_activation")


def test_every_preset_is_in_the_table():
    assert set(PRESETS) == set(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_preset_matches_docstring_table(name):
    config = resolve(name)
    expected = dict(zip(FIELDS, TABLE[name]))
    expected["layers"] = [expected["layers"]]
    for key, value in expected.items():
        assert config[key] == value, key
    # Every preset: shared embedding, 2048 sampled negatives, 10 epochs.
    assert config["constrained_embedding"] is True and config["embedding"] == 0
    assert config["n_sample"] == 2048 and config["epochs"] == 10
    # Options a preset leaves alone keep their default.
    for key in ("optimizer", "seed", "steps_per_execution"):
        assert config[key] == DEFAULTS[key]
    assert set(config) == set(DEFAULTS)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_preset_builds_a_model(name):
    from zoo.models.gru4rec import GRU4Rec

    options = model_options(resolve(name))
    assert set(options) == set(MODEL_KEYS)
    options["layers"] = [2]  # the model's own option checks, without building a 512-unit GRU
    model = GRU4Rec(n_items=3, **options)
    assert model.loss_name == TABLE[name][0]


def test_resolve_order_defaults_preset_sets_overrides():
    assert resolve()["learning_rate"] == 0.05  # default
    assert resolve("rsc15-xe-shared")["learning_rate"] == 0.2  # preset over default
    assert resolve("rsc15-xe-shared", sets=["learning_rate=0.3"])["learning_rate"] == 0.3  # --set over preset
    assert resolve("rsc15-xe-shared", sets=["learning_rate=0.3"], learning_rate=0.4)["learning_rate"] == 0.4
    # A None override is ignored; later --set strings win over earlier ones.
    assert resolve("rsc15-xe-shared", sets=["learning_rate=0.3"], learning_rate=None)["learning_rate"] == 0.3
    assert resolve(sets=["epochs=3", "epochs=7"])["epochs"] == 7


def test_resolve_without_anything_is_the_defaults():
    assert resolve() == DEFAULTS


def test_resolve_sets_strip_key_and_parse():
    config = resolve(sets=[" layers =100,50", "constrained_embedding=false", "loss=bpr-max", "bpreg=1.5"])
    assert config["layers"] == [100, 50]
    assert config["constrained_embedding"] is False
    assert config["loss"] == "bpr-max" and config["bpreg"] == 1.5


@pytest.mark.parametrize("text, expected", [("100", [100]), ("100,50", [100, 50]), ("[100, 50]", [100, 50]),
                                            (" [64] ", [64]), ("3, 4, 5", [3, 4, 5])])
def test_parse_layers(text, expected):
    assert parse_value("layers", text) == expected


@pytest.mark.parametrize("text, expected", [("true", True), ("True", True), ("1", True), ("yes", True),
                                            ("false", False), ("FALSE", False), ("0", False), ("no", False)])
def test_parse_booleans(text, expected):
    assert parse_value("constrained_embedding", text) is expected


@pytest.mark.parametrize("key, text, expected", [("learning_rate", "0.1", 0.1), ("learning_rate", "1e-3", 0.001),
                                                 ("dropout_p_hidden", "0", 0.0), ("epochs", "5", 5),
                                                 ("n_sample", "0", 0), ("optimizer", "adam", "adam")])
def test_parse_numbers_and_strings(key, text, expected):
    value = parse_value(key, text)
    assert value == expected and type(value) is type(DEFAULTS[key])


@pytest.mark.parametrize("key, text", [("layers", "abc"), ("layers", "[100, x]"), ("layers", "100;50"),
                                       ("constrained_embedding", "maybe"), ("learning_rate", "fast"),
                                       ("epochs", "5.5"), ("n_sample", "")])
def test_parse_bad_values(key, text):
    with pytest.raises(ConfigError, match=key):
        parse_value(key, text)


def test_unknown_preset_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"unknown preset 'rsc15-xe-share'.*did you mean 'rsc15-xe-shared'"):
        resolve("rsc15-xe-share")


def test_unknown_preset_without_close_match_lists_known():
    with pytest.raises(ConfigError) as info:
        resolve("zzzz")
    assert "did you mean" not in str(info.value)
    assert "coveo-bprmax-shared" in str(info.value)


def test_unknown_option_in_sets_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"unknown option 'learnin_rate'.*did you mean 'learning_rate'"):
        resolve(sets=["learnin_rate=0.1"])


def test_unknown_option_in_overrides_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"unknown option 'batchsize'.*did you mean 'batch_size'"):
        resolve(batchsize=64)


def test_set_without_equals_sign():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        resolve(sets=["learning_rate"])


@pytest.mark.parametrize("key, value", [("learning_rate", 0.0), ("learning_rate", -0.1), ("momentum", 1.0),
                                        ("momentum", -0.01), ("n_sample", -1), ("sample_alpha", -0.5),
                                        ("epochs", 0), ("steps_per_execution", 0)])
def test_out_of_range_values(key, value):
    with pytest.raises(ConfigError, match=key):
        resolve(**{key: value})
    with pytest.raises(ConfigError, match=key):
        resolve(sets=[f"{key}={value}"])


@pytest.mark.parametrize("key, value", [("momentum", 0.0), ("momentum", 0.99), ("n_sample", 0),
                                        ("sample_alpha", 0.0), ("epochs", 1), ("steps_per_execution", 1)])
def test_range_boundaries_accepted(key, value):
    assert resolve(**{key: value})[key] == value


def test_validate_alone():
    validate(dict(DEFAULTS))
    with pytest.raises(ConfigError, match="momentum"):
        validate({**DEFAULTS, "momentum": 2.0})


def test_resolve_does_not_change_the_tables():
    resolve("coveo-bprmax-shared", sets=["layers=7,7", "learning_rate=0.9"], epochs=2)
    assert PRESETS["coveo-bprmax-shared"]["layers"] == [512]
    assert PRESETS["coveo-bprmax-shared"]["learning_rate"] == 0.05
    assert DEFAULTS["layers"] == [100] and DEFAULTS["epochs"] == 10


def test_mutating_a_resolved_config_leaves_the_tables_alone(monkeypatch):
    # Work on copies of the tables so that a regression cannot leak into other tests.
    monkeypatch.setattr(presets, "PRESETS", copy.deepcopy(presets.PRESETS))
    monkeypatch.setattr(presets, "DEFAULTS", copy.deepcopy(presets.DEFAULTS))
    config = resolve("rsc15-xe-shared")
    config["layers"].append(50)
    default = resolve()
    default["layers"].append(50)
    assert resolve("rsc15-xe-shared")["layers"] == [100]
    assert resolve()["layers"] == [100]
