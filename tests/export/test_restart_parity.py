"""A run and its export agree after a process restart: a new process loads the run directory
(`zoo.runs.load_run`), the SavedModel (SignatureDefs in a TF1 session, as TF Serving) and the TFLite model,
and all three rank a few sessions as the model did in the process that trained it."""
import json
import subprocess
import sys

import numpy as np
import pytest

from export_fixtures import exported, log, pad, sessions  # noqa: F401 (fixtures)
from zoo import runs

AFTER_RESTART = """
import json, sys
import numpy as np
from zoo import runs
from zoo.export.servable import Servable
from zoo.export.tflite import interpreter

run_dir, export_dir, out = sys.argv[1:]
histories = json.load(open(out + ".json"))
run = runs.load_run(run_dir)
width = max(map(len, histories))
codes = np.array([list(run.vocab.encode(h)) + [-1] * (width - len(h)) for h in histories], np.int32)
saved = Servable(export_dir).predict("serving_default", {
    "item_ids": np.array([h + [""] * (width - len(h)) for h in histories], dtype=object), "k": np.int32(10)})
recommend = interpreter(export_dir + "/model.tflite").get_signature_runner("recommend")
lite = [recommend(item_ids=np.array([h], dtype=object)) for h in histories]
np.savez(out, keras=run.model(codes).numpy(), saved_ids=saved["item_ids"].astype(str), saved_scores=saved["scores"],
         lite_ids=np.array([a["item_ids"][0, :10] for a in lite]).astype(str),
         lite_scores=np.array([a["scores"][0, :10] for a in lite]))
"""


@pytest.fixture(scope="module")
def restarted(exported, log, tmp_path_factory):  # noqa: F811
    """(the run as trained, the histories, the answers of a new process), for GRU4Rec."""
    run, export_dir = exported("gru4rec")
    run_dir = tmp_path_factory.mktemp("run") / "run"
    runs.save_run(str(run_dir), run.model, run.vocab, run.info, [])
    histories = sessions(log, 8)
    out = str(run_dir.parent / "answers")
    with open(out + ".json", "w") as f:
        json.dump(histories, f)
    done = subprocess.run([sys.executable, "-c", AFTER_RESTART, str(run_dir), str(export_dir), out],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return run, histories, dict(np.load(out + ".npz"))


def top10(run, scores):
    return [list(run.vocab.decode(row)) for row in np.argsort(-scores, axis=1, kind="stable")[:, :10]]


def test_the_reloaded_run_scores_as_the_trained_model(restarted):
    run, histories, answers = restarted
    before = run.model(pad([list(run.vocab.encode(h)) for h in histories], -1).astype(np.int32)).numpy()
    np.testing.assert_allclose(answers["keras"], before, rtol=0, atol=1e-6)


@pytest.mark.parametrize("export, tolerance", [("saved", 1e-5), ("lite", 1e-4)])
def test_the_export_in_a_new_process_gives_the_runs_top10_and_scores(restarted, export, tolerance):
    run, _, answers = restarted
    scores = answers["keras"]
    expected = top10(run, scores)
    assert answers[f"{export}_ids"].tolist() == expected
    at_top = np.take_along_axis(scores, np.array([run.vocab.encode(row) for row in expected]), 1)
    np.testing.assert_allclose(answers[f"{export}_scores"], at_top, rtol=0, atol=tolerance)
