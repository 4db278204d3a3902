"""`--preset FILE`: a JSON object of options (as `zoo tune` writes best_preset.json) is a preset; a bad one is one
line naming the file."""
import json

import pytest

from zoo.errors import ConfigError
from zoo.training import presets


def test_a_preset_file_sets_its_options_under_set_and_keywords(tmp_path):
    path = tmp_path / "best_preset.json"
    path.write_text(json.dumps({"layers": [64], "learning_rate": 0.1, "loss": "bpr-max", "bpreg": 1, "epochs": 3}))
    config = presets.resolve(str(path), sets=["momentum=0.3"], epochs=4)
    assert config["layers"] == [64] and config["learning_rate"] == 0.1 and config["loss"] == "bpr-max"
    assert config["bpreg"] == 1.0 and isinstance(config["bpreg"], float)
    assert config["momentum"] == 0.3 and config["epochs"] == 4
    whole = presets.resolve("rsc15-xe-shared")
    path.write_text(json.dumps(whole))
    assert presets.resolve(str(path)) == whole


@pytest.mark.parametrize("text, words", [
    ("{", "not a preset file: invalid JSON"),
    ("[1, 2]", "expected a JSON object of options"),
    ('{"lerning_rate": 0.1}', "unknown option 'lerning_rate' (did you mean 'learning_rate'?)"),
    ('{"layers": 100}', "layers=100: expected a value like [100]"),
    ('{"constrained_embedding": "yes"}', "constrained_embedding='yes': expected a value like True"),
    ('{"batch_size": 32.5}', "batch_size=32.5: expected a value like 32"),
])
def test_a_bad_preset_file_is_one_line_naming_it(tmp_path, text, words):
    path = tmp_path / "preset.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        presets.resolve(str(path))
    message = str(error.value)
    assert message.startswith(f"--preset {path}: ") and words in message and "\n" not in message


def test_a_missing_preset_file_and_an_unknown_name_are_told_apart(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the preset file"):
        presets.resolve(str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="unknown preset 'rsc15-xe'"):
        presets.resolve("rsc15-xe")


def test_zoo_train_refuses_a_bad_preset_file_before_any_work(small_split, tmp_path, capsys):
    from zoo.cli import main

    path = tmp_path / "preset.json"
    path.write_text('{"learning_rate": "fast"}')
    capsys.readouterr()
    assert main(["train", "--preset", str(path), "--train", str(small_split / "train.tsv"),
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"zoo: error: --preset {path}: learning_rate='fast': expected a value like 0.05"
    assert not (tmp_path / "run").exists()
