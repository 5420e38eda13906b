"""percentage: discounts, increases, decreases and percent-of, with the percent written as a number (20 for 20%)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from trace_solver.experts.base import Expert
from trace_solver.expressions import bounded
from trace_solver.steps import Env, Field, Params, StepKind, register_step, value_of

_FIELDS = (Field("base", "operand"), Field("percent", "operand"), Field("var", "target"))


def _percent_step(name: str, factor: Callable[[Fraction], Fraction], doc: str) -> StepKind:
    def run(params: Params, env: Env) -> None:
        base = value_of(params["base"], env)  # type: ignore[arg-type]
        percent = value_of(params["percent"], env)  # type: ignore[arg-type]
        env[params["var"]] = bounded(base * factor(percent / 100))  # type: ignore[index]

    return register_step(StepKind(name, _FIELDS, run, doc=doc))


PERCENT_STEPS = (
    _percent_step("percent_off", lambda p: 1 - p, "base reduced by percent (a discount)"),
    _percent_step("percent_decrease", lambda p: 1 - p, "base decreased by percent"),
    _percent_step("percent_increase", lambda p: 1 + p, "base increased by percent"),
    _percent_step("percent_of", lambda p: p, "percent of base"),
)

EXPERT = Expert(
    name="percentage",
    description="discounts, increases, decreases and percent-of",
    allowed_steps=frozenset({"init", "compute", "formula", "query"} | {step.name for step in PERCENT_STEPS}),
)
