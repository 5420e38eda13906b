"""Validate and execute a trace document. `execute` never raises: every input ends in an Outcome."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from trace_solver.experts import get_expert
from trace_solver.expressions import EvaluationError, ExpressionError, compile_expression, is_reserved_name
from trace_solver.limits import MAX_ARGS, MAX_NAME_CHARS, MAX_STEPS
from trace_solver.loader import load_completion, load_yaml
from trace_solver.numbers import NumberError, parse_number
from trace_solver.outcome import Outcome, Status, TraceError
from trace_solver.steps import OPS, STEP_KINDS, StepFailure, StepKind

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # \Z, not $: "a\n" is not a name
_DOCUMENT_KEYS = ("expert", "trace")


def execute(trace: str | dict[str, Any], *, extract: bool = True) -> Outcome:
    """Read, validate and run a trace.

    Args:
        trace: a completion or YAML text (str), or an already loaded document (dict).
        extract: for text, find the YAML inside code fences or chatter first (see loader.extract_yaml).

    Returns:
        An Outcome; `outcome.value` holds the queried value when `outcome.ok`.
    """
    expert_name = document = None
    try:
        if isinstance(trace, str):
            document = load_completion(trace) if extract else load_yaml(trace)
        else:
            document = trace
        expert_name, steps = _read_document(document)
        kinds, params = _validate_steps(expert_name, steps)
        value = _run(kinds, params)
        return Outcome(Status.OK, value=value, expert=expert_name)
    except TraceError as error:
        return error.outcome(expert_name or _registered_expert(document))
    except Exception as exc:  # a bug or an input we did not foresee must still end in an Outcome
        return Outcome(
            Status.EXECUTION_ERROR, "internal_error", f"internal error: {type(exc).__name__}", expert=expert_name
        )


def read_steps(document: Any) -> tuple[list[StepKind], list[dict[str, Any]]]:
    """The steps of a loaded trace document as the executor runs them: each step's kind and its checked parameters
    (shorthand expanded, numbers and numeric operands as Fractions). Raises TraceError where `execute` would refuse
    the trace before running it."""
    return _validate_steps(*_read_document(document))


def _registered_expert(document: Any) -> str | None:
    """The document's expert if it names a registered one, so early schema errors still report it."""
    if isinstance(document, dict) and get_expert(document.get("expert")) is not None:
        return document["expert"]
    return None


def _read_document(document: Any) -> tuple[str, list[Any]]:
    if not isinstance(document, dict):
        kind = "empty" if document is None else type(document).__name__
        raise TraceError(
            Status.PARSE_ERROR, "not_a_mapping", f"expected a YAML mapping with expert and trace, got {kind}"
        )
    if "expert" not in document:
        raise TraceError(Status.NOT_A_TRACE, "missing_expert", "the document has no 'expert' key")
    expert_name = document["expert"]
    if not isinstance(expert_name, str):
        raise TraceError(Status.NOT_A_TRACE, "bad_expert", "'expert' must be an expert name")
    if "trace" not in document:
        raise TraceError(Status.NOT_A_TRACE, "missing_trace", "the document has no 'trace' key")
    if get_expert(expert_name) is None:
        from trace_solver.experts import expert_names

        raise TraceError(
            Status.UNKNOWN_EXPERT,
            "unknown_expert",
            f"unknown expert {expert_name[:40]!r}; known: {', '.join(expert_names())}",
        )
    extra = [key for key in document if key not in _DOCUMENT_KEYS]
    if extra:
        raise TraceError(Status.SCHEMA_ERROR, "unknown_key", f"unknown top-level key {str(extra[0])[:40]!r}")
    steps = document["trace"]
    if not isinstance(steps, list):
        raise TraceError(Status.SCHEMA_ERROR, "trace_not_a_list", "'trace' must be a list of steps")
    if not steps:
        raise TraceError(Status.SCHEMA_ERROR, "missing_query", "the trace is empty; it must end with a query step")
    if len(steps) > MAX_STEPS:
        raise TraceError(
            Status.SCHEMA_ERROR, "too_many_steps", f"the trace has {len(steps)} steps; the limit is {MAX_STEPS}"
        )
    return expert_name, steps


def _schema(code: str, message: str, index: int) -> TraceError:
    return TraceError(Status.SCHEMA_ERROR, code, message, step=index)


def _step_params(step: Any, index: int) -> tuple[StepKind, dict[Any, Any]]:
    """Split a step into its kind and its raw fields, accepting both {kind: NAME, k: v} and {kind: {k: v}}."""
    if not isinstance(step, dict):
        raise _schema(
            "bad_step", f"a step must be a mapping like {{init: x, value: 3}}, got {type(step).__name__}", index
        )
    kinds = [key for key in step if isinstance(key, str) and key in STEP_KINDS]
    if len(kinds) != 1:
        if kinds:
            raise _schema("bad_step", f"a step has one kind, got {', '.join(kinds)}", index)
        first = str(next(iter(step), ""))[:40]
        raise _schema("unknown_step", f"unknown step kind {first!r}; known: {', '.join(sorted(STEP_KINDS))}", index)
    kind = STEP_KINDS[kinds[0]]
    body = step[kind.name]
    rest = {key: value for key, value in step.items() if key != kind.name}
    if isinstance(body, dict):
        if rest:
            raise _schema("unknown_key", f"{kind.name}: unexpected key {str(next(iter(rest)))[:40]!r}", index)
        return kind, body
    if kind.primary is None:
        raise _schema("bad_step", f"{kind.name} takes a mapping of fields", index)
    return kind, {kind.primary: body, **rest}


_FIELD_NAMES: dict[str, set[str]] = {}  # step kind -> its field names, filled on first use (experts register kinds)


def _validate_steps(expert_name: str, steps: list[Any]) -> tuple[list[StepKind], list[dict[str, Any]]]:
    """Check every step statically (names, types, order) before anything runs."""
    expert = get_expert(expert_name)
    assert expert is not None
    defined: set[str] = set()
    kinds: list[StepKind] = []
    validated: list[dict[str, Any]] = []
    for index, step in enumerate(steps):
        kind, raw = _step_params(step, index)
        if kind.name not in expert.allowed_steps:
            allowed = ", ".join(sorted(expert.allowed_steps))
            raise _schema(
                "step_not_allowed", f"{kind.name} is not allowed for {expert_name} (allowed: {allowed})", index
            )
        known = _FIELD_NAMES.get(kind.name) or _FIELD_NAMES.setdefault(kind.name, {f.name for f in kind.fields})
        for key in raw:
            if key not in known:
                hint = " (a number with a comma inside {...}? write 1000, not 1,000)" if str(key).isdigit() else ""
                raise _schema("unknown_key", f"{kind.name}: unexpected key {str(key)[:40]!r}{hint}", index)
        params: dict[str, Any] = {}
        for field in kind.fields:
            if field.name not in raw or raw[field.name] is None:
                if field.required:
                    raise _schema("missing_field", f"{kind.name}: missing '{field.name}'", index)
                continue
            params[field.name] = _check_field(kind.name, field.name, field.type, raw[field.name], defined, index)
        for field in kind.fields:
            if field.type == "target" and field.name in params:
                defined.add(params[field.name])
        if kind.name == "query" and index != len(steps) - 1:
            raise _schema("query_not_last", "query must be the last step", index)
        kinds.append(kind)
        validated.append(params)
    if kinds[-1].name != "query":
        raise _schema("missing_query", "the trace must end with a query step", len(steps) - 1)
    return kinds, validated


def _check_name(kind: str, field: str, raw: Any, index: int) -> str:
    if not isinstance(raw, str) or len(raw) > MAX_NAME_CHARS or not _NAME.match(raw):
        shown = str(raw)[:40]
        raise _schema("bad_name", f"{kind}.{field}: {shown!r} is not a variable name (letters, digits, _)", index)
    if is_reserved_name(raw):
        raise _schema("bad_name", f"{kind}.{field}: {raw!r} is a reserved word", index)
    return raw


def _check_operand(kind: str, field: str, raw: Any, defined: set[str], index: int) -> str | Fraction:
    if isinstance(raw, str) and _NAME.match(raw):
        if raw not in defined:
            raise _schema("undefined_variable", f"{kind}.{field}: undefined variable {raw[:40]!r}", index)
        return raw
    try:
        return parse_number(raw)
    except NumberError as exc:
        raise _schema("bad_number", f"{kind}.{field}: {exc}", index) from None


def _check_field(kind: str, field: str, type_: str, raw: Any, defined: set[str], index: int) -> Any:
    if type_ == "target":
        name = _check_name(kind, field, raw, index)
        if name in defined:
            raise _schema("duplicate_variable", f"{kind}.{field}: {name!r} is already defined", index)
        return name
    if type_ == "variable":
        name = _check_name(kind, field, raw, index)
        if name not in defined:
            raise _schema("undefined_variable", f"{kind}.{field}: undefined variable {name!r}", index)
        return name
    if type_ == "operand":
        return _check_operand(kind, field, raw, defined, index)
    if type_ == "operands":
        if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_ARGS:
            raise _schema("bad_args", f"{kind}.{field}: expected a list of 2 to {MAX_ARGS} variables or numbers", index)
        return [_check_operand(kind, field, item, defined, index) for item in raw]
    if type_ == "number":
        try:
            return parse_number(raw)
        except NumberError as exc:
            raise _schema("bad_number", f"{kind}.{field}: {exc}", index) from None
    if type_ == "expression":
        if isinstance(raw, Fraction):  # `expression: 12` is a constant formula
            return str(raw)
        try:
            _, names = compile_expression(raw)
        except ExpressionError as exc:
            raise _schema("bad_expression", f"{kind}.{field}: {exc}", index) from None
        missing = sorted(names - defined)
        if missing:
            raise _schema("undefined_variable", f"{kind}.{field}: undefined variable {missing[0][:40]!r}", index)
        return raw
    if type_ == "op":
        if not isinstance(raw, str) or raw not in OPS:
            raise _schema("unknown_op", f"{kind}.{field}: unknown op {str(raw)[:20]!r}; known: {', '.join(OPS)}", index)
        return raw
    raise _schema("bad_step", f"{kind}.{field}: unknown field type {type_}", index)


def _run(kinds: list[StepKind], params: list[dict[str, Any]]) -> Fraction:
    env: dict[str, Fraction] = {}
    result: Fraction | None = None
    for index, (kind, values) in enumerate(zip(kinds, params)):
        try:
            result = kind.run(values, env)
        except (StepFailure, EvaluationError) as exc:
            raise TraceError(Status.EXECUTION_ERROR, exc.code, f"{kind.name}: {exc}", step=index) from None
    assert result is not None  # validation guarantees a final query
    return result
