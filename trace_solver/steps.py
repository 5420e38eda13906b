"""Step kinds: the vocabulary of traces.

A step kind declares its fields and how it runs. The core kinds (init, compute, formula, query) live here; an expert
module may register its own kinds (entity_track's transfer and consume, percentage's percent_* steps) with
`register_step`, so adding an expert never means editing this file.

Field types:
    target      a new variable name the step defines
    variable    a variable defined by an earlier step
    operand     a variable or a number
    operands    a list of 2..MAX_ARGS operands
    number      a number literal (``120``, ``"1,000"``, ``"$12.50"``)
    expression  a formula over earlier variables (see expressions.py)
    op          a compute operator name (see OPS)
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import reduce

from trace_solver.expressions import apply_operator, bounded, evaluate_expression

Operand = str | Fraction
Env = dict[str, Fraction]
Params = dict[str, object]


class StepFailure(ArithmeticError):
    """A step failed while running; `code` is the Outcome's code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # one of the field types in the module docstring
    required: bool = True


@dataclass(frozen=True)
class StepKind:
    """One kind of step.

    `primary` names the field that may be written as the kind key's own value, so ``{init: base, value: 3}`` means
    ``init: {var: base, value: 3}``. `run` receives validated params (names as str, numbers as Fraction) and the
    variables so far; it assigns into them, and returns the queried value for a query step.
    """

    name: str
    fields: tuple[Field, ...]
    run: Callable[[Params, Env], Fraction | None]
    primary: str | None = None
    doc: str = ""


STEP_KINDS: dict[str, StepKind] = {}


def register_step(kind: StepKind) -> StepKind:
    if kind.name in STEP_KINDS and STEP_KINDS[kind.name] is not kind:
        raise ValueError(f"step kind {kind.name!r} is already registered")
    STEP_KINDS[kind.name] = kind
    return kind


def value_of(operand: Operand, env: Env) -> Fraction:
    return env[operand] if isinstance(operand, str) else operand


def _fold(op: type[ast.operator]) -> Callable[[list[Fraction]], Fraction]:
    return lambda values: reduce(lambda a, b: apply_operator(op, a, b), values)


def _binary(op: type[ast.operator], name: str) -> Callable[[list[Fraction]], Fraction]:
    def run(values: list[Fraction]) -> Fraction:
        if len(values) != 2:
            raise StepFailure("bad_arity", f"{name} takes exactly 2 args, got {len(values)}")
        return apply_operator(op, values[0], values[1])

    return run


# compute operators; sub and div fold left: sub [a, b, c] = a - b - c.
OPS: dict[str, Callable[[list[Fraction]], Fraction]] = {
    "add": _fold(ast.Add),
    "sub": _fold(ast.Sub),
    "mul": _fold(ast.Mult),
    "div": _fold(ast.Div),
    "floordiv": _binary(ast.FloorDiv, "floordiv"),
    "mod": _binary(ast.Mod, "mod"),
    "pow": _binary(ast.Pow, "pow"),
    "min": lambda values: min(values),
    "max": lambda values: max(values),
}


def _run_init(params: Params, env: Env) -> None:
    env[params["var"]] = params["value"]  # type: ignore[index]


def _run_compute(params: Params, env: Env) -> None:
    values = [value_of(arg, env) for arg in params["args"]]  # type: ignore[union-attr]
    env[params["var"]] = bounded(OPS[params["op"]](values))  # type: ignore[index]


def _run_formula(params: Params, env: Env) -> None:
    env[params["var"]] = evaluate_expression(params["expression"], env)  # type: ignore[index, arg-type]


def _run_query(params: Params, env: Env) -> Fraction:
    return env[params["var"]]  # type: ignore[index]


INIT = register_step(
    StepKind(
        "init",
        (Field("var", "target"), Field("value", "number")),
        _run_init,
        primary="var",
        doc="define a variable from a number in the question",
    )
)
COMPUTE = register_step(
    StepKind(
        "compute",
        (Field("op", "op"), Field("args", "operands"), Field("var", "target")),
        _run_compute,
        doc="apply an operator to variables and numbers",
    )
)
FORMULA = register_step(
    StepKind(
        "formula",
        (Field("var", "target"), Field("expression", "expression")),
        _run_formula,
        doc="evaluate an arithmetic expression over earlier variables",
    )
)
QUERY = register_step(
    StepKind("query", (Field("var", "variable"),), _run_query, primary="var", doc="the answer; must be the last step")
)
CORE_STEPS = frozenset({"init", "compute", "query"})
