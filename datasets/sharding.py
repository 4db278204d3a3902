"""Sharding an event log over workers by a stable hash of the session id, read a chunk at a time.

For multi-worker training on logs that no worker should hold whole (`zoo train --shard sessions`,
`zoo.training.distributed`): worker k of N keeps the sessions whose id hashes to k,

    shard(id) = crc32(UTF-8 bytes of the id's text) mod N

the same on every machine, every run and every file format (ids are compared by their text, as
everywhere in the zoo: the int 214 of a Parquet file and "214" of a TSV are one session). A session
never straddles two shards, so every (input, target) pair stays whole.

`load_shard` reads the log in chunks (Parquet: `pyarrow` record batches of the needed columns; text:
pandas' chunked reader) and keeps only its shard's rows, so a worker holds its shard and one chunk,
never the whole log. Every chunk is checked as `zoo.datasets.io.load_events` checks a whole file (the
same one-line errors naming the row). It still reads every row: a hash of the session id cannot be
pushed down into a Parquet scan (the rows of a shard sit in every row group).

`item_counts` reads the item column alone, a chunk at a time, for what every worker must agree on:
the item vocabulary (`Vocabulary.fit`'s sorted order depends on the set of ids only, so it equals the
one-worker vocabulary) and each item's training count (the popularity behind the negative sampling
and logQ).
"""
import os
import zlib

import numpy as np
import pandas as pd

from zoo.errors import DataError

from .io import (
    ITEM,
    SEPARATORS,
    SESSION,
    TIME,
    _format,
    _keys,
    _one_line,
    _parser_message,
    _sniff,
    check_columns,
    read_table,
    to_canonical,
)
from .vocab import Vocabulary

CHUNK_ROWS = 1_000_000


def shard_of(ids, n_shards):
    """The shard (0..n_shards-1) of every id: crc32 of its text, modulo `n_shards`; int64 [len(ids)]."""
    if n_shards < 1:
        raise ValueError(f"n_shards must be >= 1, got {n_shards}")
    codes, uniques = pd.factorize(pd.Series(ids, dtype=object).astype(str))  # hash each distinct id once
    hashes = np.fromiter((zlib.crc32(u.encode("utf-8")) for u in uniques), dtype=np.int64, count=len(uniques))
    return (hashes % n_shards)[codes]


def load_shard(path, shard, n_shards, session_key=SESSION, item_key=ITEM, time_key=TIME, user_key=None, sep=None,
               chunk_rows=CHUNK_ROWS):
    """The canonical event frame of the sessions of `path` in shard `shard` of `n_shards`, in file order.

    Arguments as `zoo.datasets.io.load_events` (a session column is required here). Reads `chunk_rows`
    rows at a time and keeps only the shard's.

    Raises:
        DataError: as `load_events` (file, row and column named), or the log has no session column.
    """
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard must be in 0..{n_shards - 1}, got {shard}")
    kept = []
    for raw, keys in _chunks(path, sep, chunk_rows, session_key, item_key, time_key, user_key):
        if SESSION not in keys:
            raise DataError(f"{path}: sharding by session needs a session column ({session_key!r})")
        frame = to_canonical(raw, path, keys)
        kept.append(frame[shard_of(frame[SESSION], n_shards) == shard])
    if not kept:
        raise DataError(f"{path}: no events (the file has a header but no data rows)")
    return pd.concat(kept, ignore_index=True)


def item_counts(path, item_key=ITEM, sep=None, chunk_rows=CHUNK_ROWS):
    """The item vocabulary of the whole log at `path` and every item's event count, reading the item
    column alone a chunk at a time: `(Vocabulary, int64 counts [n_items])`, equal to
    `Vocabulary.fit(events.ItemId)` and `zoo.training.item_counts` of the whole frame.
    """
    counts = None
    for raw, keys in _chunks(path, sep, chunk_rows, None, item_key, None, None):
        chunk = to_canonical(raw, path, keys)[ITEM].value_counts(sort=False)
        counts = chunk if counts is None else counts.add(chunk, fill_value=0)
    if counts is None:
        raise DataError(f"{path}: no events (the file has a header but no data rows)")
    vocab = Vocabulary.fit(counts.index.to_numpy())
    out = np.zeros(len(vocab), dtype=np.int64)
    out[vocab.encode(counts.index.to_numpy())] = counts.to_numpy(np.int64)
    return vocab, out


def _chunks(path, sep, chunk_rows, session_key, item_key, time_key, user_key):
    """Yields (raw chunk, canonical name -> column) over the file; a chunk's index labels are its rows'
    0-based data row numbers, as `to_canonical` expects. None keys are not read."""
    path = os.fspath(path)
    if _format(path) == ".parquet":
        yield from _parquet_chunks(path, chunk_rows, session_key, item_key, time_key, user_key)
        return
    sep = sep or SEPARATORS.get(_format(path)) or _sniff(path)
    header = list(read_table(path, sep=sep, nrows=0).columns)
    keys = _wanted_keys(header, path, session_key, item_key, time_key, user_key)
    reader = read_table(path, sep=sep, usecols=list(keys.values()), chunksize=chunk_rows)
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            return
        except pd.errors.ParserError as e:
            raise DataError(f"{path}: malformed table: {_parser_message(e, 1)}") from None
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text") from None
        yield raw, keys


def _parquet_chunks(path, chunk_rows, session_key, item_key, time_key, user_key):
    import pyarrow
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
        keys = _wanted_keys(table.schema_arrow.names, path, session_key, item_key, time_key, user_key)
        offset = 0
        for batch in table.iter_batches(batch_size=chunk_rows, columns=list(dict.fromkeys(keys.values()))):
            raw = batch.to_pandas()
            raw.index = pd.RangeIndex(offset, offset + len(raw))
            offset += len(raw)
            yield raw, keys
    except FileNotFoundError:
        raise DataError(f"{path}: cannot read the file: no such file") from None
    except (OSError, pyarrow.ArrowException) as e:
        raise DataError(f"{path}: cannot read the Parquet file: {_one_line(e)}") from None


def _wanted_keys(columns, path, session_key, item_key, time_key, user_key):
    """Canonical name -> column for the keys asked for (None: not read), checked as `load_events` does."""
    if session_key is None:  # the item column alone
        check_columns(path, columns, [item_key], "name it with --item-key")
        return {ITEM: item_key}
    return _keys(columns, path, session_key, item_key, time_key, user_key)
