"""entity_track: quantities held by named entities that are moved (transfer) or used up (consume)."""

from __future__ import annotations

from trace_solver.experts.base import Expert
from trace_solver.steps import Env, Field, Params, StepFailure, StepKind, register_step, value_of


def _take(env: Env, source: str, amount_operand: object) -> None:
    amount = value_of(amount_operand, env)  # type: ignore[arg-type]
    if amount < 0:
        raise StepFailure("negative_quantity", f"amount {amount} is negative")
    if amount > env[source]:
        raise StepFailure("negative_quantity", f"{source} has {env[source]}, cannot give up {amount}")
    env[source] -= amount


def _run_transfer(params: Params, env: Env) -> None:
    _take(env, params["from"], params["amount"])  # type: ignore[arg-type]
    env[params["to"]] += value_of(params["amount"], env)  # type: ignore[arg-type, index]


def _run_consume(params: Params, env: Env) -> None:
    _take(env, params["from"], params["amount"])  # type: ignore[arg-type]


register_step(
    StepKind(
        "transfer",
        (Field("from", "variable"), Field("to", "variable"), Field("amount", "operand")),
        _run_transfer,
        doc="move an amount from one entity's quantity to another's",
    )
)
register_step(
    StepKind(
        "consume",
        (Field("from", "variable"), Field("amount", "operand")),
        _run_consume,
        doc="use up (eat, spend, lose) an amount of an entity's quantity",
    )
)

EXPERT = Expert(
    name="entity_track",
    description="quantities held by named entities, moved between them or used up",
    allowed_steps=frozenset({"init", "compute", "transfer", "consume", "query"}),
)
