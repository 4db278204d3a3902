"""Summary statistics of a canonical event log, as a JSON-ready dict and as text."""
import numpy as np
import pandas as pd

from .io import ITEM, SESSION, TIME, USER


def describe(df):
    """Counts, session lengths and time range of an event log.

    Returns:
        A dict with exactly the keys `events`, `sessions` (None without `SessionId`), `users` (None
        without `UserId`), `items`, `session_length` (None without `SessionId`, else a dict of `min`,
        `max`, `mean`, `median`, `p90` events per session) and `time` (None for an empty log, else a
        dict of `start` and `end` as ISO 8601 UTC text, `start_seconds` and `end_seconds` as Unix
        seconds, and `span_days`).
    """
    return {
        "events": len(df),
        "sessions": int(df[SESSION].nunique()) if SESSION in df else None,
        "users": int(df[USER].nunique()) if USER in df else None,
        "items": int(df[ITEM].nunique()),
        "session_length": _lengths(df[SESSION]) if SESSION in df and len(df) else None,
        "time": _time_range(df[TIME]) if len(df) else None,
    }


def format_description(summary):
    """The dict of `describe` as aligned `name: value` lines."""
    counts = ("events", "sessions", "users", "items")
    lines = [f"{key}: {'-' if summary[key] is None else summary[key]}" for key in counts]
    if summary["session_length"]:
        length = summary["session_length"]
        lines.append(
            f"session length: min {length['min']}, median {length['median']:g}, "
            f"mean {length['mean']:.2f}, p90 {length['p90']:g}, max {length['max']}"
        )
    if summary["time"]:
        time = summary["time"]
        lines.append(f"time: {time['start']} to {time['end']} ({time['span_days']:.2f} days)")
    return "\n".join(lines)


def _lengths(sessions):
    lengths = np.bincount(pd.factorize(sessions)[0])
    return {
        "min": int(lengths.min()),
        "max": int(lengths.max()),
        "mean": float(lengths.mean()),
        "median": float(np.median(lengths)),
        "p90": float(np.percentile(lengths, 90)),
    }


def _time_range(times):
    start, end = float(times.min()), float(times.max())
    return {
        "start": _iso(start),
        "end": _iso(end),
        "start_seconds": start,
        "end_seconds": end,
        "span_days": (end - start) / 86400,
    }


def _iso(seconds):
    return pd.Timestamp(seconds, unit="s", tz="UTC").round("ms").isoformat(timespec="milliseconds")
