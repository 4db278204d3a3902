"""The exported `encode` signature as the query tower of a TensorFlow Recommenders brute-force index.

TFRS imports only with TF_USE_LEGACY_KERAS=1 set before TensorFlow (then `tf.keras` is Keras 2 for
the whole process), so the check runs in a subprocess; the zoo itself never imports TFRS.
"""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from export_fixtures import exported, log, sessions  # noqa: F401 (fixtures)

SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

out, histories = sys.argv[1], json.loads(sys.argv[2])
ids = [str(i) for i in json.load(open(out + "/vocab.json"))["ids"]]
items = np.hstack([np.load(out + "/item_vectors.npy"), np.load(out + "/item_bias.npy")[:, None]])
loaded = tf.saved_model.load(out + "/saved_model/1")
encode, recommend = loaded.signatures["encode"], loaded.signatures["serving_default"]


class QueryTower(tf.keras.Model):
    def call(self, item_ids):
        return encode(item_ids=item_ids)["query_vector"]


index = tfrs.layers.factorized_top_k.BruteForce(QueryTower(), k=10)
index.index(tf.constant(items), tf.constant(ids))
width = max(map(len, histories))
padded = tf.constant([h + [""] * (width - len(h)) for h in histories])
scores, top = index(padded)
served = recommend(item_ids=padded, k=tf.constant(10), exclude_history=tf.constant(False))
print(json.dumps({"keras": tf.keras.__name__, "index": top.numpy().astype(str).tolist(),
                  "index_scores": scores.numpy().tolist(), "served": served["item_ids"].numpy().astype(str).tolist(),
                  "served_scores": served["scores"].numpy().tolist()}))
"""


IMPORT_ALL = r"""
import importlib, pkgutil, sys
for root in ("zoo", "zoo.datasets", "zoo.export"):
    package = importlib.import_module(root)
    for module in pkgutil.walk_packages(package.__path__, root + "."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
print("tensorflow_recommenders" in sys.modules)
"""


def test_zoo_does_not_import_tfrs(tmp_path):
    # Every module of the zoo, imported in a fresh interpreter with a stand-in `tensorflow_recommenders`
    # first on the path: importing it leaves a mark (and then fails, which a `try: import` would hide).
    stand_in = tmp_path / "tensorflow_recommenders"
    stand_in.mkdir()
    mark = tmp_path / "imported"
    (stand_in / "__init__.py").write_text(f"open({str(mark)!r}, 'w').close()\nraise ImportError('stand-in')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", IMPORT_ALL], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "False" and not mark.exists(), "the zoo imported tensorflow_recommenders"


@pytest.mark.skipif(importlib.util.find_spec("tensorflow_recommenders") is None,
                    reason="tensorflow-recommenders is not installed (pip install -e '.[test]')")
def test_encode_is_a_tfrs_query_tower(exported, log):  # noqa: F811
    import numpy as np

    _, out = exported("gru4rec")
    histories = sessions(log, 8)
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(out), json.dumps(histories)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["keras"].startswith("tf_keras")
    assert answer["index"] == answer["served"]
    np.testing.assert_allclose(answer["index_scores"], answer["served_scores"], rtol=1e-5, atol=1e-5)
