"""Readers of the original files of public datasets, on tiny files in each format."""
import pytest

from zoo.datasets.readers import (
    SOURCES,
    read_diginetica,
    read_lastfm1k,
    read_movielens,
    read_retailrocket,
    read_rsc15,
    read_user_sequences,
)
from zoo.errors import ConfigError, DataError


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_rsc15_clicks(tmp_path):
    path = write(
        tmp_path,
        "yoochoose-clicks.dat",
        "1,2014-04-07T10:51:09.277Z,214536502,0\n1,2014-04-07T10:54:09.868Z,214536500,S\n"
        "2,2014-04-07T13:56:37.614Z,214662742,2053\n",
    )
    events = read_rsc15(path)
    assert events["SessionId"].tolist() == ["1", "1", "2"]
    assert events["ItemId"].tolist() == ["214536502", "214536500", "214662742"]
    assert events["Time"].tolist() == pytest.approx([1396867869.277, 1396868049.868, 1396878997.614])


def test_rsc15_bad_time_names_the_line(tmp_path):
    path = write(tmp_path, "yoochoose-clicks.dat", "1,2014-04-07T10:51:09.277Z,1,0\n2,never,2,0\n")
    with pytest.raises(DataError, match="row 2, column 'time': cannot read time 'never'"):
        read_rsc15(path)


RETAILROCKET = (
    "timestamp,visitorid,event,itemid,transactionid\n"
    "1433221332117,257597,view,355908,\n"
    "1433224214164,992329,addtocart,248676,\n"
    "1433221999827,111016,transaction,318965,4000\n"
    "1433222000000,111016,view,5,\n"
)


def test_retailrocket_keeps_views_by_default_with_ms_times_in_seconds(tmp_path):
    path = write(tmp_path, "events.csv", RETAILROCKET)
    views = read_retailrocket(path)
    assert list(views.columns) == ["ItemId", "Time", "UserId"]
    assert views["ItemId"].tolist() == ["355908", "5"]
    assert views["UserId"].tolist() == ["257597", "111016"]
    assert views["Time"].tolist() == pytest.approx([1433221332.117, 1433222000.0])
    assert len(read_retailrocket(path, events=None)) == 4
    assert read_retailrocket(path, events=("transaction",))["ItemId"].tolist() == ["318965"]


def test_retailrocket_errors_give_the_row_of_the_file_after_filtering(tmp_path):
    path = write(tmp_path, "events.csv", RETAILROCKET + "1433222000001,7,view,,\n")
    with pytest.raises(DataError, match="row 5, column 'itemid': missing value"):
        read_retailrocket(path)
    with pytest.raises(DataError, match="missing column"):
        read_retailrocket(write(tmp_path, "other.csv", "a,b\n1,2\n"))


def test_diginetica_time_is_date_plus_timeframe(tmp_path):
    path = write(
        tmp_path,
        "train-item-views.csv",
        "sessionId;userId;itemId;timeframe;eventdate\n1;NA;81766;526309;2016-05-09\n1;;31331;1031018;2016-05-09\n"
        "2;5;32118;243569;2016-05-10\n",
    )
    events = read_diginetica(path)
    assert list(events.columns) == ["SessionId", "ItemId", "Time"]
    assert events["ItemId"].tolist() == ["81766", "31331", "32118"]
    assert events["Time"].tolist() == pytest.approx([1462752526.309, 1462753031.018, 1462838643.569])


@pytest.mark.parametrize(
    "name, text",
    [
        ("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n2::1357::5::978298709\n"),
        ("u.data", "1\t1193\t5\t978300760\n1\t661\t3\t978302109\n2\t1357\t5\t978298709\n"),
    ],
)
def test_movielens_ratings_dat_and_u_data(tmp_path, name, text):
    events = read_movielens(write(tmp_path, name, text))
    assert list(events.columns) == ["ItemId", "Time", "UserId"]
    assert events["ItemId"].tolist() == ["1193", "661", "1357"]
    assert events["UserId"].tolist() == ["1", "1", "2"]
    assert events["Time"].tolist() == [978300760.0, 978302109.0, 978298709.0]


LASTFM = (
    "user_000001\t2009-05-04T23:08:57Z\tf1b1cf71-bd35-4e99-8624-24a6e15f133a\tDeep Dish\t\tFuck Me Im Famous\n"
    'user_000001\t2009-05-04T13:54:10Z\ta7f7df4a-77d8-4f12-8acd-5c60c93f4de8\t坂本龍一\t'
    'f7c1f8f8-b935-45ed-8fc8-7def69d92a10\tThe Last Emperor "Theme\n'
    "user_000002\t2009-05-04T13:00:00Z\t\tUnknown\t0a6a4fb1-0000-4000-8000-000000000001\tSong\n"
)


def test_lastfm_tracks_or_artists_dropping_plays_without_an_id(tmp_path):
    path = write(tmp_path, "userid-timestamp-artid-artname-traid-traname.tsv", LASTFM)
    tracks = read_lastfm1k(path)
    assert tracks["ItemId"].str[:8].tolist() == ["f7c1f8f8", "0a6a4fb1"]
    assert tracks["UserId"].tolist() == ["user_000001", "user_000002"]
    assert tracks["Time"].tolist() == [1241445250.0, 1241442000.0]
    artists = read_lastfm1k(path, item="artist")
    assert artists["ItemId"].str[:8].tolist() == ["f1b1cf71", "a7f7df4a"]
    with pytest.raises(ConfigError):
        read_lastfm1k(path, item="album")


def test_every_source_has_a_reader_and_a_download_or_instructions():
    for name, source in SOURCES.items():
        assert callable(source.reader), name
        assert (source.url is None) != (source.manual is None), name


def test_user_sequences_one_session_per_user_in_line_order(tmp_path):
    events = read_user_sequences(write(tmp_path, "LastFM.txt", "7 3 1 3\n\n8 5\n9\n"))
    assert events.columns.tolist() == ["SessionId", "ItemId", "Time", "UserId"]
    assert events["UserId"].tolist() == events["SessionId"].tolist() == ["7", "7", "7", "8"]
    assert events["ItemId"].tolist() == ["3", "1", "3", "5"] and events["Time"].tolist() == [0, 1, 2, 0]
    with pytest.raises(DataError, match="no user with items"):
        read_user_sequences(write(tmp_path, "empty.txt", "1\n"))
