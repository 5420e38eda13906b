"""Formula evaluation over an AST allow-list, in the spirit of simpleeval: never `eval`.

Allowed: numbers, names of variables defined earlier, ``+ - * / // % **``, unary minus/plus, parentheses and the
functions in FUNCTIONS. Everything else is refused with a message that says what was refused.

`parse_arithmetic` is the same parser for number-only calculations (GSM-8K's calculator annotations such as
``48/2``): it refuses variables and functions, and `evaluate_tree` gives the exact value of what it returns.
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

# The binary operators a formula may use, by the name of the compute op that does the same
OPERATOR_NAMES: dict[type[ast.operator], str] = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.FloorDiv: "floordiv",
    ast.Mod: "mod",
    ast.Pow: "pow",
}
_BINARY = set(OPERATOR_NAMES)
_UNARY = {ast.USub, ast.UAdd}


def compile_expression(text: object) -> tuple[ast.expr, frozenset[str]]:
    """Parse and check a formula once; return its AST and the variable names it reads."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expression must be a non-empty string")
    return _compile(text)


@lru_cache(maxsize=4096)
def _compile(text: str) -> tuple[ast.expr, frozenset[str]]:
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression is {len(text)} characters; the limit is {MAX_EXPRESSION_CHARS}")
    if not text.isascii():  # Python folds unicode names (NFKC: 'ｂａｓｅ' is 'base'); variable names are ASCII
        raise ExpressionError(f"expression {text[:60]!r} has non-ASCII characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExpressionError(f"cannot parse expression {text[:60]!r}") from None
    names: set[str] = set()
    _check(tree, names, [0])
    return tree, frozenset(names)


def _check(node: ast.AST, names: set[str], count: list[int]) -> None:
    """Walk the tree through allowed node types only (anything else is refused before its children are seen),
    collecting variable names. `count` tallies nodes as ast.walk would (operators and contexts included)."""
    count[0] += 2 if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Name)) else 1  # + its operator or context
    if count[0] > MAX_EXPRESSION_NODES:
        raise ExpressionError(f"expression has more than {MAX_EXPRESSION_NODES} parts")
    match node:
        case ast.Constant(value=value):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ExpressionError(f"literal {value!r} is not a number")
        case ast.Name(id=name, ctx=ctx):
            if not isinstance(ctx, ast.Load):
                raise ExpressionError("assignment is not allowed in an expression")
            names.add(name)  # a bare function name ("abs + 1") is read as a variable, so it is undefined
        case ast.BinOp(left=left, op=op, right=right):
            if type(op) not in _BINARY:
                raise ExpressionError(f"operator {type(op).__name__} is not allowed")
            _check(left, names, count)
            _check(right, names, count)
        case ast.UnaryOp(op=op, operand=operand):
            if type(op) not in _UNARY:
                raise ExpressionError(f"operator {type(op).__name__} is not allowed")
            _check(operand, names, count)
        case ast.Call(func=func, args=args, keywords=keywords):
            if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
                raise ExpressionError(f"only these functions are allowed: {', '.join(FUNCTIONS)}")
            if keywords or not args:
                raise ExpressionError(f"{func.id}() takes positional arguments only")
            count[0] += 2  # the function's Name and its context; the name itself is not a variable
            for arg in args:
                _check(arg, names, count)
        case ast.Tuple():
            raise ExpressionError("a comma is not allowed in an expression (write 1000, not 1,000)")
        case _:
            raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")


def parse_arithmetic(text: str) -> ast.expr:
    """The checked AST of a calculation on numbers only (``48/2``, ``2*3.5``, ``(16-3)*2``).

    Same limits and refusals as formulas, and also refuses variables and functions: raises ExpressionError.
    """
    tree, names = compile_expression(text)
    if names:
        raise ExpressionError(f"{text[:60]!r} names {sorted(names)[0]!r}; a calculation has numbers only")
    if any(isinstance(node, ast.Call) for node in ast.walk(tree)):
        raise ExpressionError(f"{text[:60]!r} calls a function; a calculation has numbers only")
    return tree


def evaluate_expression(text: str, variables: Mapping[str, Fraction]) -> Fraction:
    """Evaluate a formula over `variables`.

    Raises ExpressionError for a malformed formula or an undefined name, EvaluationError when evaluation fails.
    """
    tree, names = compile_expression(text)
    missing = sorted(names - variables.keys())
    if missing:
        raise ExpressionError(f"undefined variable {missing[0]!r} in expression")
    return evaluate_tree(tree, variables)


def evaluate_tree(node: ast.expr, variables: Mapping[str, Fraction] | None = None) -> Fraction:
    """Exact value of an AST from `compile_expression` or `parse_arithmetic` (numeric literals are read from their
    decimal spelling: 0.1 is 1/10). Raises EvaluationError when evaluation fails or exceeds a limit."""
    return _evaluate(node, variables or {})


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
    """`value` as a Fraction inside the solver's limits, else EvaluationError("limit_exceeded")."""
    try:
        return check_bounds(value if type(value) is Fraction else Fraction(value))  # ints from floor(), min() ...
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
