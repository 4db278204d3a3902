"""The bad-input catalogue: every mistake in a log, a run directory or an option is one line naming what
and where, exit code 2 from the CLI, and leaves no output behind."""
import json
import os

import pandas as pd
import pytest

from zoo.training import presets
from zoo import runs
from zoo.cli import main
from zoo.datasets.io import MAX_ID_LENGTH, load_events
from zoo.datasets.vocab import Vocabulary
from zoo.errors import ConfigError, DataError
from zoo.models.registry import get_model, model_class

HEADER = "SessionId\tItemId\tTime\n"


def good_log(n_sessions=12):
    """Sessions of 4 clicks over 6 items, on two days (so that a time split has a test day)."""
    rows = [(f"s{s}", f"i{(s + t) % 6}", s * 8000.0 + t) for s in range(n_sessions) for t in range(4)]
    return pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time"])


def parquet_bytes(frame, tmp_path):
    frame.to_parquet(tmp_path / "tmp.parquet")
    data = (tmp_path / "tmp.parquet").read_bytes()
    (tmp_path / "tmp.parquet").unlink()
    return data


BAD_FILES = {  # name: (file content, words of the message)
    "truncated.parquet": (lambda tmp: parquet_bytes(good_log(), tmp)[:300], "cannot read the Parquet file"),
    "empty.parquet": (lambda tmp: b"", "cannot read the Parquet file"),
    "columns.parquet": (lambda tmp: parquet_bytes(good_log().rename(columns={"ItemId": "Item"}), tmp),
                        "missing column(s) 'ItemId'"),
    "times.parquet": (lambda tmp: parquet_bytes(good_log().assign(Time="soon"), tmp),
                      "row 1, column 'Time': cannot read time 'soon'"),
    "garbage.tsv": (lambda tmp: bytes(range(128, 256)) * 8, "not UTF-8 text at line 1"),
    "garbage_row.tsv": (lambda tmp: (HEADER + "1\ta\t1\n").encode() + b"1\t\xff\xfe\t2\n", "not UTF-8 text at line 3"),
    "quote.csv": (lambda tmp: b'SessionId,ItemId,Time\n1,a,1\n1,"b,2\n2,c,3\n', "a quote is never closed (data row 2)"),
    "fields.csv": (lambda tmp: b"SessionId,ItemId,Time\n1,a,1\n1,b,2,9\n", "data row 2"),
    "header.tsv": (lambda tmp: b"session\titem\ttime\n1\ta\t1\n", "missing column(s) 'SessionId', 'ItemId', 'Time'"),
    "time.tsv": (lambda tmp: (HEADER + "1\ta\t1\n1\tb\t\n").encode(), "row 2, column 'Time': missing value"),
    "time_text.tsv": (lambda tmp: (HEADER + "1\ta\t1\n1\tb\tlater\n").encode(), "row 2, column 'Time': cannot read"),
    "empty_id.csv": (lambda tmp: b'SessionId,ItemId,Time\n1,a,1\n1,"",2\n', "row 2, column 'ItemId': missing value"),
    "huge_id.tsv": (lambda tmp: (HEADER + "1\ta\t1\n1\t" + "x" * 2 ** 20 + "\t2\n").encode(),
                    f"row 2, column 'ItemId': an id of {2 ** 20} characters (at most {MAX_ID_LENGTH})"),
}


@pytest.fixture
def bad_file(tmp_path, request):
    name = request.param
    content, words = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(content(tmp_path))
    return path, words


@pytest.mark.parametrize("bad_file", list(BAD_FILES), indirect=True)
def test_a_bad_log_is_one_line_naming_the_file_and_where(bad_file):
    path, words = bad_file
    with pytest.raises(DataError) as error:
        load_events(path)
    message = str(error.value)
    assert message.startswith(str(path)) and words in message and "\n" not in message, message


def error_of(capsys, argv):
    """Runs the CLI, checks it failed as a user error (exit 2, one line), returns the line."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("zoo: error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("bad_file", ["truncated.parquet", "garbage.tsv", "quote.csv", "huge_id.tsv", "time.tsv"],
                         indirect=True)
def test_prep_and_train_fail_with_exit_2_and_write_nothing(bad_file, capsys, tmp_path):
    path, words = bad_file
    before = sorted(os.listdir(tmp_path))
    assert words in error_of(capsys, ["datasets", "prep", str(path), "--out", str(tmp_path / "prep")])
    assert words in error_of(capsys, ["train", "--train", str(path), "--out", str(tmp_path / "run"), "--quiet"])
    good = tmp_path / "good.tsv"
    good_log().to_csv(good, sep="\t", index=False)
    argv = ["train", "--train", str(good), "--test", str(path), "--out", str(tmp_path / "run"), "--quiet"]
    assert words in error_of(capsys, argv)  # the test log is read before training
    assert sorted(os.listdir(tmp_path)) == sorted(before + ["good.tsv"])


def test_an_empty_test_set_after_filtering_is_an_error_and_writes_nothing(tmp_path, capsys):
    log = good_log()
    log.loc[log.Time > 11 * 8000, "ItemId"] = "new"  # the last day has only items unseen before
    log.to_csv(tmp_path / "log.tsv", sep="\t", index=False)
    err = error_of(capsys, ["datasets", "prep", str(tmp_path / "log.tsv"), "--out", str(tmp_path / "out"),
                            "--min-item-support", "1", "--test-seconds", "5000"])
    assert "the test set is empty" in err and not (tmp_path / "out").exists()


def test_train_refuses_a_test_log_without_a_trained_item_before_training(tmp_path, capsys):
    good_log().to_csv(tmp_path / "good.tsv", sep="\t", index=False)
    good_log().assign(ItemId="new").to_csv(tmp_path / "test.tsv", sep="\t", index=False)
    for model in ("gru4rec", "pop"):
        err = error_of(capsys, ["train", "--model", model, "--train", str(tmp_path / "good.tsv"), "--test",
                                str(tmp_path / "test.tsv"), "--out", str(tmp_path / "run"), "--quiet"])
        assert f"{tmp_path / 'test.tsv'} (--test): no session is left after dropping 48 events" in err
        assert not (tmp_path / "run").exists()


TOO_FAR = [  # (model, --set options, words): every range check of presets.validate and the models
    ("gru4rec", ["learning_rate=0"], "learning_rate must be > 0"),
    ("gru4rec", ["momentum=1"], "momentum must be in [0, 1)"),
    ("gru4rec", ["momentum=-0.1"], "momentum must be in [0, 1)"),
    ("gru4rec", ["n_sample=-1"], "n_sample must be >= 0"),
    ("gru4rec", ["sample_alpha=-1"], "sample_alpha must be >= 0"),
    ("gru4rec", ["epochs=0"], "epochs must be >= 1"),
    ("gru4rec", ["steps_per_execution=0"], "steps_per_execution must be >= 1"),
    ("gru4rec", ["batch_size=0"], "batch_size must be >= 1"),
    ("gru4rec", ["layers=0"], "layers must be positive"),
    ("gru4rec", ["embedding=-1"], "embedding must be >= 0"),
    ("gru4rec", ["dropout_p_embed=1.0"], "dropout_p_embed must be in [0, 1)"),
    ("gru4rec", ["dropout_p_hidden=1.0"], "dropout_p_hidden must be in [0, 1)"),
    ("gru4rec", ["dropout_p_hidden=-0.5"], "dropout_p_hidden must be in [0, 1)"),
    ("gru4rec", ["loss=hinge"], "loss must be one of"),
    ("gru4rec", ["loss=bpr-max", "bpreg=-1"], "bpreg and logq must be >= 0"),
    ("gru4rec", ["loss=bpr-max", "logq=1"], "logq applies to the cross-entropy loss only"),
    ("gru4rec", ["final_activation=tanh"], "final_activation must be linear"),
    ("gru4rec", ["loss=bpr-max", "final_activation=relu"], "final_activation must be one of"),
    ("gru4rec", ["loss=bpr-max", "final_activation=elu-x"], "final_activation must be one of"),
    ("gru4rec", ["user_units=8"], "user_units is an option of hrnn only"),
    ("simple_rnn", ["reset_after=true"], "reset_after is an option of gru4rec only"),
    ("hrnn", ["user_units=0"], "user_units must be >= 1"),
    ("hrnn", ["user_propagation_mode=sometimes"], "user_propagation_mode must be one of"),
    ("hrnn", ["dropout_p_user=1.0"], "dropout_p_user must be in [0, 1)"),
    ("hrnn", ["dropout_p_init=1.5"], "dropout_p_init must be in [0, 1)"),
    ("user_gru", ["user_embedding=0"], "user_embedding must be >= 1"),
    ("user_gru", ["user_mode=sometimes"], "user_mode must be one of"),
    ("user_gru", ["user_unknown_p=1.0"], "user_unknown_p must be in [0, 1)"),
    ("user_gru", ["user_mode=attentional", "constrained_embedding=false"], "attentional needs an item embedding"),
]


@pytest.mark.parametrize("model_name, sets, words", TOO_FAR)
def test_every_option_out_of_range_is_a_config_error(model_name, sets, words):
    cls = model_class(model_name)
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        config = presets.resolve(sets=["layers=4", *sets] if "layers=0" not in sets else sets)
        extra = {"n_users": 3} if cls.personalized else {}
        get_model(model_name, n_items=5, **presets.model_options(config, cls.extra_options), **extra)


@pytest.mark.parametrize("options, words", [
    (["--set", "batch_size=0"], "batch_size must be >= 1"),
    (["--set", "dropout_p_hidden=1.0"], "dropout_p_hidden must be in [0, 1)"),
    (["--set", "loss=nope"], "loss must be one of"),
    (["--set", "n_sample=-1"], "n_sample must be >= 0"),
    (["--set", "batch_size=many"], "batch_size='many'"),
    (["--epochs", "0"], "epochs must be >= 1"),
    (["--checkpoint-every", "-1"], "--checkpoint-every must be >= 0"),
])
def test_train_refuses_an_option_out_of_range_and_writes_nothing(tmp_path, capsys, options, words):
    good_log().to_csv(tmp_path / "good.tsv", sep="\t", index=False)
    argv = ["train", "--train", str(tmp_path / "good.tsv"), "--out", str(tmp_path / "run"), "--quiet", *options]
    assert words in error_of(capsys, argv)
    assert not (tmp_path / "run").exists()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.keras").write_bytes(b"an earlier run")
    assert words in error_of(capsys, [*argv, "--overwrite"])
    assert (tmp_path / "run" / "model.keras").read_bytes() == b"an earlier run"  # kept


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A small (untrained) GRU4Rec run directory over the items a, b, c."""
    config = presets.resolve(sets=["layers=4"])
    out = tmp_path_factory.mktemp("run") / "run"
    model = get_model("gru4rec", n_items=3, **presets.model_options(config))
    runs.save_run(str(out), model, Vocabulary.fit(["a", "b", "c"]), {"model": "gru4rec", "config": config}, [])
    return out


def damage_vocab(run):
    text = (run / "vocab.json").read_text()
    (run / "vocab.json").write_text(text[: len(text) // 2])


def damage_config(run):
    (run / "config.json").write_text(json.dumps({"model": "gru5rec", "config": {}}))


def damage_model(run):
    config = presets.resolve(sets=["layers=4"])
    get_model("gru4rec", n_items=5, **presets.model_options(config)).save(run / "model.keras")


@pytest.mark.parametrize("damage, words", [
    (damage_vocab, "vocab.json: cannot read vocabulary"),
    (damage_config, "config.json is damaged: unknown model 'gru5rec'"),
    (damage_model, "the model has 5 items but vocab.json 3"),
    (lambda run: (run / "model.keras").write_bytes(b""), "model.keras cannot be loaded"),
    (lambda run: (run / "config.json").write_text("{"), "config.json is damaged"),
])
def test_a_damaged_run_directory_is_one_line(run_dir, tmp_path, capsys, damage, words):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    damage(broken)
    assert words in error_of(capsys, ["recommend", str(broken), "--items", "a"])
    assert words in error_of(capsys, ["export", str(broken), "--out", str(tmp_path / "export")])
    assert not (tmp_path / "export").exists()
    assert main(["recommend", str(run_dir), "--items", "a"]) in (0, None)
