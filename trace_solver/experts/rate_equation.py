"""rate_equation: rates, speeds, prices per unit and work, through formulas."""

from trace_solver.experts.base import Expert

EXPERT = Expert(
    name="rate_equation",
    description="rates, speeds, unit prices and work, through formulas",
    allowed_steps=frozenset({"init", "formula", "compute", "query"}),
)
