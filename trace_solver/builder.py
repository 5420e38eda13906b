"""`TraceBuilder`: a trace document built step by step, with safe variable names and every value mirrored.

The synthetic generators (``experts/_phrasing.py``) and the data converters (``gsm8k.py``) both build traces with it:

>>> b = TraceBuilder("arithmetic")
>>> total = b.compute("add", [b.init("apples", 3), b.init("pears", 4)], "total")
>>> b.document(total)["trace"][-1], b[total]
({'query': 'total'}, Fraction(7, 1))

Names come from `make_identifier`: valid identifiers that the solver and YAML read back as names (never a Python
keyword, a formula function or a YAML 1.1 scalar such as ``yes``/``no``/``on``). With ``places`` set, every value
must be clean (`is_clean`), else `Retry`: a generator then draws its numbers again.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from trace_solver.experts.base import Example
from trace_solver.expressions import evaluate_expression, is_reserved_name
from trace_solver.numbers import format_number
from trace_solver.steps import OPS, STEP_KINDS

MAX_VALUE = 10**6  # no intermediate value of a clean (generated) trace exceeds this
MAX_NAME_CHARS = 32  # variable names the builder makes (the solver accepts longer ones)
# YAML 1.1 reads these plain scalars as booleans or null, so `{init: yes}` would not be a name.
YAML_SCALARS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "nan", "inf"})


class Retry(Exception):
    """A value is not clean at the builder's `places` (a fraction, a negative count); draw the numbers again."""


class GenerationError(RuntimeError):
    """A generator produced a trace that does not execute to its answer (a bug), or cannot produce one at all."""


def make_identifier(hint: str, taken: set[str], fallback: str) -> str:
    """A unique, valid identifier from `hint` that the solver and YAML read back as a name; adds it to `taken`."""
    base = re.sub(r"[^a-z0-9_]+", "_", hint.lower())[:MAX_NAME_CHARS].strip("_") or fallback
    if base[0].isdigit():
        base = f"{fallback}_{base}"
    if keyword.iskeyword(base) or keyword.issoftkeyword(base) or is_reserved_name(base) or base in YAML_SCALARS:
        base = f"{base}_var"
    name, counter = base, 2
    while name in taken:
        name, counter = f"{base}_{counter}", counter + 1
    taken.add(name)
    return name


def var_name(text: str) -> str:
    """A trace variable name for a phrase: ``"the north store"`` -> ``north_store``."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", text.lower()) if w and w not in ("the", "a", "an", "of")]
    name = "_".join(words) or "x"
    return name if not name[0].isdigit() else f"n_{name}"


def is_clean(value: Fraction, places: int = 0) -> bool:
    """Non-negative, at most MAX_VALUE, and exact at `places` decimal places (0: an integer; 2: money)."""
    return 0 <= value <= MAX_VALUE and (value * 10**places).denominator == 1


def _operand(value: Any) -> Any:
    """Numbers go into the document as int where integral, as Fraction otherwise (dump_trace prints 12.5)."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    return value


class TraceBuilder:
    """Builds a trace document step by step while computing every variable's value.

    `places`: None accepts any value the solver holds; an integer makes every value satisfy `is_clean` at that
    many decimal places, else `Retry`. A step whose arithmetic fails (division by zero, a solver limit) raises the
    solver's ArithmeticError.
    """

    def __init__(self, expert: str, places: int | None = None):
        self.expert = expert
        self.places = places
        self.steps: list[dict[str, Any]] = []
        self.env: dict[str, Fraction] = {}  # every variable defined so far, with its value

    def __getitem__(self, name: str) -> Fraction:
        return self.env[name]

    @property
    def operations(self) -> int:
        """Steps other than init and query."""
        return sum(1 for step in self.steps if not ({"init", "query"} & step.keys()))

    def fresh(self, base: str, fallback: str = "x") -> str:
        """A new variable name from `base` (a phrase or a name hint), unused in this trace so far (not reserved:
        defining it with a step does that)."""
        return make_identifier(var_name(base) if base.strip() else "", set(self.env), fallback)

    def _store(self, name: str, value: Fraction) -> None:
        if self.places is not None and not is_clean(value, self.places):
            raise Retry
        self.env[name] = value

    def init(self, base: str, value: Fraction | int, fallback: str = "x") -> str:
        """An init step for `value`; returns its variable."""
        name = self.fresh(base, fallback)
        self._store(name, Fraction(value))
        self.steps.append({"init": name, "value": _operand(Fraction(value))})
        return name

    def compute(self, op: str, args: Sequence[str | int | Fraction], base: str, fallback: str = "x") -> str:
        """A compute step over variables and literals; returns its variable."""
        values = [self.env[a] if isinstance(a, str) else Fraction(a) for a in args]
        if self.places is not None and op == "div" and any(v == 0 for v in values[1:]):
            raise Retry
        name = self.fresh(base, fallback)
        self._store(name, OPS[op](values))
        self.steps.append({"compute": {"op": op, "args": [_operand(a) for a in args], "var": name}})
        return name

    def formula(self, base: str, expression: str) -> str:
        """A formula step over earlier variables; returns its variable."""
        name = self.fresh(base)
        try:
            value = evaluate_expression(expression, self.env)
        except ArithmeticError:
            if self.places is None:
                raise
            raise Retry from None
        self._store(name, value)
        self.steps.append({"formula": {"var": name, "expression": expression}})
        return name

    def step(self, kind: str, body: dict[str, Any], target: str | None = None) -> str | None:
        """An expert-registered step (transfer, consume, percent_*). `target` is the new variable's base name if the
        step defines one (its ``var`` field); values are mirrored by running the registered step on a copy."""
        if target is not None:
            body = {**body, "var": self.fresh(target)}
        params = {k: (Fraction(v) if isinstance(v, (int, Fraction)) else v) for k, v in body.items()}
        env = dict(self.env)
        try:
            STEP_KINDS[kind].run(params, env)
        except ArithmeticError:  # StepFailure (a negative quantity) or a limit
            if self.places is None:
                raise
            raise Retry from None
        for name, value in env.items():
            if self.env.get(name) != value:
                self._store(name, value)
        self.steps.append({kind: {k: _operand(v) for k, v in body.items()}})
        return body.get("var")

    def document(self, query: str, steps: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The trace document: `steps` (default: all built so far) and a query of `query`."""
        return {"expert": self.expert, "trace": [*(self.steps if steps is None else steps), {"query": query}]}

    def finish(self, question: str, answer_var: str, template: str, operations: int) -> Example:
        """Close the trace with its query, execute it and return the Example; raise GenerationError if it is wrong."""
        from trace_solver.executor import execute  # imported here: the executor imports the expert registry
        from trace_solver.numbers import answers_match

        if self.operations != operations:
            raise GenerationError(f"{template}: built {self.operations} operations, asked for {operations}")
        document = self.document(answer_var)
        answer = format_number(self.env[answer_var])
        outcome = execute(document)
        if not outcome.ok or not answers_match(outcome.value, answer):
            raise GenerationError(f"{template}: trace gives {outcome.value} ({outcome.code}), expected {answer}")
        return Example(question=re.sub(r"\s+", " ", question).strip(), trace=document, answer=answer, template=template)
