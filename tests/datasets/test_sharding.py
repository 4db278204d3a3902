"""Sharding a log by a stable hash of the session id, read a chunk at a time."""
import numpy as np
import pandas as pd
import pytest

from model_checks import chain_log
from zoo.datasets import sharding
from zoo.datasets.io import load_events, save_events
from zoo.datasets.vocab import Vocabulary
from zoo.errors import DataError


def test_the_shard_of_an_id_is_crc32_of_its_text_and_never_changes():
    # fixed values: a change of the hash would silently re-shard every cluster's logs
    ids = ["1", "2", "abc", "ü-ß", "007", "214"]
    np.testing.assert_array_equal(sharding.shard_of(ids, 3), [2, 1, 0, 1, 2, 0])
    np.testing.assert_array_equal(sharding.shard_of(ids, 2), [1, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(sharding.shard_of([214, "214"], 3), [0, 0])  # ids compare by their text
    assert (sharding.shard_of(ids, 1) == 0).all()


@pytest.fixture
def log(tmp_path):
    events = chain_log(n_sessions=50)
    events.loc[events.index % 7 == 0, "Time"] += 0.5
    path = tmp_path / "log.tsv"
    save_events(events, path)
    return path


@pytest.mark.parametrize("suffix", [".tsv", ".parquet", ".csv.gz"])
def test_shards_partition_the_sessions_whole_in_file_order(log, tmp_path, suffix):
    whole = load_events(log)
    path = tmp_path / f"copy{suffix}"
    save_events(whole, path)
    shards = [sharding.load_shard(path, k, 3, chunk_rows=17) for k in range(3)]  # chunks cut sessions
    assert sum(len(s) for s in shards) == len(whole)
    for k, shard in enumerate(shards):
        expected = whole[sharding.shard_of(whole.SessionId, 3) == k].reset_index(drop=True)
        pd.testing.assert_frame_equal(shard, expected)
    assert all(len(s) for s in shards)


def test_item_counts_read_by_chunks_equal_the_whole_logs(log):
    whole = load_events(log)
    vocab, counts = sharding.item_counts(log, chunk_rows=13)
    assert vocab == Vocabulary.fit(whole.ItemId)
    np.testing.assert_array_equal(counts, np.bincount(vocab.encode(whole.ItemId), minlength=len(vocab)))


def test_errors_name_the_file_row_and_column(tmp_path):
    path = tmp_path / "bad.tsv"
    rows = [f"{s}\t{i}\t{10 + i}" for s in range(5) for i in range(3)]
    rows[11] = "3\t\t21"  # data row 12: no item
    path.write_text("SessionId\tItemId\tTime\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"row 12, column 'ItemId': missing value"):
        sharding.load_shard(path, 0, 2, chunk_rows=4)
    with pytest.raises(DataError, match=r"row 12, column 'ItemId'"):
        sharding.item_counts(path, chunk_rows=4)
    with pytest.raises(DataError, match="missing column"):
        sharding.load_shard(path, 0, 2, item_key="Item")
