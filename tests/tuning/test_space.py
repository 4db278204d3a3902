"""Search spaces: the space file in both layouts, the default spaces, options that do not apply to a draw."""
import json

import optuna
import pytest

from zoo.errors import ConfigError
from zoo.training import presets
from zoo.tuning import space as spaces

ENTRIES = [{"name": "layers", "dtype": "int", "values": [64, 512], "step": 32},
           {"name": "learning_rate", "dtype": "float", "values": [0.01, 0.25], "step": 0.005},
           {"name": "reg", "dtype": "float", "values": [0.0001, 0.1], "log": True},
           {"name": "final_activation", "dtype": "categorical", "values": ["elu-0.5", "elu-1", "linear"]}]


def test_a_space_file_is_an_array_or_one_object_a_line(tmp_path):
    lines, array = tmp_path / "lines.json", tmp_path / "array.json"
    lines.write_text("\n".join(json.dumps(e) for e in ENTRIES) + "\n\n")
    array.write_text(json.dumps(ENTRIES, indent=2))
    assert spaces.read_space(lines) == spaces.read_space(array)
    assert [p.to_json() for p in spaces.read_space(array)] == ENTRIES
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert spaces.read_space(empty) == []


@pytest.mark.parametrize("entry, words", [
    ({"name": "layers", "dtype": "int", "values": [64.5, 128]}, "whole numbers"),
    ({"name": "layers", "dtype": "int", "values": [512, 64]}, "low <= high"),
    ({"name": "lr", "dtype": "float", "values": [0.1, 0.2], "step": 0.1, "log": True}, "a log range needs"),
    ({"name": "loss", "dtype": "categorical", "values": []}, "non-empty list"),
    ({"name": "loss", "dtype": "categorical", "values": ["top1"], "step": 1}, "step and log are for"),
    ({"name": "loss", "dtype": "categorical", "values": [["a"]]}, "distinct numbers, strings or booleans"),
    ({"name": "loss", "values": ["bpr"]}, "missing 'dtype'"),
    ({"name": "loss", "dtype": "categorical", "values": ["bpr"], "prior": 1}, "unknown key 'prior'"),
])
def test_a_malformed_entry_is_one_line_naming_the_file_and_line(tmp_path, entry, words):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(ENTRIES[0]) + "\n" + json.dumps(entry) + "\n")
    with pytest.raises(ConfigError) as error:
        spaces.read_space(path)
    assert str(error.value).startswith(f"--space {path}, line 2") and words in str(error.value)


def test_the_default_spaces_are_options_of_their_models():
    rnn = {p.name for p in spaces.default_space("gru4rec")}
    assert rnn <= set(presets.DEFAULTS) and {"loss", "layers", "batch_size", "dropout_p_embed", "dropout_p_hidden",
                                             "learning_rate", "momentum", "n_sample", "sample_alpha", "bpreg", "logq",
                                             "constrained_embedding", "final_activation"} <= rnn
    assert {p.name for p in spaces.default_space("hrnn")} - rnn == {"user_units", "user_propagation_mode",
                                                                    "dropout_p_user", "dropout_p_init"}
    assert {p.name for p in spaces.default_space("user_gru")} - rnn == {"user_embedding", "user_mode", "user_unknown_p",
                                                                        "user_lr_scale"}
    from zoo.models.registry import model_class

    for name in ("sr", "sknn", "vsknn", "vsknn_e", "recent_pop", "fpmc"):
        assert {p.name for p in spaces.default_space(name, baseline=True)} <= set(model_class(name).defaults)
    with pytest.raises(ConfigError, match="spop has no options to tune"):
        spaces.default_space("spop", baseline=True)


def test_options_that_do_not_apply_to_a_draw_are_neutral():
    base = presets.resolve("rsc15-bprmax-shared")
    config = spaces.consistent({**base, "loss": "cross-entropy", "logq": 1.0})
    assert config["final_activation"] == "linear" and config["bpreg"] == 0.0 and config["logq"] == 1.0
    xe = presets.resolve("rsc15-xe-shared")
    config = spaces.consistent({**xe, "loss": "bpr-max", "constrained_embedding": False, "embedding": 0,
                                "dropout_p_embed": 0.3, "user_mode": "attentional"})
    assert config["logq"] == 0.0 and config["dropout_p_embed"] == 0.0 and config["user_mode"] == "linear"
    assert spaces.applies("bpreg", config) and not spaces.applies("logq", config)
    assert not spaces.applies("dropout_p_embed", config) and spaces.applies("embedding", config)


def test_every_draw_of_the_default_space_is_a_configuration_the_model_takes():
    from zoo import training

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    space = spaces.ordered(spaces.default_space("user_gru"))
    for _ in range(40):
        trial = study.ask()
        config = presets.resolve()
        for p in space:
            if spaces.applies(p.name, config):
                config[p.name] = spaces.option_value(p.name, p.suggest(trial), presets.DEFAULTS[p.name])
            config = spaces.consistent(config)
        presets.validate(config)
        training.check_options("user_gru", config)
        study.tell(trial, 0.0)


def test_base_draw_gives_the_base_where_the_space_holds_it():
    from zoo.tuning.space import Param, base_draw

    space = [Param("layers", "int", (64, 512), 32), Param("learning_rate", "float", (0.01, 0.25), 0.005),
             Param("momentum", "float", (0.0, 0.9), 0.05), Param("loss", "categorical", ("cross-entropy", "bpr-max")),
             Param("batch_size", "int", (32, 256), 16), Param("constrained_embedding", "categorical", (True, False))]
    base = {"layers": [512], "learning_rate": 0.065, "momentum": 0.33, "loss": "bpr-max", "batch_size": 40,
            "constrained_embedding": True}
    # momentum 0.33 is off the 0.05 grid and batch 40 off the 16 grid (32, 48, ...): both are drawn instead
    assert base_draw(space, base) == {"layers": 512, "learning_rate": 0.065, "loss": "bpr-max",
                                      "constrained_embedding": True}
    assert base_draw([Param("layers", "categorical", (100, "100,100"))], {"layers": [100, 100]}) == {"layers": "100,100"}
    assert base_draw([Param("layers", "categorical", (100, "100,100"))], {"layers": [100]}) == {"layers": 100}
    assert base_draw([Param("layers", "int", (64, 512), 32)], {"layers": [100, 100]}) == {}
    assert base_draw([Param("k", "categorical", (1, 2))], {"k": True}) == {}  # True == 1, but not the same draw
