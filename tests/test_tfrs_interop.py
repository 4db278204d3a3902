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


def test_zoo_does_not_import_tfrs():
    import zoo.cli.export  # noqa: F401
    import zoo.export.exporter  # noqa: F401
    import zoo.export.server  # noqa: F401

    assert "tensorflow_recommenders" not in sys.modules


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
