"""The structured result of reading and executing one trace: every input ends in exactly one Outcome."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction
from typing import Any


class Status(str, enum.Enum):
    """How far an input got. Ordered: each status means every earlier stage succeeded."""

    PARSE_ERROR = "parse_error"  # no YAML mapping could be read from the text
    NOT_A_TRACE = "not_a_trace"  # a YAML mapping, but not {expert, trace}
    UNKNOWN_EXPERT = "unknown_expert"  # expert names no registered expert
    SCHEMA_ERROR = "schema_error"  # a step is malformed, undefined, or not allowed for the expert
    EXECUTION_ERROR = "execution_error"  # the trace is well-formed but fails when run (division by zero, a limit)
    OK = "ok"  # executed to a value


@dataclass(frozen=True)
class Outcome:
    """Result of `trace_solver.execute`.

    Attributes:
        status: how far the input got.
        code: stable machine-readable failure code (None when ok), e.g. ``"undefined_variable"``.
        message: one line for humans, naming the step index where there is one (None when ok).
        value: the queried value when ok.
        expert: the expert the trace names, when it was read.
        step: 0-based index of the failing step, when the failure belongs to one.
    """

    status: Status
    code: str | None = None
    message: str | None = None
    value: Fraction | None = None
    expert: str | None = None
    step: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def parsed(self) -> bool:
        """True when the text loaded as a YAML mapping (the reward's "parsed" column)."""
        return self.status is not Status.PARSE_ERROR

    def to_dict(self) -> dict[str, Any]:
        from trace_solver.numbers import format_number

        return {
            "status": self.status.value,
            "code": self.code,
            "message": self.message,
            "value": None if self.value is None else format_number(self.value),
            "expert": self.expert,
            "step": self.step,
        }


class TraceError(Exception):
    """Raised inside the solver to end in an Outcome; never escapes `execute`."""

    def __init__(self, status: Status, code: str, message: str, step: int | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.step = status, code, message, step

    def outcome(self, expert: str | None = None) -> Outcome:
        prefix = f"step {self.step}: " if self.step is not None else ""
        return Outcome(self.status, self.code, prefix + self.message, expert=expert, step=self.step)
