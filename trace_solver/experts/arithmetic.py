"""arithmetic: plain chains of operations on numbers from the question (init, compute, query)."""

from trace_solver.experts.base import Expert

EXPERT = Expert(
    name="arithmetic",
    description="chains of operations on the question's numbers",
    allowed_steps=frozenset({"init", "compute", "query"}),
)
