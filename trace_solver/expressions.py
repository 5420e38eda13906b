"""Formula evaluation over an AST allow-list, in the spirit of simpleeval: never `eval`.

Allowed: numbers, names of variables defined earlier, ``+ - * / // % **``, unary minus/plus, parentheses and the
functions in FUNCTIONS. Everything else is refused with a message that says what was refused.
"""

from __future__ import annotations

import ast
import keyword
import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import lru_cache

from trace_solver.limits import MAX_EXPONENT, MAX_EXPRESSION_CHARS, MAX_EXPRESSION_NODES
from trace_solver.numbers import NumberError, check_bounds, parse_number


class ExpressionError(ValueError):
    """A formula is malformed or refers to something not allowed (a schema problem)."""


class EvaluationError(ArithmeticError):
    """A well-formed formula fails when evaluated: division by zero, a limit exceeded."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _round(value: Fraction, places: Fraction = Fraction(0)) -> Fraction:
    if places.denominator != 1 or not 0 <= places <= 12:
        raise EvaluationError("bad_argument", "round() takes 0 to 12 decimal places")
    return Fraction(round(value, int(places)))


FUNCTIONS: dict[str, Callable[..., Fraction]] = {
    "abs": abs,
    "min": min,
    "max": max,
    "round": _round,
    "floor": lambda x: Fraction(math.floor(x)),
    "ceil": lambda x: Fraction(math.ceil(x)),
}

_BINARY = {ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow}
_UNARY = {ast.USub, ast.UAdd}


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> tuple[ast.expr, frozenset[str]]:
    """Parse and check a formula once; return its AST and the variable names it reads."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expression must be a non-empty string")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression is {len(text)} characters; the limit is {MAX_EXPRESSION_CHARS}")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExpressionError(f"cannot parse expression {text[:60]!r}") from None
    names: set[str] = set()
    count = 0
    for node in ast.walk(tree):
        count += 1
        if count > MAX_EXPRESSION_NODES:
            raise ExpressionError(f"expression has more than {MAX_EXPRESSION_NODES} parts")
        _check_node(node, names)
    return tree, frozenset(names)


def _check_node(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ExpressionError(f"literal {node.value!r} is not a number")
    elif isinstance(node, ast.Name):
        if not isinstance(node.ctx, ast.Load):
            raise ExpressionError("assignment is not allowed in an expression")
        if node.id not in FUNCTIONS:
            names.add(node.id)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise ExpressionError(f"only these functions are allowed: {', '.join(FUNCTIONS)}")
        if node.keywords or not node.args:
            raise ExpressionError(f"{node.func.id}() takes positional arguments only")
    elif isinstance(node, ast.Tuple):
        raise ExpressionError("a comma is not allowed in an expression (write 1000, not 1,000)")
    elif not isinstance(node, (ast.operator, ast.unaryop, ast.expr_context)):
        raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")


def evaluate_expression(text: str, variables: Mapping[str, Fraction]) -> Fraction:
    """Evaluate a formula over `variables`.

    Raises ExpressionError for a malformed formula or an undefined name, EvaluationError when evaluation fails.
    """
    tree, names = compile_expression(text)
    missing = sorted(names - variables.keys())
    if missing:
        raise ExpressionError(f"undefined variable {missing[0]!r} in expression")
    return _evaluate(tree, variables)


def _evaluate(node: ast.expr, variables: Mapping[str, Fraction]) -> Fraction:
    if isinstance(node, ast.Constant):
        try:
            return parse_number(node.value)
        except NumberError as exc:
            raise EvaluationError("limit_exceeded", str(exc)) from None
    if isinstance(node, ast.Name):
        return variables[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, variables)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return apply_operator(type(node.op), _evaluate(node.left, variables), _evaluate(node.right, variables))
    if isinstance(node, ast.Call):
        args = [_evaluate(arg, variables) for arg in node.args]
        try:
            return bounded(FUNCTIONS[node.func.id](*args))  # type: ignore[union-attr]
        except TypeError:
            raise EvaluationError("bad_argument", f"wrong number of arguments to {node.func.id}()") from None  # type: ignore[union-attr]
    raise EvaluationError("bad_expression", f"{type(node).__name__} cannot be evaluated")  # unreachable after checks


def bounded(value: Fraction) -> Fraction:
    try:
        return check_bounds(Fraction(value))
    except NumberError as exc:
        raise EvaluationError("limit_exceeded", str(exc)) from None


def apply_operator(op: type[ast.operator], left: Fraction, right: Fraction) -> Fraction:
    """Apply one arithmetic operator exactly, with the solver's limits. Shared by formulas and compute steps."""
    if op in (ast.Div, ast.FloorDiv, ast.Mod) and right == 0:
        raise EvaluationError("division_by_zero", "division by zero")
    if op is ast.Add:
        return bounded(left + right)
    if op is ast.Sub:
        return bounded(left - right)
    if op is ast.Mult:
        return bounded(left * right)
    if op is ast.Div:
        return bounded(left / right)
    if op is ast.FloorDiv:
        return bounded(Fraction(left // right))
    if op is ast.Mod:
        return bounded(left % right)
    if op is ast.Pow:
        if right.denominator != 1:
            raise EvaluationError("bad_argument", "exponents must be whole numbers")
        if abs(right) > MAX_EXPONENT:
            raise EvaluationError("limit_exceeded", f"exponent {right} exceeds the limit {MAX_EXPONENT}")
        if left == 0 and right < 0:
            raise EvaluationError("division_by_zero", "zero raised to a negative power")
        return bounded(left**right)  # both operands are bounded, so this is at most ~64 * 50 bits
    raise EvaluationError("bad_expression", f"operator {op.__name__} is not allowed")


def is_reserved_name(name: str) -> bool:
    """Names a formula could not refer to: Python keywords and the allowed function names."""
    return keyword.iskeyword(name) or name in FUNCTIONS
