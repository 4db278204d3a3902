"""Vocabularies: item or user ids (as given, int or str) to contiguous indices 0..n-1 and back.

Ids are compared by their string form, so the int 214 read from one file and the string "214" read
from another are the same id. The kind of the ids the vocabulary was fitted on ("int" or "str") is
recorded, and `decode` returns ids of that kind.
"""
import functools
import json

import numpy as np
import pandas as pd

from zoo.atomic import write_json
from zoo.errors import DataError, UserError

FORMAT = "zoo.vocabulary/1"
ORDERS = ("sorted", "first_seen")


def _values(ids):
    """The ids as a NumPy array (object for strings)."""
    if isinstance(ids, (pd.Series, pd.Index)):
        return ids.to_numpy()
    values = np.asarray(ids)
    return np.asarray(ids, dtype=object) if values.dtype.kind == "U" else values  # "U" drops trailing NULs


def _string_objects(values):
    """`values` as an object array of str, converted only where they are not all str already."""
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=False) == "string":
        return values
    # pandas' str conversion, not NumPy's: fixed-width NumPy strings drop trailing NUL characters
    return pd.Series(values, dtype=object).astype(str).to_numpy(dtype=object)


def _kind(values):
    """"int" or "str" for ids that are all integers or (partly) strings; DataError otherwise."""
    if values.size == 0:
        return "str"
    inferred = pd.api.types.infer_dtype(values, skipna=False)
    if inferred == "mixed-integer":  # ints and strings, but maybe also None or bools
        bad = [t for t in set(map(type, values)) if t is bool or not issubclass(t, (int, np.integer, str))]
        inferred = f"mixed-integer and {bad[0].__name__}" if bad else inferred
    if inferred not in ("integer", "string", "mixed-integer"):
        raise DataError(f"ids must be integers or strings, got {inferred} values")
    return "int" if inferred == "integer" else "str"


class Vocabulary:
    """An ordered set of ids; index i stands for the i-th id.

    Build one with `Vocabulary.fit`; the constructor takes ids that are already unique and ordered.

    Args:
        ids: The ids in index order: integers (kind "int") or strings (kind "str").
        kind: "int" or "str": the type `decode` returns.

    Raises:
        DataError: if two ids have the same string form.
    """

    def __init__(self, ids, kind):
        if kind not in ("int", "str"):
            raise ValueError(f"kind must be 'int' or 'str', got {kind!r}")
        self._kind = kind
        if kind == "int":
            self._ids = np.asarray(ids, dtype=np.int64)
            self._int_index = pd.Index(self._ids)
        else:
            self._ids = _string_objects(np.asarray(ids, dtype=object))
            self._int_index = None
        if not (self._int_index if kind == "int" else self._str_index).is_unique:
            raise DataError("vocabulary ids are not unique")

    @functools.cached_property
    def _str_index(self):
        """pandas Index over the ids' string forms."""
        return pd.Index(_string_objects(self._ids))

    @classmethod
    def fit(cls, ids, order="sorted"):
        """Builds the vocabulary of the distinct ids in `ids`.

        Args:
            ids: Array-like of ids, all integers or all strings (a mix counts as strings).
            order: "sorted" (default): indices follow the ids' string forms in code-point order
                (so "10" comes before "9"); the vocabulary then depends only on the set of ids, not
                on the order of the rows of a file. "first_seen": indices follow first appearance.

        Returns:
            The Vocabulary.

        Raises:
            DataError: if the ids are neither integers nor strings (floats, missing values).
        """
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
        values = _values(ids)
        kind = _kind(values)
        uniques = pd.unique(values)
        if kind == "str":
            uniques = pd.unique(_string_objects(uniques))
        if order == "sorted":
            uniques = uniques[np.argsort(uniques.astype(str), kind="stable")]
        return cls(uniques, kind)

    @property
    def kind(self):
        """"int" or "str": the type of the ids `decode` returns."""
        return self._kind

    def __len__(self):
        return len(self._ids)

    def __eq__(self, other):
        return (
            isinstance(other, Vocabulary)
            and self._kind == other._kind
            and np.array_equal(self._ids, other._ids)
        )

    def __repr__(self):
        return f"Vocabulary({len(self)} {self._kind} ids)"

    def encode(self, ids):
        """Maps ids to their indices.

        Args:
            ids: Array-like of ids (int or str; compared by string form).

        Returns:
            np.int32 array of the same length: the indices, -1 for ids not in the vocabulary.
        """
        values = _values(ids)
        if self._int_index is not None and values.dtype.kind in "iu":
            return self._int_index.get_indexer(values).astype(np.int32)
        codes, uniques = pd.factorize(values)  # hash each distinct id once (missing ids: code -1)
        known = self._str_index.get_indexer(_string_objects(np.asarray(uniques, dtype=object)))
        return np.append(known, -1).astype(np.int32)[codes]

    def decode(self, indices):
        """Maps indices back to ids of the recorded kind.

        Args:
            indices: Array-like of ints in 0..len-1.

        Returns:
            np.int64 array (kind "int") or object array of str (kind "str").

        Raises:
            IndexError: if an index is out of range (-1, the code of unknown ids, included).
        """
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"vocabulary indices must be in 0..{len(self) - 1}")
        return self._ids[indices]

    def to_json(self):
        """Returns a JSON-serializable dict: format tag, kind and the ids in index order."""
        ids = self._ids.tolist()
        return {"format": FORMAT, "kind": self._kind, "ids": ids}

    @classmethod
    def from_json(cls, obj):
        """Rebuilds a vocabulary from `to_json`'s dict.

        Raises:
            DataError: if `obj` is not such a dict.
        """
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise DataError(f"not a vocabulary (expected format {FORMAT!r})")
        kind, ids = obj.get("kind"), obj.get("ids")
        expected = {"int": int, "str": str}.get(kind)
        if expected is None or not isinstance(ids, list):
            raise DataError("vocabulary needs kind 'int' or 'str' and a list of ids")
        if not all(type(i) is expected for i in ids):
            raise DataError(f"vocabulary of kind {kind!r} holds ids of another type")
        return cls(ids, kind)

    def save(self, path):
        """Writes the vocabulary as JSON to `path`, atomically."""
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path):
        """Reads a vocabulary written by `save`.

        Raises:
            UserError: if the file is missing, unreadable or not a vocabulary.
        """
        try:
            with open(path) as f:
                obj = json.load(f)
        except FileNotFoundError:
            raise UserError(f"{path}: vocabulary file not found") from None
        except (OSError, ValueError) as e:
            raise UserError(f"{path}: cannot read vocabulary: {e}") from None
        try:
            return cls.from_json(obj)
        except DataError as e:
            raise UserError(f"{path}: {e}") from None
