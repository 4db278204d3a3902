import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoo.datasets.vocab import Vocabulary
from zoo.errors import DataError, UserError


def test_int_ids_sorted_by_string_form_and_round_trip():
    vocab = Vocabulary.fit(np.array([214, 3, 10, 3]))
    assert vocab.kind == "int" and len(vocab) == 3
    np.testing.assert_array_equal(vocab.decode([0, 1, 2]), [10, 214, 3])  # "10" < "214" < "3"
    codes = vocab.encode([3, 214, 10, 999])
    assert codes.dtype == np.int32
    np.testing.assert_array_equal(codes, [2, 1, 0, -1])
    assert vocab.decode(codes[:3]).dtype == np.int64


def test_str_ids_and_first_seen_order():
    vocab = Vocabulary.fit(pd.Series(["b", "a", "b", "c"]), order="first_seen")
    assert vocab.kind == "str"
    np.testing.assert_array_equal(vocab.encode(["a", "b", "c", "zz"]), [1, 0, 2, -1])
    assert list(vocab.decode([2, 0])) == ["c", "b"]


def test_int_and_str_forms_of_an_id_match():
    ints = Vocabulary.fit([214, 7])
    strs = Vocabulary.fit(["214", "7"])
    np.testing.assert_array_equal(ints.encode(["7", "214", "0214"]), [1, 0, -1])
    np.testing.assert_array_equal(strs.encode(np.array([7, 214])), [1, 0])
    assert ints.decode([0]).tolist() == [214] and strs.decode([0]).tolist() == ["214"]


def test_order_does_not_depend_on_row_order():
    assert Vocabulary.fit(["x", "b", "a"]) == Vocabulary.fit(["a", "x", "b"])


@pytest.mark.parametrize("ids", [[1.5, 2.0], [1, None], ["a", None], [b"x"]])
def test_bad_ids_are_data_errors(ids):
    with pytest.raises(DataError):
        Vocabulary.fit(pd.Series(ids, dtype=object))


def test_decode_rejects_out_of_range():
    with pytest.raises(IndexError):
        Vocabulary.fit([1, 2]).decode([-1])


@given(st.lists(st.one_of(st.integers(-10**12, 10**12), st.text(max_size=5)), max_size=30))
def test_json_round_trip(ids):
    vocab = Vocabulary.fit(pd.Series(ids, dtype=object))
    again = Vocabulary.from_json(json.loads(json.dumps(vocab.to_json())))
    assert again == vocab
    codes = again.encode(pd.Series(ids, dtype=object))
    assert (codes >= 0).all()
    assert [str(i) for i in again.decode(codes)] == [str(i) for i in ids]


def test_save_load(tmp_path):
    for ids in ([5, 3, 11], ["u1", "u0"]):
        vocab = Vocabulary.fit(ids)
        vocab.save(tmp_path / "vocab.json")
        assert Vocabulary.load(tmp_path / "vocab.json") == vocab


def test_load_missing_or_corrupt(tmp_path):
    with pytest.raises(UserError, match="not found"):
        Vocabulary.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="bad.json"):
        Vocabulary.load(bad)
    bad.write_text(json.dumps({"format": "zoo.vocabulary/1", "kind": "int", "ids": ["a"]}))
    with pytest.raises(UserError, match="another type"):
        Vocabulary.load(bad)
    bad.write_text(json.dumps({"format": "zoo.vocabulary/1", "kind": "int", "ids": [1, 1]}))
    with pytest.raises(UserError, match="not unique"):
        Vocabulary.load(bad)


def test_ids_ending_in_nul_characters_keep_them():
    vocab = Vocabulary.fit(pd.Series([0, "\x00", "a\x00"], dtype=object))
    assert list(vocab.decode(vocab.encode(["\x00", "a\x00", "0"]))) == ["\x00", "a\x00", "0"]
