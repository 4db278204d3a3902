"""Event logs on disk: load a CSV/TSV/Parquet file into the canonical frame, and save one back.

The canonical frame has the columns `SessionId`, `ItemId` and `Time`, plus `UserId` for logs with
user ids. Ids are strings, kept exactly as written in the file ("007" stays "007"; integer ids of a
Parquet file become their decimal text). `Time` is float64 Unix seconds: numbers are taken as
seconds as they are, text is parsed as ISO 8601 (`2014-04-07T10:51:09.277Z`, `2016-05-09`; no offset
means UTC). Milliseconds are not guessed: a numeric time after the year 5000 as seconds is refused
with a message saying to divide by 1000. A session id names one session of one user: a log with user
ids where two users share a session id is refused (sessions are keyed by their id alone; the zoo will
not silently merge them nor silently re-key them).

An id may hold any characters (spaces, commas or tabs inside quotes, any Unicode) up to
`MAX_ID_LENGTH` of them; an empty id is a missing value. Both are errors.

Every problem with a file raises `zoo.errors.DataError` with a one-line message naming the file and,
where one is at fault, the data row (1-based, counted after the header) and the column.
"""
import os
import re

import numpy as np
import pandas as pd

from zoo.atomic import atomic_path
from zoo.errors import DataError

SESSION, ITEM, TIME, USER = "SessionId", "ItemId", "Time", "UserId"
CANONICAL = (SESSION, ITEM, TIME, USER)
SEPARATORS = {".csv": ",", ".tsv": "\t", ".txt": "\t", ".dat": "\t"}
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zip")
_EPOCH = pd.Timestamp(0, tz="UTC")
MAX_ID_LENGTH = 1000  # characters; a longer id is almost surely a broken line or a wrong column
LATEST_SECONDS = 95_617_584_000  # 5000-01-01 as Unix seconds; later numeric times are taken for milliseconds


def load_events(path, session_key=SESSION, item_key=ITEM, time_key=TIME, user_key=None, sep=None):
    """Loads an event log into the canonical frame, in file order.

    Args:
        path: a `.csv` (comma), `.tsv`/`.txt`/`.dat` (tab) or `.parquet` file, optionally compressed
            (`.csv.gz`, ...). For other extensions the separator is taken from the header line (the
            first of tab, comma, semicolon that occurs in it) unless `sep` is given.
        session_key: the column of session ids. It may be absent when the log has user ids: the
            frame then has no `SessionId` and `prep.sessionize` makes sessions from the time gaps.
        item_key: the column of item ids.
        time_key: the column of timestamps (Unix seconds or ISO 8601 text).
        user_key: the column of user ids; when None, a column named `UserId` is used if present.
        sep: the field separator of a text file, overriding the one implied by the extension.

    Returns:
        A DataFrame with `SessionId` (unless absent, see above), `ItemId`, `Time` and, with user
        ids, `UserId`.

    Raises:
        DataError: the file is missing, unreadable, malformed or empty, a column is missing, or an
            id or a time is missing or unparsable.
    """
    path = os.fspath(path)
    raw = _read_parquet(path) if _format(path) == ".parquet" else _read_text(path, sep)
    if raw.empty:
        raise DataError(f"{path}: no events (the file has a header but no data rows)")
    keys = _keys(raw.columns, path, session_key, item_key, time_key, user_key)
    frame = to_canonical(raw, path, keys)
    _check_time_unit(frame, path, keys[TIME])  # the readers of `readers` know their own units
    return frame


def save_events(df, path):
    """Writes a frame as CSV, TSV or Parquet (by the extension of `path`), atomically.

    Text files get a header and no index; compression follows the extension (`.tsv.gz`).

    Raises:
        DataError: the extension is not one of .csv, .tsv, .txt, .dat, .parquet, or the file cannot
            be written.
    """
    path = os.fspath(path)
    fmt = _format(path)
    if fmt not in SEPARATORS and fmt != ".parquet":
        raise DataError(f"{path}: cannot tell the format from the extension; use .tsv, .csv or .parquet")
    try:
        with atomic_path(path) as tmp:
            if fmt == ".parquet":
                df.to_parquet(tmp, index=False)
            else:
                df.to_csv(tmp, sep=SEPARATORS[fmt], index=False)
    except OSError as e:
        raise DataError(f"{path}: cannot write the file: {e.strerror or _one_line(e)}") from None


def read_table(path, header=True, **read_csv_args):
    """Reads a text table with every field as a string, turning pandas' errors into `DataError`.

    Only empty fields count as missing ("NA" or "null" are ids like any other). Blank lines are kept
    (as rows of missing values) so that row numbers in messages match the file.

    Args:
        path: the file.
        header: whether the first line names the columns.
        **read_csv_args: passed to `pandas.read_csv` (`sep`, `names`, `usecols`, ...).
    """
    try:
        return pd.read_csv(
            path,
            header=0 if header else None,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            **read_csv_args,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as e:
        raise DataError(f"{path}: malformed table: {_parser_message(e, int(header))}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text{_undecodable_line(path)}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the file: {e.strerror or e}") from None


def to_canonical(raw, path, keys):
    """Validates and converts the columns of `raw` into the canonical frame.

    Args:
        raw: the table as read, one row per event; its index label i is data row i + 1 of the file
            (as `read_table` numbers them), also after rows were filtered out.
        path: the file name, for messages.
        keys: canonical name -> column of `raw`, for the canonical columns to produce.

    Raises:
        DataError: naming the first row with a missing id or a missing or unparsable time.
    """
    out = {}
    for name, column in keys.items():
        out[name] = parse_time(raw[column], path, column) if name == TIME else _ids(raw[column], path, column)
    frame = pd.DataFrame(out, columns=[name for name in CANONICAL if name in out])
    _check_sessions_of_one_user(frame, path, keys)
    return frame.reset_index(drop=True)


def _check_time_unit(frame, path, column):
    """Refuses numeric times that are not Unix seconds: beyond year 5000 as seconds, they are
    milliseconds (or finer), which read as seconds would silently break time gaps and time splits."""
    if column is None or frame.empty:
        return
    late = frame[TIME].to_numpy() > LATEST_SECONDS
    if late.any():
        latest = frame[TIME].iloc[late.argmax()]
        raise DataError(f"{path}: row {_row(frame[TIME], late)}, column {column!r}: time {latest:.0f} is after the "
                        "year 5000 as Unix "
                        "seconds (milliseconds?); the zoo reads numeric times as seconds: divide them by 1000")


def _check_sessions_of_one_user(frame, path, keys):
    """Refuses a session id that several users use: sessions are keyed by their id alone, so their
    events would silently merge into one session."""
    if SESSION not in frame or USER not in frame:
        return
    pairs = frame[[SESSION, USER]].drop_duplicates()
    shared = pairs[pairs[SESSION].duplicated(keep=False)]
    if not shared.empty:
        session = shared[SESSION].iloc[0]
        users = shared[USER][shared[SESSION] == session].tolist()
        others = f" (and {shared[SESSION].nunique() - 1} more)" if shared[SESSION].nunique() > 1 else ""
        raise DataError(f"{path}, column {keys[SESSION]!r}: session id {session!r}{others} is used by users "
                        f"{', '.join(map(repr, users[:3]))}; session ids must be unique across users (sessions "
                        "are keyed by their id alone): make them unique, e.g. join the user id and the session id")


def _format(path):
    """The lower-case extension that decides the format, compression suffixes stripped."""
    root, ext = os.path.splitext(path.lower())
    return os.path.splitext(root)[1] if ext in COMPRESSIONS else ext


def _read_parquet(path):
    import pyarrow

    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise DataError(f"{path}: cannot read the file: no such file") from None
    except (OSError, pyarrow.ArrowException) as e:
        raise DataError(f"{path}: cannot read the Parquet file: {_one_line(e)}") from None


def _read_text(path, sep):
    sep = sep or SEPARATORS.get(_format(path)) or _sniff(path)
    return read_table(path, sep=sep)


def first_line(path):
    """The first line of a text file.

    Raises:
        DataError: the file cannot be read as UTF-8 text.
    """
    try:
        with open(path, newline="") as f:
            return f.readline()
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or _one_line(e)
        raise DataError(f"{path}: cannot read the file: {reason}") from None


def _sniff(path):
    """The separator of a text file of unknown extension: the first of tab, comma, semicolon in line 1."""
    header = first_line(path)
    for sep in ("\t", ",", ";"):
        if sep in header:
            return sep
    raise DataError(f"{path}: cannot tell the field separator from the header; pass --sep")


def _keys(columns, path, session_key, item_key, time_key, user_key):
    """Canonical name -> file column, checking that the required columns exist."""
    columns = list(columns)
    if user_key is None and USER in columns:
        user_key = USER
    keys = {SESSION: session_key, ITEM: item_key, TIME: time_key, USER: user_key}
    if user_key is None:
        del keys[USER]
    if session_key not in columns and user_key is not None:
        del keys[SESSION]
    hint = "name them with --session-key, --item-key, --time-key, --user-key"
    check_columns(path, columns, keys.values(), hint)
    return keys


def check_columns(path, present, needed, hint):
    """Raises a DataError listing the `needed` columns absent from `present`, and those present."""
    missing = [column for column in needed if column not in present]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; the file has "
            f"{', '.join(map(repr, present))} ({hint})"
        )


def _check_present(values, path, column):
    missing = values.isna().to_numpy()
    if missing.any():
        raise DataError(f"{path}: row {_row(values, missing)}, column {column!r}: missing value")


def _row(values, bad):
    """The 1-based data row of the first True in `bad` (from the index labels of `values`)."""
    return values.index[bad.argmax()] + 1


def _ids(values, path, column):
    _check_present(values, path, column)
    ids = values if values.dtype == "str" else values.astype("str")
    lengths = ids.str.len().to_numpy()
    if lengths.max() > MAX_ID_LENGTH:
        raise DataError(f"{path}: row {_row(ids, lengths > MAX_ID_LENGTH)}, column {column!r}: an id of "
                        f"{lengths.max()} characters (at most {MAX_ID_LENGTH})")
    return ids


def _undecodable_line(path):
    """" at line N" for the first line of a plain file that is not UTF-8 ("" for a compressed file)."""
    if path.lower().endswith(COMPRESSIONS):
        return ""
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            try:
                line.decode()
            except UnicodeDecodeError:
                return f" at line {number}"
    return ""


def parse_time(values, path, column):
    """Float64 Unix seconds from numbers, datetimes or text (numbers or ISO 8601).

    Raises:
        DataError: naming the first row whose time is missing or unparsable.
    """
    _check_present(values, path, column)
    if pd.api.types.is_datetime64_any_dtype(values):
        return _seconds(values.dt.tz_localize("UTC") if values.dt.tz is None else values)
    if pd.api.types.is_numeric_dtype(values):
        seconds = values.astype("float64")
    elif pd.notna(pd.to_numeric(values.iloc[:1], errors="coerce").iloc[0]):
        seconds = pd.to_numeric(values, errors="coerce").astype("float64")
    else:
        seconds = _seconds(pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce"))
    bad = ~np.isfinite(seconds.to_numpy())
    if bad.any():
        value = values.iloc[bad.argmax()]
        raise DataError(
            f"{path}: row {_row(values, bad)}, column {column!r}: cannot read time {value!r} "
            "(expected Unix seconds or an ISO 8601 date)"
        )
    return seconds


def _seconds(datetimes):
    return (datetimes - _EPOCH) / pd.Timedelta(seconds=1)


def _parser_message(error, header_lines):
    """pandas' tokenizer message, made one line, with the data row beside the file line."""
    text = _one_line(error).replace("Error tokenizing data. C error: ", "")
    if match := re.search(r"line (\d+)", text):
        return f"{text} (data row {int(match.group(1)) - header_lines})"
    if match := re.search(r"EOF inside string starting at row (\d+)", text):  # rows count from 0, header too
        return f"a quote is never closed (data row {int(match.group(1)) + 1 - header_lines})"
    return text


def _one_line(error):
    return " ".join(str(error).split())

