"""Writing trace documents as YAML text in a compact style, which `execute` reads back unchanged."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from typing import Any

from trace_solver.numbers import format_number

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_YAML_WORDS = {"null", "Null", "NULL", "true", "false", "True", "False", "TRUE", "FALSE", "~"}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Fraction)):
        return format_number(Fraction(value))
    if isinstance(value, float):
        return format_number(Fraction(repr(value)))
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_scalar(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if _PLAIN.match(text) and text not in _YAML_WORDS:
        return text
    return json.dumps(text)  # a JSON string is a valid double-quoted YAML scalar


def dump_trace(document: dict[str, Any]) -> str:
    """Serialise {"expert": ..., "trace": [...]} one step per line:

    ```yaml
    expert: comparison
    trace:
    - {init: base, value: 120}
    - formula: {var: person_a, expression: "base * 3"}
    - {query: person_a}
    ```
    """
    lines = [f"expert: {_scalar(document['expert'])}", "trace:"]
    for step in document["trace"]:
        if len(step) == 1 and isinstance(next(iter(step.values())), dict):
            ((kind, body),) = step.items()
            lines.append(f"- {kind}: {_scalar(body)}")
        else:
            lines.append(f"- {_scalar(step)}")
    return "\n".join(lines) + "\n"
