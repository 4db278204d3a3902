import json

import numpy as np
import pandas as pd
import pytest

from zoo.datasets.batches import order_sessions, session_parallel_batches, user_parallel_batches
from zoo.datasets.pipeline import session_parallel_dataset
from zoo.datasets.vocab import Vocabulary

FIELDS = {"item": "items", "reset": "reset", "mask": "mask", "user": "users", "user_start": "user_start"}


@pytest.fixture
def events():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 7, 30)
    n = lengths.sum()
    return pd.DataFrame(
        {
            "SessionId": np.repeat(np.arange(30), lengths).astype(str),
            "ItemId": rng.integers(0, 40, n).astype(str),
            "Time": np.repeat(rng.permutation(30).astype(float), lengths) + np.arange(n) * 1e-3,
            "UserId": np.repeat(rng.integers(0, 5, 30), lengths),
        }
    )


def stacked(dataset):
    """The elements of one pass over `dataset`, stacked into [T, B] NumPy arrays."""
    features, targets = zip(*[(f, t) for f, t in dataset.as_numpy_iterator()])
    return {name: np.stack([f[name] for f in features]) for name in features[0]}, np.stack(targets)


def assert_same(dataset, batches):
    features, targets = stacked(dataset)
    np.testing.assert_array_equal(targets, batches.targets)
    expected = {name: getattr(batches, field) for name, field in FIELDS.items()}
    expected = {name: array for name, array in expected.items() if array is not None}
    assert features.keys() == expected.keys()
    for name, array in expected.items():
        assert features[name].dtype == array.dtype
        np.testing.assert_array_equal(features[name], array, err_msg=name)


@pytest.mark.parametrize("user_parallel", [False, True])
def test_dataset_yields_the_numpy_batches(events, user_parallel):
    order = order_sessions(events, Vocabulary.fit(events.ItemId), Vocabulary.fit(events.UserId))
    batches = (user_parallel_batches if user_parallel else session_parallel_batches)(order, 4)
    dataset = session_parallel_dataset(batches)
    features_spec, target_spec = dataset.element_spec
    assert target_spec.shape == (4,) and all(s.shape == (4,) for s in features_spec.values())
    for _ in range(2):  # re-iterable: the same steps every epoch
        assert_same(dataset, batches)


def test_bench_pipeline_command(events, tmp_path, capsys):
    from zoo.cli import main

    path = tmp_path / "events.tsv"
    events.drop(columns="UserId").to_csv(path, sep="\t", index=False)
    assert main(["bench", "pipeline", "--data", str(path), "--batch-size", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["events"] == len(events) and result["batch_size"] == 4
    assert result["batch_events_per_s"] > 0 and result["tfdata_events_per_s"] > 0 and result["load_s"] >= 0
