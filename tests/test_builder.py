"""TraceBuilder, the one step-by-step trace builder of the generators and the converters."""

from __future__ import annotations

from fractions import Fraction

import pytest

from trace_solver import execute
from trace_solver.builder import Retry, TraceBuilder, make_identifier


def test_built_document_executes_to_the_mirrored_value():
    """init and compute steps mirror their values; the document executes to the queried one."""
    b = TraceBuilder("arithmetic")
    total = b.compute("add", [b.init("apples", 3), b.init("pears", Fraction(1, 2))], "total")
    assert b[total] == Fraction(7, 2)
    assert execute(b.document(total)).value == Fraction(7, 2)


def test_fresh_names_are_unique_and_valid_but_not_reserved():
    """fresh() avoids defined names, keywords and YAML scalars, and a name is taken only once a step defines it."""
    b = TraceBuilder("arithmetic")
    assert b.fresh("the apples") == b.fresh("apples") == "apples"
    b.init("apples", 1)
    assert b.fresh("apples") == "apples_2"
    assert b.fresh("raise") == "raise_var" and b.fresh("yes") == "yes_var" and b.fresh("") == "x"


def test_places_refuse_unclean_values_with_retry():
    """With places=0 a fraction raises Retry (draw again); without places it is kept."""
    with pytest.raises(Retry):
        TraceBuilder("arithmetic", places=0).init("half", Fraction(1, 2))
    assert TraceBuilder("arithmetic").init("half", Fraction(1, 2)) == "half"


def test_failing_arithmetic_without_places_raises_the_solver_error():
    """Without places a division by zero is the solver's ArithmeticError, not Retry."""
    b = TraceBuilder("arithmetic")
    with pytest.raises(ArithmeticError) as info:
        b.compute("div", [b.init("a", 1), 0], "ratio")
    assert not isinstance(info.value, Retry)


def test_make_identifier_takes_the_name():
    """make_identifier adds the name it returns to `taken`, so the next one is numbered."""
    taken: set[str] = set()
    assert [make_identifier("clips", taken, "n") for _ in range(2)] == ["clips", "clips_2"]
    assert make_identifier("9 lives", taken, "n") == "n_9_lives"
