"""Exact numbers: reading, printing, comparing answers, normalising questions."""

from fractions import Fraction

import pytest

from trace_solver import NumberError, answers_match, format_number, normalize_question, parse_number
from trace_solver.limits import MAX_DENOMINATOR, MAX_EXPONENT, MAX_MAGNITUDE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,000", Fraction(1000)),
        ("$18", Fraction(18)),
        ("18.0", Fraction(18)),
        ("70%", Fraction(70)),
        ("3/4", Fraction(3, 4)),
        ("1e3", Fraction(1000)),
        ("012", Fraction(12)),
        ("-$5", Fraction(-5)),
        ("$1,200.50", Fraction(240100, 200)),
        (" 42 ", Fraction(42)),
        (".5", Fraction(1, 2)),
        ("€3", Fraction(3)),
    ],
)
def test_parse_number_reads_answer_formats(text, expected):
    """Strings in the formats answers come in are read exactly."""
    assert parse_number(text) == expected


def test_parse_number_reads_floats_by_their_shortest_spelling():
    """0.1 as a float is read as exactly 1/10, not its binary approximation."""
    assert parse_number(0.1) == Fraction(1, 10)


def test_parse_number_keeps_ints_and_fractions():
    """Ints and Fractions pass through unchanged."""
    assert (parse_number(7), parse_number(Fraction(2, 3))) == (Fraction(7), Fraction(2, 3))


@pytest.mark.parametrize(
    "raw",
    [True, False, None, float("nan"), float("inf"), float("-inf"), "abc", "", "1,2,3", "1/0", "+-5", "0x1F", "1:30",
     [1], "9" * 200, "1e65", f"{MAX_MAGNITUDE + 1}", 2**70],
)  # fmt: skip
def test_parse_number_refuses_non_numbers(raw):
    """Booleans, NaN/inf, text, malformed and out-of-limit numbers raise NumberError."""
    with pytest.raises(NumberError):
        parse_number(raw)


def test_parse_number_refuses_exponent_past_limit():
    """Scientific notation is bounded by MAX_EXPONENT."""
    with pytest.raises(NumberError, match="exponent"):
        parse_number(f"1e-{MAX_EXPONENT + 1}")


def test_parse_number_refuses_denominator_past_limit():
    """Fractions finer than MAX_DENOMINATOR are refused."""
    with pytest.raises(NumberError, match="precision"):
        parse_number(Fraction(1, MAX_DENOMINATOR + 1))


def test_parse_number_accepts_magnitude_at_limit():
    """The magnitude limit itself is inside the limits, on both sides."""
    assert parse_number(-MAX_MAGNITUDE) == -MAX_MAGNITUDE


def test_tenth_plus_fifth_is_three_tenths():
    """Exact arithmetic: 0.1 + 0.2 == 0.3."""
    assert parse_number("0.1") + parse_number("0.2") == parse_number("0.3")


@pytest.mark.parametrize(
    ("value", "text"),
    [(Fraction(190), "190"), (Fraction(18, 1), "18"), (Fraction(3, 10), "0.3"), (Fraction(-5, 4), "-1.25"),
     (Fraction(1, 3), "1/3"), (Fraction(-1, 8), "-0.125"), (Fraction(1, 100), "0.01")],
)  # fmt: skip
def test_format_number_prints_exactly(value, text):
    """Integers print as integers, terminating decimals as decimals, the rest as p/q."""
    assert format_number(value) == text


@pytest.mark.parametrize("value", [Fraction(7, 3), Fraction(-11, 40), Fraction(123456789, 1000), Fraction(0)])
def test_format_number_reads_back(value):
    """What format_number prints, parse_number reads back to the same value."""
    assert parse_number(format_number(value)) == value


@pytest.mark.parametrize(
    ("value", "gold"),
    [(Fraction(1000), "1,000"), (Fraction(18), "$18"), (Fraction(18), "18.0"), (Fraction(70), "70%"),
     (Fraction(3, 4), "3/4"), (Fraction(3, 4), "0.75"), (Fraction(100, 3), "33.33"), (Fraction(18), 18)],
)  # fmt: skip
def test_answers_match_accepts_gold_formats(value, gold):
    """A computed value matches its gold answer in every format answers come in."""
    assert answers_match(value, gold)


@pytest.mark.parametrize(
    ("value", "gold"),
    [(Fraction(19), "18"), (Fraction(100, 3), "33"), (Fraction(3, 4), "3/5"), (Fraction(18), "eighteen"),
     (Fraction(18), None), ("garbage", "18")],
)  # fmt: skip
def test_answers_match_rejects_wrong_or_unreadable(value, gold):
    """Wrong values, and unreadable values or gold answers, do not match (and do not raise)."""
    assert not answers_match(value, gold)


@pytest.mark.parametrize(
    ("question", "normalised"),
    [("It costs 80,000 dollars.", "It costs 80000 dollars."), ("Pay $1,200.50 now", "Pay $1200.50 now"),
     ("the list 1,2,3 stays", "the list 1,2,3 stays"), ("1,000,000 ants", "1000000 ants")],
)  # fmt: skip
def test_normalize_question_removes_thousands_separators(question, normalised):
    """Thousands separators go, lists of numbers and currency symbols stay."""
    assert normalize_question(question) == normalised
