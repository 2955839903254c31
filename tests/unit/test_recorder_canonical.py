"""RFC 8785 canonical JSON for minutes entries."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from recorder.canonical import CanonicalParser, canonicalize, is_canonical, parse_canonical
from recorder.errors import CanonicalJSONError

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda x: not (x.is_integer() and 2**53 <= abs(x) < 1e21)
    )
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def test_keys_are_sorted_and_whitespace_removed() -> None:
    assert canonicalize({"b": 1, "a": [True, None, "x"]}) == b'{"a":[true,null,"x"],"b":1}'


@pytest.mark.parametrize("n", [2**53, -(2**53), 2**64])
def test_integers_beyond_2_53_are_rejected(n: int) -> None:
    with pytest.raises(CanonicalJSONError, match=r"safe range"):
        canonicalize({"seq": n})


@pytest.mark.parametrize("x", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_are_rejected_naming_the_member(x: float) -> None:
    with pytest.raises(CanonicalJSONError, match=r"\$\.tally\[1\]: non-finite"):
        canonicalize({"tally": [1, x]})


def test_integral_floats_that_rfc8785_spells_as_big_integers_are_rejected() -> None:
    with pytest.raises(CanonicalJSONError, match="safe range"):
        canonicalize({"x": 2.0**53})
    assert canonicalize({"x": 1e21}) == b'{"x":1e+21}'


def test_non_string_keys_and_odd_types_are_rejected() -> None:
    with pytest.raises(CanonicalJSONError, match="not a string"):
        canonicalize({1: "x"})
    with pytest.raises(CanonicalJSONError, match="set is not a JSON value"):
        canonicalize({"x": {1}})


@given(json_values)
def test_canonical_text_round_trips_and_is_recognised(value: object) -> None:
    text = canonicalize(value).decode("utf-8")
    assert text == rfc8785.dumps(value).decode("utf-8")
    assert is_canonical(text)
    assert canonicalize(parse_canonical(text)) == text.encode("utf-8")


@given(st.dictionaries(st.text(min_size=1), st.integers(0, 9), min_size=2))
def test_non_canonical_spellings_are_refused(value: dict[str, int]) -> None:
    assert not is_canonical(json.dumps(value, indent=1))
    reordered = "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in sorted(value.items(), reverse=True)) + "}"
    assert is_canonical(reordered) == (reordered == canonicalize(value).decode())


def test_duplicate_keys_and_nan_literals_are_not_canonical() -> None:
    assert not is_canonical('{"a":1,"a":1}')
    assert not is_canonical('{"a":NaN}')
    assert not is_canonical('{"a":1.0}')  # RFC 8785 spells it 1
    assert is_canonical('{"a":1.5,"\u00e9":"\u20ac"}')


bmp_text = st.text(alphabet=st.characters(max_codepoint=0xFFFF, blacklist_categories=("Cs",)))


@given(st.dictionaries(bmp_text, st.integers(-(2**53) + 1, 2**53 - 1) | bmp_text, max_size=6))
def test_the_fast_path_agrees_with_rfc8785_for_bmp_text(value: dict[str, object]) -> None:
    text = rfc8785.dumps(value).decode("utf-8")
    fast = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert fast == text
    assert CanonicalParser().parse(text) == value


def test_one_parser_checks_many_texts_and_keeps_the_range_and_float_rules() -> None:
    parser = CanonicalParser()
    assert parser.parse('{"a":1.5}') == {"a": 1.5}
    assert parser.parse('{"a":1}') == {"a": 1}
    with pytest.raises(CanonicalJSONError):
        parser.parse('{"n":9007199254740993}')
    with pytest.raises(CanonicalJSONError):
        parser.parse('{"a":1.0}')
    assert parser.parse('{"v":"\U0001f600","\u00e9":1}') == {"v": "\U0001f600", "\u00e9": 1}


def test_parse_many_matches_parsing_each_text_and_names_the_bad_ones() -> None:
    texts = [
        '{"a":1,"seq":0}',
        '{"b":"Lê Minh Châu","seq":1}',
        '{"seq":2, "x":1}',
        '{"seq":3,"a":1}',
        "[1]",
        '{"a":1',
        '"b":2}',
        "1,2",
        '{"v":"\U0001f600"}',
        '{"n":9007199254740993}',
        '{"a":1.5}',
    ]
    got = CanonicalParser().parse_many(texts)
    assert got[0] == {"a": 1, "seq": 0} and got[1]["b"] == "Lê Minh Châu"
    assert [isinstance(g, CanonicalJSONError) for g in got] == [
        False,
        False,
        True,
        True,
        False,
        True,
        True,
        True,
        False,
        True,
        False,
    ]
    clean = texts[:2]
    assert CanonicalParser().parse_many(clean) == [parse_canonical(t) for t in clean]
    # split objects that re-join into valid JSON are still refused one by one
    split = CanonicalParser().parse_many(['{"a":1', '"b":2}', "1,2"])
    assert all(isinstance(g, CanonicalJSONError) for g in split)
    assert isinstance(CanonicalParser().parse_many(['{"s":"\ud800"}'])[0], CanonicalJSONError)


# every character class the fast path must get right: control characters, quotes and
# backslashes, DEL, the BMP above the surrogates, and beyond the BMP (which orders keys
# differently in UTF-16 and in code points); lone surrogates are not valid Unicode
awkward_text = st.text(
    st.sampled_from(
        ["a", "Z", "0", '"', "\\", "\x00", "\x1f", "\x7f", "\u00e9", "\u2028", "\ufffd", "\uffff"]
    )
    | st.characters(codec="utf-8"),
    max_size=6,
)
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | awkward_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(awkward_text, inner, max_size=5),
    max_leaves=16,
)


@given(plain_values | json_values)
def test_the_fast_path_writes_exactly_what_rfc8785_writes(value: object) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


def test_keys_beyond_the_bmp_keep_utf16_order() -> None:
    # U+10000 sorts before U+FFFF in UTF-16 (a surrogate pair, 0xD800...) but after it in
    # code points: the fast path must not take such a value
    value = {"\U00010000": 1, "\uffff": 2}
    assert canonicalize(value) == rfc8785.dumps(value) == '{"𐀀":1,"\uffff":2}'.encode()
