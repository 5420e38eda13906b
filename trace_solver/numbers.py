"""Exact numbers: reading them in the formats answers come in, printing them, comparing answers.

All arithmetic in the solver is on `fractions.Fraction`, so 0.1 + 0.2 == 0.3 and integral results print as integers.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from trace_solver.limits import MAX_DENOMINATOR, MAX_EXPONENT, MAX_MAGNITUDE, MAX_NUMBER_CHARS


class NumberError(ValueError):
    """A value is not a number the solver accepts; the message says why."""


# One optional currency symbol, digits with optional thousands separators (groups of exactly three),
# an optional decimal part, an optional bounded exponent and an optional trailing percent sign.
_DECIMAL = re.compile(
    r"""^(?P<sign>[-+]?)[$€£]?(?P<sign2>[-+]?)
        (?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+)
        (?:[eE](?P<exp>[-+]?\d{1,3}))?%?$""",
    re.VERBOSE | re.ASCII,  # ASCII: \d would also match other scripts' digits ("١٢"), which int() reads
)
_RATIO = re.compile(r"^(?P<num>[-+]?\d+)\s*/\s*(?P<den>\d+)$", re.ASCII)
# Thousands separators inside running text: 80,000 and $1,200.50, but not lists like 1,2,3.
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?!\d|,\d)")


def check_bounds(value: Fraction) -> Fraction:
    """Return `value` if it is inside the solver's magnitude and precision limits, else raise NumberError."""
    # On the integers (|n/d| > M  <=>  |n| > M*d for d > 0): this runs for every number the solver holds.
    if abs(value.numerator) > MAX_MAGNITUDE * value.denominator:
        raise NumberError(f"magnitude {format_number(value)[:20]}... exceeds the limit {MAX_MAGNITUDE:.0e}")
    if value.denominator > MAX_DENOMINATOR:
        raise NumberError(f"precision exceeds the limit (denominator above {MAX_DENOMINATOR:.0e})")
    return value


def parse_number(raw: Any) -> Fraction:
    """Read a number exactly: ints, finite floats, Fractions, and strings such as
    ``"1,000"``, ``"$18"``, ``"18.0"``, ``"70%"`` (70), ``"3/4"``, ``"1e3"``, ``"012"`` (12, never octal).

    Raises NumberError for anything else (booleans, NaN/inf, text, numbers past the limits).
    """
    if isinstance(raw, bool):
        raise NumberError(f"{raw!r} is a boolean, not a number")
    if isinstance(raw, Fraction):
        return check_bounds(raw)
    if isinstance(raw, int):
        if raw.bit_length() > 64:
            raise NumberError(f"magnitude exceeds the limit {MAX_MAGNITUDE:.0e}")
        return check_bounds(Fraction(raw))
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise NumberError(f"{raw!r} is not a finite number")
        return check_bounds(Fraction(repr(raw)))  # repr is the shortest exact spelling: 0.1 -> 1/10
    if not isinstance(raw, str):
        raise NumberError(f"expected a number, got {type(raw).__name__}")
    text = raw.strip().replace(" ", "")
    if not text or len(text) > MAX_NUMBER_CHARS:
        raise NumberError(f"{raw[:MAX_NUMBER_CHARS]!r} is not a number")
    match = _DECIMAL.match(text)
    if match:
        if match["sign"] and match["sign2"]:
            raise NumberError(f"{raw!r} has two signs")
        exponent = int(match["exp"] or 0)
        if abs(exponent) > MAX_EXPONENT:
            raise NumberError(f"exponent {exponent} exceeds the limit {MAX_EXPONENT}")
        value = Fraction(match["digits"].replace(",", "")) * Fraction(10) ** exponent
        return check_bounds(-value if "-" in (match["sign"] + match["sign2"]) else value)
    match = _RATIO.match(text)
    if match:
        if int(match["den"]) == 0:
            raise NumberError(f"{raw!r} divides by zero")
        return check_bounds(Fraction(int(match["num"]), int(match["den"])))
    raise NumberError(f"{raw[:MAX_NUMBER_CHARS]!r} is not a number")


def format_number(value: Fraction) -> str:
    """Print exactly: integers as integers, terminating decimals as decimals, anything else as ``p/q``."""
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    scaled = abs(value.numerator) * 10**places // value.denominator
    digits = str(scaled).rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def answers_match(value: Fraction | int | float | str, gold: Any) -> bool:
    """True when a computed value equals the gold answer.

    Exact comparison, except that a gold answer written with d decimal places (``"33.33"``) matches a value that
    rounds to it at d places. Never raises: an unreadable value or gold answer does not match.
    """
    try:
        computed = parse_number(value)
        expected = parse_number(gold)
    except NumberError:
        return False
    if computed == expected:
        return True
    if isinstance(gold, str):
        decimals = _decimal_places(gold)
        return decimals > 0 and round(computed, decimals) == expected
    return False


def _decimal_places(text: str) -> int:
    match = re.search(r"\.(\d+)", text)
    return len(match.group(1)) if match else 0


def normalize_question(text: str) -> str:
    """Normalise numbers in a question the same way for training, evaluation and inference.

    Thousands separators are removed (``80,000`` -> ``80000``, ``$1,200.50`` -> ``$1200.50``) so the model copies plain
    numbers into its YAML; currency symbols and everything else are kept as written.
    """
    return _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
