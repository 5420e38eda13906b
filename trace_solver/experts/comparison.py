"""comparison: quantities defined relative to each other ("three times as many", "50 more than"), then compared."""

from trace_solver.experts.base import Expert

EXPERT = Expert(
    name="comparison",
    description="quantities defined relative to a base and to each other, then compared",
    allowed_steps=frozenset({"init", "formula", "compute", "query"}),
)
