"""Formula evaluation over the AST allow-list: what is allowed, what is refused, and the limits."""

from fractions import Fraction

import pytest

from trace_solver.expressions import (
    FUNCTIONS,
    EvaluationError,
    ExpressionError,
    compile_expression,
    evaluate_expression,
    evaluate_tree,
    is_reserved_name,
    parse_arithmetic,
)
from trace_solver.limits import MAX_EXPONENT, MAX_EXPRESSION_CHARS, MAX_EXPRESSION_NODES

VARS = {"base": Fraction(120), "a": Fraction(1, 10), "b": Fraction(2, 10), "zero": Fraction(0)}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("base * 3", 360), ("base + 50", 170), ("a + b", Fraction(3, 10)), ("base / 7", Fraction(120, 7)),
     ("base // 7", 17), ("base % 7", 1), ("2 ** 10", 1024), ("-base", -120), ("+base", 120), ("(base - 20) * 2", 200),
     ("0.1 + 0.2", Fraction(3, 10)), ("2 ** -2", Fraction(1, 4)), ("abs(-3)", 3), ("min(a, b)", Fraction(1, 10)),
     ("max(a, b, 1)", 1), ("round(base / 7, 2)", Fraction(1714, 100)), ("floor(base / 7)", 17),
     ("ceil(base / 7)", 18), ("12", 12)],
)  # fmt: skip
def test_allowed_expressions_evaluate_exactly(expression, expected):
    """Numbers, variables, + - * / // % **, unary signs, parentheses and FUNCTIONS evaluate exactly."""
    assert evaluate_expression(expression, VARS) == expected


def test_compile_reports_variables_read():
    """compile_expression returns the variable names a formula reads, not the function names."""
    assert compile_expression("max(base, a) + b")[1] == frozenset({"base", "a", "b"})


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('ls')", "base.__class__", "(lambda: 1)()", "[x for x in (1, 2)]", "(y := 3)",
     "open('x')", "base if a else b", "base < 3", "a and b", "'text'", "base[0]", "{1: 2}", "[1, 2]", "1, 000",
     "not a", "~base", "base << 2", "base & 1", "1j", "True", "None", "...", "f'{base}'", "max(*[1, 2])",
     "max(base, key=abs)", "abs()", "yield base", "await base", "{1, 2}", "base @ base"],
)  # fmt: skip
def test_disallowed_syntax_is_refused(expression):
    """Calls outside FUNCTIONS, attributes, lambdas, comprehensions, walrus and every other construct are refused."""
    with pytest.raises(ExpressionError):
        compile_expression(expression)


@pytest.mark.parametrize("bad", [None, 12, ["a"], {"a": 1}, "", "   "])
def test_non_string_or_empty_expression_is_refused(bad):
    """Only a non-empty string is an expression (an unhashable value must not escape as TypeError)."""
    with pytest.raises(ExpressionError):
        compile_expression(bad)


def test_bare_function_name_is_a_variable():
    """A function name used as a value ('abs + 1') reads an (undefined) variable, never the function."""
    with pytest.raises(ExpressionError, match="undefined variable 'abs'"):
        evaluate_expression("abs + 1", VARS)


def test_undefined_variable_is_refused():
    """A formula reading an undefined name is an ExpressionError naming it."""
    with pytest.raises(ExpressionError, match="'missing'"):
        evaluate_expression("base + missing", VARS)


def test_non_ascii_expression_is_refused():
    """Fullwidth letters would be NFKC-folded to ASCII names by Python's parser; they are refused instead."""
    with pytest.raises(ExpressionError, match="non-ASCII"):
        compile_expression("ｂａｓｅ * 3")


def test_long_expression_is_refused():
    """Expressions longer than MAX_EXPRESSION_CHARS are refused before parsing."""
    with pytest.raises(ExpressionError, match="characters"):
        compile_expression("1 + " * (MAX_EXPRESSION_CHARS // 4) + "1")


def test_expression_with_too_many_nodes_is_refused():
    """Expressions with more than MAX_EXPRESSION_NODES AST nodes are refused."""
    with pytest.raises(ExpressionError, match="parts"):
        compile_expression("+".join(["1"] * MAX_EXPRESSION_NODES))


def test_parentheses_up_to_length_limit_evaluate():
    """As many parentheses as fit in MAX_EXPRESSION_CHARS are only grouping: no RecursionError, one value."""
    depth = (MAX_EXPRESSION_CHARS - len("base")) // 2
    assert evaluate_expression("(" * depth + "base" + ")" * depth, VARS) == 120


def test_long_unary_chain_is_refused():
    """A chain of unary minus signs exceeds the node limit instead of recursing."""
    with pytest.raises(ExpressionError, match="parts"):
        compile_expression("-" * (MAX_EXPRESSION_CHARS - 1) + "1")


@pytest.mark.parametrize("expression", ["9**9**9", "2**2**2**2**2", "10 ** 100", "base ** 65"])
def test_huge_powers_are_limit_errors(expression):
    """Exponents above MAX_EXPONENT or results above MAX_MAGNITUDE are refused before they are computed."""
    with pytest.raises(EvaluationError) as info:
        evaluate_expression(expression, VARS)
    assert info.value.code == "limit_exceeded"


def test_exponent_at_limit_is_computed():
    """An exponent of exactly MAX_EXPONENT is allowed when the result is in range."""
    assert evaluate_expression(f"1 ** {MAX_EXPONENT}", VARS) == 1


def test_fractional_exponent_is_refused():
    """Exponents must be whole numbers (no irrational results)."""
    with pytest.raises(EvaluationError) as info:
        evaluate_expression("base ** 0.5", VARS)
    assert info.value.code == "bad_argument"


@pytest.mark.parametrize("expression", ["base / zero", "base // zero", "base % zero", "zero ** -1"])
def test_division_by_zero_is_an_evaluation_error(expression):
    """Division, floor division and modulo by zero, and 0 to a negative power, are division_by_zero."""
    with pytest.raises(EvaluationError) as info:
        evaluate_expression(expression, VARS)
    assert info.value.code == "division_by_zero"


@pytest.mark.parametrize("expression", ["1e999", "9" * 30, "base * 1e14"])
def test_huge_literals_and_results_are_limit_errors(expression):
    """Literals and results past MAX_MAGNITUDE (including float overflow to inf) are limit_exceeded."""
    with pytest.raises(EvaluationError) as info:
        evaluate_expression(expression, VARS)
    assert info.value.code == "limit_exceeded"


@pytest.mark.parametrize("expression", ["min(base)", "abs(1, 2)", "round(base, 0.5)", "round(base, 13)"])
def test_bad_function_arguments_are_evaluation_errors(expression):
    """Wrong argument counts or values for FUNCTIONS are bad_argument."""
    with pytest.raises(EvaluationError) as info:
        evaluate_expression(expression, VARS)
    assert info.value.code == "bad_argument"


@pytest.mark.parametrize("name", ["abs", "min", "lambda", "None", "True", "if"])
def test_keywords_and_function_names_are_reserved(name):
    """Python keywords and FUNCTIONS names cannot be variable names."""
    assert is_reserved_name(name)


def test_functions_allow_list_is_short():
    """The function allow-list is exactly the documented six."""
    assert sorted(FUNCTIONS) == ["abs", "ceil", "floor", "max", "min", "round"]


@pytest.mark.parametrize(
    ("calculation", "expected"),
    [("48/2", 24), ("2*3.5", 7), ("0.1+0.2", Fraction(3, 10)), ("(16-3)*2", 26), ("10/3", Fraction(10, 3)),
     ("-4+1", -3)],
)  # fmt: skip
def test_calculations_on_numbers_evaluate_exactly(calculation, expected):
    """parse_arithmetic + evaluate_tree read calculator text (GSM-8K's 48/2) as exact fractions."""
    assert evaluate_tree(parse_arithmetic(calculation)) == expected


@pytest.mark.parametrize("calculation", ["2*t", "abs(-3)", "max(1, 2)", "__import__('os')", "1 if 2 else 3"])
def test_calculations_refuse_names_and_functions(calculation):
    """A calculation has numbers only: variables, functions and other syntax are ExpressionError."""
    with pytest.raises(ExpressionError):
        parse_arithmetic(calculation)


def test_calculations_keep_the_formula_limits():
    """Past-limit text and results are refused like formulas are (length, then magnitude)."""
    with pytest.raises(ExpressionError):
        parse_arithmetic("1+" * MAX_EXPRESSION_CHARS + "1")
    with pytest.raises(EvaluationError):
        evaluate_tree(parse_arithmetic(f"9 ** {MAX_EXPONENT}"))
