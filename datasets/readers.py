"""Readers for the original files of public datasets, each returning the canonical frame.

`SOURCES` maps a dataset name to where its file comes from and how to read it; `fetch` downloads
the ones with a direct link. No checksum is recorded (the publishers give none in SHA-256): `fetch`
prints the SHA-256 of what it downloaded and writes it beside the file, to compare across machines.
The session-rec "prepared" files (tab, header `SessionId ItemId Time`) need no reader: use
`io.load_events`.
"""
import csv
import dataclasses

import numpy as np
import pandas as pd

from zoo.errors import ConfigError, DataError

from .io import ITEM, SESSION, TIME, USER, check_columns, first_line, parse_time, read_table, to_canonical


def read_rsc15(path):
    """RecSys Challenge 2015 (YOOCHOOSE) `yoochoose-clicks.dat`.

    No header, comma-separated: session id, ISO 8601 timestamp, item id, category (ignored).
    """
    names = ["session", "time", "item", "category"]
    raw = read_table(path, header=False, sep=",", names=names, index_col=False)
    return to_canonical(raw, path, {SESSION: "session", ITEM: "item", TIME: "time"})


def read_retailrocket(path, events=("view",)):
    """RetailRocket `events.csv`: timestamp (ms), visitorid, event, itemid, transactionid.

    The visitor is the user; the log has no sessions (make them with `prep.sessionize`).

    Args:
        path: the file.
        events: the event types to keep (`view`, `addtocart`, `transaction`); None keeps all.
    """
    raw = read_table(path, sep=",")
    needed = ["timestamp", "visitorid", "event", "itemid"]
    check_columns(path, list(raw.columns), needed, "not RetailRocket events.csv?")
    if events is not None:
        raw = raw[raw["event"].isin(events)]
    frame = to_canonical(raw, path, {ITEM: "itemid", TIME: "timestamp", USER: "visitorid"})
    frame[TIME] /= 1000
    return frame


def read_diginetica(path):
    """CIKM Cup 2016 (DIGINETICA) `train-item-views.csv`: sessionId;userId;itemId;timeframe;eventdate.

    Time is the event date (midnight UTC) in seconds plus `timeframe` (milliseconds since the start
    of the session) / 1000, which orders the views of a session. User ids are left out: most rows
    have none.
    """
    raw = read_table(path, sep=";")
    needed = ["sessionId", "itemId", "timeframe", "eventdate"]
    check_columns(path, list(raw.columns), needed, "not DIGINETICA train-item-views.csv?")
    frame = to_canonical(raw, path, {SESSION: "sessionId", ITEM: "itemId", TIME: "eventdate"})
    frame[TIME] += parse_time(raw["timeframe"], path, "timeframe").to_numpy() / 1000
    return frame


def read_movielens(path):
    """MovieLens ratings: `ratings.dat` (UserID::MovieID::Rating::Timestamp, ML-1M/10M) or `u.data`
    (tab: user, item, rating, timestamp, ML-100K). Every rating is an event; there are no sessions.
    """
    if "::" in first_line(path):  # "::" read as ":" gives an empty field between the values
        names, sep = ["user", "_", "item", "__", "rating", "___", "time"], ":"
    else:
        names, sep = ["user", "item", "rating", "time"], "\t"
    raw = read_table(path, header=False, sep=sep, names=names, index_col=False)
    return to_canonical(raw, path, {ITEM: "item", TIME: "time", USER: "user"})


def read_lastfm1k(path, item="track"):
    """Last.fm 1K `userid-timestamp-artid-artname-traid-traname.tsv` (tab, no header).

    Args:
        path: the file.
        item: "track" (MusicBrainz track id; plays without one, about a tenth, are dropped) or
            "artist" (MusicBrainz artist id; plays without one are dropped).
    """
    if item not in ("track", "artist"):
        raise ConfigError(f"Last.fm items are 'track' or 'artist', not {item!r}")
    names = ["user", "time", "artist", "artist_name", "track", "track_name"]
    raw = read_table(path, header=False, sep="\t", names=names, quoting=csv.QUOTE_NONE, index_col=False)
    raw = raw[raw[item].notna()]
    return to_canonical(raw, path, {ITEM: item, TIME: "time", USER: "user"})


def read_user_sequences(path):
    """User sequences, one user a line: `user item item ...` separated by blanks, in time order.

    The format of S3-Rec's `LastFM.txt` (no timestamps). Each user's sequence is one session
    (`SessionId` = `UserId` = the user) and `Time` is the position in the line (0, 1, ...), which
    keeps the order; lines without items are skipped.
    """
    try:
        with open(path) as f:
            rows = [line.split() for line in f]
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read the file: {getattr(e, 'strerror', None) or e}") from None
    rows = [row for row in rows if len(row) > 1]
    if not rows:
        raise DataError(f"{path}: no user with items (expected lines 'user item item ...')")
    lengths = [len(row) - 1 for row in rows]
    users = np.repeat([row[0] for row in rows], lengths)
    return pd.DataFrame({SESSION: users, ITEM: [item for row in rows for item in row[1:]],
                         TIME: np.concatenate([np.arange(n, dtype=np.float64) for n in lengths]), USER: users})


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a dataset's event file comes from and how to read it.

    Attributes:
        reader: path -> canonical frame.
        filename: the event file the reader reads.
        url: the official download (an archive holding `filename` at `member`, or the file itself);
            None where the publisher requires a login, see `manual`.
        member: the path of `filename` inside the downloaded archive, None if not an archive.
        sha256: the SHA-256 of the download, None where not known.
        md5: the MD5 the publisher lists beside the download (GroupLens' `.zip.md5`), None if none.
        manual: how to get the file by hand, for sources without a direct link.
    """

    reader: object
    filename: str
    url: str = None
    member: str = None
    sha256: str = None
    md5: str = None
    manual: str = None


SOURCES = {
    "rsc15": Source(
        read_rsc15,
        "yoochoose-clicks.dat",
        url="https://s3-eu-west-1.amazonaws.com/yc-rdata/yoochoose-data.7z",
        member="yoochoose-clicks.dat",
    ),
    "retailrocket": Source(
        read_retailrocket,
        "events.csv",
        manual="download the RetailRocket e-commerce dataset from "
        "https://www.kaggle.com/datasets/retailrocket/ecommerce-dataset (Kaggle login) and unzip events.csv",
    ),
    "diginetica": Source(
        read_diginetica,
        "train-item-views.csv",
        manual="download dataset-train-diginetica.zip of CIKM Cup 2016 track 2 from "
        "https://competitions.codalab.org/competitions/11161 and unzip train-item-views.csv",
    ),
    "ml-100k": Source(
        read_movielens,
        "u.data",
        url="https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        member="ml-100k/u.data",
        md5="0e33842e24a9c977be4e0107933c0723",  # GroupLens' ml-100k.zip.md5
    ),
    "ml-1m": Source(
        read_movielens,
        "ratings.dat",
        url="https://files.grouplens.org/datasets/movielens/ml-1m.zip",
        member="ml-1m/ratings.dat",
        md5="c4d9eecfca2ab87c1945afe126590906",  # GroupLens' ml-1m.zip.md5
    ),
    "lastfm-1k": Source(
        read_lastfm1k,
        "userid-timestamp-artid-artname-traid-traname.tsv",
        url="http://mtg.upf.edu/static/datasets/last.fm/lastfm-dataset-1K.tar.gz",
        member="lastfm-dataset-1K/userid-timestamp-artid-artname-traid-traname.tsv",
    ),
    "lastfm-s3rec": Source(
        read_user_sequences,
        "LastFM.txt",
        manual="download data/LastFM.txt of https://github.com/RUCAIBox/CIKM2020-S3Rec (S3-Rec's LastFM sequences)",
    ),
}
