"""Loading and saving event logs: formats, ids kept as given, times, and one-line errors."""
import gzip

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.datasets.io import load_events, save_events
from zoo.errors import DataError

HEADER = "SessionId\tItemId\tTime\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_tsv_keeps_ids_as_written_and_times_as_float_seconds(tmp_path):
    path = write(tmp_path, "log.tsv", HEADER + "01\t007\t10\n2\t7\t11.5\n")
    events = load_events(path)
    assert list(events.columns) == ["SessionId", "ItemId", "Time"]
    assert events["SessionId"].tolist() == ["01", "2"]
    assert events["ItemId"].tolist() == ["007", "7"]
    assert events["Time"].dtype == np.float64
    assert events["Time"].tolist() == [10.0, 11.5]


def test_csv_with_other_column_names_and_user_ids(tmp_path):
    path = write(tmp_path, "log.csv", "user,sess,item,ts,extra\nu1,s1,a,5,x\nu2,s2,b,6,y\n")
    events = load_events(path, session_key="sess", item_key="item", time_key="ts", user_key="user")
    assert list(events.columns) == ["SessionId", "ItemId", "Time", "UserId"]
    assert events["UserId"].tolist() == ["u1", "u2"]


def test_user_id_column_by_default_and_sessions_absent(tmp_path):
    path = write(tmp_path, "log.tsv", "UserId\tItemId\tTime\nu1\ta\t5\n")
    events = load_events(path)
    assert list(events.columns) == ["ItemId", "Time", "UserId"]


def test_iso_8601_times_become_unix_seconds(tmp_path):
    times = ["2014-04-07T10:51:09.277Z", "2016-05-09", "2016-05-09T02:00:00+02:00"]
    text = HEADER + "".join(f"1\ta\t{time}\n" for time in times)
    events = load_events(write(tmp_path, "log.tsv", text))
    assert events["Time"].tolist() == pytest.approx([1396867869.277, 1462752000.0, 1462752000.0])


def test_milliseconds_are_refused_not_guessed(tmp_path):
    """A numeric time after the year 5000 as seconds is refused (milliseconds read as seconds would
    silently break sessionizing gaps and time splits); the year 4999 is still read as seconds."""
    path = write(tmp_path, "log.tsv", HEADER + "1\ta\t1433221332\n1\tb\t1433221332117\n")
    with pytest.raises(DataError, match=r"log.tsv: row 2, column 'Time': time 1433221332117 is after the year 5000 .*"
                                        r"divide them by 1000"):
        load_events(path)
    assert load_events(write(tmp_path, "ok.tsv", HEADER + "1\ta\t95617583999\n"))["Time"].tolist() == [95617583999.0]


def test_a_session_id_shared_by_two_users_is_refused(tmp_path):
    """Two users who both number their sessions 1 and 2 would be merged into two sessions."""
    rows = "".join(f"{s}\t{u}{i}\t{t}\t{u}\n" for u in ("u1", "u2") for s in ("1", "2") for i, t in ((0, 1), (1, 2)))
    path = write(tmp_path, "shared.tsv", "SessionId\tItemId\tTime\tUserId\n" + rows)
    with pytest.raises(DataError, match=r"shared.tsv, column 'SessionId': session id '1' \(and 1 more\) is used by "
                                        r"users 'u1', 'u2'; session ids must be unique across users"):
        load_events(path)
    joined = "".join(f"{u}-{s}\t{u}{i}\t{t}\t{u}\n" for u in ("u1", "u2") for s in ("1", "2") for i, t in ((0, 1), (1, 2)))
    events = load_events(write(tmp_path, "joined.tsv", "SessionId\tItemId\tTime\tUserId\n" + joined))
    assert events.SessionId.nunique() == 4 and len(events) == 8  # the fix the message proposes


def test_separator_option_extension_sniffing_and_compression(tmp_path):
    assert len(load_events(write(tmp_path, "log.txt", "SessionId;ItemId;Time\n1;a;1\n"), sep=";")) == 1
    assert len(load_events(write(tmp_path, "log.inter", "SessionId;ItemId;Time\n1;a;1\n"))) == 1
    gz = tmp_path / "log.csv.gz"
    with gzip.open(gz, "wt") as f:
        f.write("SessionId,ItemId,Time\n1,a,1\n")
    assert load_events(gz)["ItemId"].tolist() == ["a"]


def test_parquet_integer_ids_become_text_and_datetimes_seconds(tmp_path):
    path = tmp_path / "log.parquet"
    pd.DataFrame(
        {"SessionId": [1, 2], "ItemId": [7, 8], "Time": pd.to_datetime(["1970-01-01 00:00:10", "1970-01-02 00:00:00"])}
    ).to_parquet(path)
    events = load_events(path)
    assert events["ItemId"].tolist() == ["7", "8"]
    assert events["Time"].tolist() == [10.0, 86400.0]


# Any printable Unicode (emoji, combining marks, right-to-left, spaces at either end), the separators and
# quotes of the text formats, tab and newline: ids come back exactly as written.
ids = st.text(st.one_of(st.characters(blacklist_categories=("Cs", "Cc")), st.sampled_from("\t\n,;\"' 07")),
              min_size=1, max_size=6)
frames = st.lists(
    st.tuples(ids, ids, st.integers(0, 2_000_000_000_000).map(lambda ms: ms / 1000), ids), min_size=1, max_size=8
).map(lambda rows: pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time", "UserId"])).map(
    lambda f: f.assign(SessionId=f.UserId + "|" + f.SessionId))  # a session id names one user's session


@pytest.mark.parametrize("name", ["log.csv", "log.tsv", "log.parquet"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frames)
def test_save_then_load_round_trips(tmp_path, name, frame):
    save_events(frame, tmp_path / name)
    loaded = load_events(tmp_path / name)
    assert loaded.astype(object).values.tolist() == frame.astype(object).values.tolist()


def test_save_is_atomic(tmp_path):
    path = tmp_path / "log.parquet"
    path.write_bytes(b"old")
    with pytest.raises(Exception):
        save_events(pd.DataFrame({"ItemId": [1, "a"]}), path)  # pyarrow cannot write mixed types
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["log.parquet"]
    with pytest.raises(DataError, match="extension"):
        save_events(pd.DataFrame({"a": [1]}), tmp_path / "log.xlsx")


ERRORS = [
    ("log.tsv", None, "cannot read the file"),
    ("log.tsv", "", "the file is empty"),
    ("log.tsv", HEADER, "no events"),
    ("log.tsv", "SessionId\tItem\tTime\n1\ta\t1\n", "missing column(s) 'ItemId'; the file has 'SessionId', 'Item'"),
    ("log.tsv", HEADER + "1\ta\t1\n2\t\t3\n", "row 2, column 'ItemId': missing value"),
    ("log.tsv", HEADER + "1\ta\t1\n\n", "row 2, column 'SessionId': missing value"),
    ("log.tsv", HEADER + "1\ta\t1\n1\tb\t\n", "row 2, column 'Time': missing value"),
    ("log.tsv", HEADER + "1\ta\t1\n1\tb\t2\n1\tc\tyesterday\n", "row 3, column 'Time': cannot read time 'yesterday'"),
    ("log.tsv", HEADER + "1\ta\t2014-04-07\n1\tb\t7\n", "row 2, column 'Time': cannot read time '7'"),
    ("log.tsv", HEADER + "1\ta\tinf\n", "row 1, column 'Time'"),
    ("log.csv", "SessionId,ItemId,Time\n1,a,1\n1,b,2,3\n", "line 3, saw 4 (data row 2)"),
    ("log.parquet", "not parquet", "cannot read the Parquet file"),
    ("log.inter", "SessionId ItemId Time\n", "cannot tell the field separator"),
]


@pytest.mark.parametrize("name, text, message", ERRORS)
def test_errors_are_one_line_and_name_file_row_and_column(tmp_path, name, text, message):
    path = tmp_path / name if text is None else write(tmp_path, name, text)
    with pytest.raises(DataError) as error:
        load_events(path)
    assert message in str(error.value)
    assert str(error.value).startswith(str(path))
    assert "\n" not in str(error.value)
