"""Executing traces: the seed trace, every step kind, op and expert restriction, and one test per outcome code."""

from fractions import Fraction

import pytest

from trace_solver import EXPERTS, Outcome, Status, dump_trace, execute, expert_names, format_number
from trace_solver.limits import MAX_ARGS, MAX_NAME_CHARS, MAX_STEPS
from trace_solver.steps import OPS, STEP_KINDS

SEED = """expert: comparison
trace:
- {init: base, value: 120}
- formula: {var: person_a, expression: "base * 3"}
- formula: {var: person_b, expression: "base + 50"}
- compute: {op: sub, args: [person_a, person_b], var: difference}
- {query: difference}
"""


def _trace(expert: str, *steps: str) -> str:
    return f"expert: {expert}\ntrace:\n" + "".join(f"- {step}\n" for step in steps)


def _value(expert: str, *steps: str) -> Fraction:
    outcome = execute(_trace(expert, *steps))
    assert outcome.ok, outcome.message
    return outcome.value


def test_seed_trace_executes_to_190():
    """The seed's comparison trace, verbatim, executes to 190."""
    outcome = execute(SEED)
    assert (outcome.status, outcome.value, outcome.expert) == (Status.OK, 190, "comparison")


def test_seed_trace_ok_outcome_has_no_code_or_message():
    """A successful Outcome carries no code, message or step."""
    outcome = execute(SEED)
    assert (outcome.code, outcome.message, outcome.step, outcome.ok) == (None, None, None, True)


def test_tenth_plus_fifth_prints_as_three_tenths():
    """0.1 + 0.2 executes to exactly 0.3 and prints as 0.3."""
    value = _value("arithmetic", "{init: a, value: 0.1}", "{init: b, value: 0.2}",
                   "compute: {op: add, args: [a, b], var: c}", "{query: c}")  # fmt: skip
    assert (value, format_number(value)) == (Fraction(3, 10), "0.3")


def test_integral_result_prints_as_integer():
    """A result that is a whole number prints without a decimal point."""
    value = _value("arithmetic", "{init: a, value: 2.5}", "compute: {op: mul, args: [a, 4], var: c}", "{query: c}")
    assert format_number(value) == "10"


@pytest.mark.parametrize(
    ("op", "args", "expected"),
    [("add", "[7, 3, 2]", 12), ("sub", "[7, 3, 2]", 2), ("mul", "[7, 3, 2]", 42), ("div", "[12, 3, 2]", 2),
     ("floordiv", "[7, 2]", 3), ("mod", "[7, 3]", 1), ("pow", "[2, 10]", 1024), ("min", "[7, 3, 5]", 3),
     ("max", "[7, 3, 5]", 7), ("div", "[7, 2]", Fraction(7, 2))],
)  # fmt: skip
def test_compute_ops(op, args, expected):
    """Every compute op, with sub and div folding left over literal args."""
    step = f"compute: {{op: {op}, args: {args}, var: r}}"
    assert _value("arithmetic", "{init: x, value: 0}", step, "{query: r}") == expected


def test_every_op_is_tested():
    """The op table above covers every registered op (a new op needs a test)."""
    assert set(OPS) == {"add", "sub", "mul", "div", "floordiv", "mod", "pow", "min", "max"}


def test_compute_mixes_variables_and_numbers():
    """compute args may be variable names or numeric literals, including '1,000'-style strings."""
    assert _value("arithmetic", "{init: a, value: 5}", 'compute: {op: add, args: [a, 2, "1,000"], var: r}',
                  "{query: r}") == 1007  # fmt: skip


def test_init_long_form():
    """init also takes the nested form {init: {var: NAME, value: N}}."""
    assert _value("arithmetic", "init: {var: a, value: 4}", "{query: a}") == 4


def test_block_style_steps():
    """Block-style steps load the same as flow-style ones."""
    text = "expert: arithmetic\ntrace:\n- init: a\n  value: 1,000\n- query: a\n"
    assert execute(text).value == 1000


def test_formula_reads_earlier_variables():
    """A formula computes over variables defined before it."""
    assert _value("rate_equation", "{init: speed, value: 60}", "{init: hours, value: 2.5}",
                  'formula: {var: d, expression: "speed * hours"}', "{query: d}") == 150  # fmt: skip


def test_transfer_moves_quantity():
    """transfer moves an amount from one entity to another."""
    assert _value("entity_track", "{init: tom, value: 10}", "{init: ann, value: 3}",
                  "transfer: {from: tom, to: ann, amount: 4}", "{query: ann}") == 7  # fmt: skip


def test_consume_uses_up_quantity():
    """consume subtracts an amount from an entity."""
    assert _value("entity_track", "{init: tom, value: 10}", "{init: eaten, value: 4}",
                  "consume: {from: tom, amount: eaten}", "{query: tom}") == 6  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("percent_off", 80), ("percent_decrease", 80), ("percent_increase", 120), ("percent_of", 20)],
)
def test_percent_steps(kind, expected):
    """percent_off/decrease/increase/of with the percent written as a number (20 for 20%)."""
    assert _value("percentage", "{init: price, value: 100}", f"{kind}: {{base: price, percent: 20, var: r}}",
                  "{query: r}") == expected  # fmt: skip


def test_query_must_name_defined_variable():
    """The query returns the value of the variable it names."""
    assert _value("arithmetic", "{init: a, value: 1}", "{init: b, value: 2}", "{query: a}") == 1


@pytest.mark.parametrize("name", ["no", "on", "yes", "off", "null_count", "true_total"])
def test_yaml_11_words_are_variable_names(name):
    """no/on/yes/off are ordinary variable names, not booleans."""
    assert _value("arithmetic", f"{{init: {name}, value: 3}}", f"{{query: {name}}}") == 3


@pytest.mark.parametrize(("literal", "expected"), [("012", 12), ("$120", 120), ("1e3", 1000), ('"1,000"', 1000)])
def test_number_literals_read_exactly(literal, expected):
    """012 is twelve (not octal), $120 is 120, 1e3 is 1000, a quoted 1,000 is 1000."""
    assert _value("arithmetic", f"{{init: a, value: {literal}}}", "{query: a}") == expected


def test_dict_input_is_executed():
    """execute accepts an already loaded document."""
    doc = {"expert": "arithmetic", "trace": [{"init": "a", "value": 3}, {"query": "a"}]}
    assert execute(doc).value == 3


def test_extract_false_reads_text_as_yaml():
    """With extract=False the whole text is the YAML (a fenced completion then fails to parse as a trace)."""
    assert execute(f"```yaml\n{SEED}```", extract=False).status is Status.PARSE_ERROR


def test_fenced_completion_with_chatter_executes():
    """By default the trace is found inside a code fence surrounded by chatter."""
    assert execute(f"Let me solve it.\n```yaml\n{SEED}```\nThe answer is 190.").value == 190


def test_registry_has_the_five_seed_experts():
    """The registry holds the seed's five experts, sorted by name."""
    assert {"arithmetic", "comparison", "entity_track", "percentage", "rate_equation"} <= set(expert_names())


@pytest.mark.parametrize("expert", sorted(EXPERTS))
def test_every_expert_allows_core_steps(expert):
    """init, compute and query are allowed for every expert (GSM-8K conversions are valid under any)."""
    assert {"init", "compute", "query"} <= EXPERTS[expert].allowed_steps


@pytest.mark.parametrize(
    ("expert", "step"),
    [("arithmetic", 'formula: {var: r, expression: "a * 2"}'), ("arithmetic", "transfer: {from: a, to: a, amount: 1}"),
     ("comparison", "consume: {from: a, amount: 1}"), ("rate_equation", "percent_of: {base: a, percent: 5, var: r}"),
     ("entity_track", 'formula: {var: r, expression: "a"}'), ("percentage", "transfer: {from: a, to: a, amount: 1}")],
)  # fmt: skip
def test_expert_restricts_step_kinds(expert, step):
    """A step kind the expert does not allow is step_not_allowed at its index."""
    outcome = execute(_trace(expert, "{init: a, value: 5}", step, "{query: a}"))
    assert (outcome.status, outcome.code, outcome.step) == (Status.SCHEMA_ERROR, "step_not_allowed", 1)


@pytest.mark.parametrize("kind", sorted(STEP_KINDS))
def test_every_step_kind_is_allowed_by_some_expert(kind):
    """No registered step kind is unreachable."""
    assert any(kind in expert.allowed_steps for expert in EXPERTS.values())


_T = "expert: arithmetic\ntrace:\n"
CODES = [
    # (code, status, text, step index or None)
    ("yaml_syntax", Status.PARSE_ERROR, "expert: [unclosed", None),
    ("yaml_alias", Status.PARSE_ERROR, "a: &x 1\nb: *x", None),
    ("duplicate_key", Status.PARSE_ERROR, _T + "- {init: a, value: 1, value: 2}\n- {query: a}", None),
    ("too_deep", Status.PARSE_ERROR, "[" * 40 + "]" * 40, None),
    ("too_large", Status.PARSE_ERROR, "x" * 70_000, None),
    ("not_a_mapping", Status.PARSE_ERROR, "just a sentence", None),
    ("missing_expert", Status.NOT_A_TRACE, "trace: []", None),
    ("bad_expert", Status.NOT_A_TRACE, "expert: [a]\ntrace: []", None),
    ("missing_trace", Status.NOT_A_TRACE, "expert: arithmetic", None),
    ("unknown_expert", Status.UNKNOWN_EXPERT, "expert: astrology\ntrace: []", None),
    ("unknown_key", Status.SCHEMA_ERROR, _T + "- {query: a}\nextra: 1", None),
    ("trace_not_a_list", Status.SCHEMA_ERROR, _T + "  a: 1", None),
    ("missing_query", Status.SCHEMA_ERROR, _T + "- {init: a, value: 1}", 0),
    ("too_many_steps", Status.SCHEMA_ERROR, _T + "- {init: a, value: 1}\n" * (MAX_STEPS + 1), None),
    ("bad_step", Status.SCHEMA_ERROR, _T + "- just text\n- {query: a}", 0),
    ("unknown_step", Status.SCHEMA_ERROR, _T + "- {init: a, value: 1}\n- {multiply: a}\n- {query: a}", 1),
    ("step_not_allowed", Status.SCHEMA_ERROR, _T + "- {init: a, value: 1}\n- formula: {var: b, expression: a}", 1),
    ("missing_field", Status.SCHEMA_ERROR, _T + "- {init: a}\n- {query: a}", 0),
    ("bad_name", Status.SCHEMA_ERROR, _T + "- {init: 2a, value: 1}\n- {query: a}", 0),
    ("duplicate_variable", Status.SCHEMA_ERROR, _T + "- {init: a, value: 1}\n- {init: a, value: 2}\n- {query: a}", 1),
    ("undefined_variable", Status.SCHEMA_ERROR, _T + "- {init: a, value: 1}\n- {query: b}", 1),
    ("bad_number", Status.SCHEMA_ERROR, _T + "- {init: a, value: lots}\n- {query: a}", 0),
    ("bad_args", Status.SCHEMA_ERROR, _T + "- {init: a, value: 1}\n- compute: {op: add, args: [a], var: b}", 1),
    ("unknown_op", Status.SCHEMA_ERROR, _T + "- {init: a, value: 1}\n- compute: {op: plus, args: [a, 1], var: b}", 1),
    ("query_not_last", Status.SCHEMA_ERROR, _T + "- {init: a, value: 1}\n- {query: a}\n- {init: b, value: 2}", 1),
    ("bad_expression", Status.SCHEMA_ERROR,
     "expert: comparison\ntrace:\n- {init: a, value: 1}\n- formula: {var: b, expression: 'a.real'}\n- {query: b}", 1),
    ("division_by_zero", Status.EXECUTION_ERROR,
     _T + "- {init: a, value: 0}\n- compute: {op: div, args: [1, a], var: b}\n- {query: b}", 1),
    ("limit_exceeded", Status.EXECUTION_ERROR,
     _T + "- {init: a, value: 1000000}\n- compute: {op: pow, args: [a, 3], var: b}\n- {query: b}", 1),
    ("bad_argument", Status.EXECUTION_ERROR,
     _T + "- {init: a, value: 2}\n- compute: {op: pow, args: [a, 0.5], var: b}\n- {query: b}", 1),
    ("bad_arity", Status.EXECUTION_ERROR,
     _T + "- {init: a, value: 7}\n- compute: {op: mod, args: [a, 2, 3], var: b}\n- {query: b}", 1),
    ("negative_quantity", Status.EXECUTION_ERROR,
     "expert: entity_track\ntrace:\n- {init: a, value: 3}\n- consume: {from: a, amount: 5}\n- {query: a}", 1),
]  # fmt: skip


@pytest.mark.parametrize(("code", "status", "text", "step"), CODES, ids=[row[0] for row in CODES])
def test_outcome_code(code, status, text, step):
    """Each failure yields its status, its stable code and the index of the failing step."""
    outcome = execute(text)
    assert (outcome.status, outcome.code, outcome.step) == (status, code, step)


@pytest.mark.parametrize(("code", "status", "text", "step"), CODES, ids=[row[0] for row in CODES])
def test_failure_message_is_one_line_naming_step(code, status, text, step):
    """Every failure message is one non-empty line, starting with 'step N:' when a step failed."""
    message = execute(text).message
    assert message and "\n" not in message and message.startswith(f"step {step}: " if step is not None else "")


def test_schema_errors_are_found_before_execution():
    """A schema error anywhere wins over an execution error earlier in the trace (nothing runs before validation)."""
    outcome = execute(_T + "- {init: a, value: 0}\n- compute: {op: div, args: [1, a], var: b}\n- {query: nope}")
    assert outcome.code == "undefined_variable"


def test_failed_outcome_keeps_registered_expert():
    """A schema or execution failure still reports the registered expert the trace names."""
    assert execute(_T + "- {init: a, value: 1}\n- {query: b}").expert == "arithmetic"


def test_unknown_expert_outcome_has_no_expert():
    """An unknown expert is not reported as the Outcome's expert."""
    assert execute("expert: astrology\ntrace: []").expert is None


def test_unquoted_thousands_in_flow_step_hints_at_comma():
    """`{init: a, value: 1,000}` is unknown_key with a hint about the comma."""
    outcome = execute(_T + "- {init: a, value: 1,000}\n- {query: a}")
    assert outcome.code == "unknown_key" and "1000, not 1,000" in outcome.message


def test_too_many_args_is_refused():
    """compute takes at most MAX_ARGS args."""
    args = ", ".join(["1"] * (MAX_ARGS + 1))
    assert execute(_T + f"- compute: {{op: add, args: [{args}], var: b}}\n- {{query: b}}").code == "bad_args"


def test_long_name_is_refused():
    """Variable names longer than MAX_NAME_CHARS are bad_name."""
    name = "a" * (MAX_NAME_CHARS + 1)
    assert execute(_T + f"- {{init: {name}, value: 1}}\n- {{query: {name}}}").code == "bad_name"


@pytest.mark.parametrize("name", ["abs", "lambda", "None", "a-b", "a b", "é", "a\\n"])
def test_bad_or_reserved_names_are_refused(name):
    """Reserved words, non-identifiers, non-ASCII names and names with a trailing newline are bad_name."""
    assert execute(_T + f'- {{init: "{name}", value: 1}}\n- {{query: a}}').code == "bad_name"


def test_unexpected_exception_becomes_internal_error(monkeypatch):
    """A bug inside a step still ends in an Outcome (internal_error), never an exception."""

    def broken(values):
        raise RuntimeError("bug")

    monkeypatch.setitem(OPS, "add", broken)
    outcome = execute(_T + "- {init: a, value: 1}\n- compute: {op: add, args: [a, 1], var: b}\n- {query: b}")
    assert (outcome.status, outcome.code) == (Status.EXECUTION_ERROR, "internal_error")


def test_outcome_to_dict_prints_value_exactly():
    """Outcome.to_dict gives the value as exact text, ready for JSON."""
    assert execute(SEED).to_dict() == {
        "status": "ok", "code": None, "message": None, "value": "190", "expert": "comparison", "step": None,
    }  # fmt: skip


def test_parsed_is_false_only_for_parse_errors():
    """Outcome.parsed is the reward's 'parsed' column: anything but PARSE_ERROR."""
    assert [Outcome(status).parsed for status in Status] == [status is not Status.PARSE_ERROR for status in Status]


def test_dump_trace_writes_seed_style():
    """dump_trace writes the seed's one-step-per-line style, which executes to the same value."""
    doc = {"expert": "comparison", "trace": [
        {"init": "base", "value": 120},
        {"formula": {"var": "person_a", "expression": "base * 3"}},
        {"formula": {"var": "person_b", "expression": "base + 50"}},
        {"compute": {"op": "sub", "args": ["person_a", "person_b"], "var": "difference"}},
        {"query": "difference"},
    ]}  # fmt: skip
    assert dump_trace(doc) == SEED


@pytest.mark.parametrize("name", ["no", "on", "null", "true", "yes"])
def test_dump_trace_round_trips_yaml_words(name):
    """Names YAML could misread survive dump_trace and execute."""
    doc = {"expert": "arithmetic", "trace": [{"init": name, "value": Fraction(1, 3)}, {"query": name}]}
    assert execute(dump_trace(doc)).value == Fraction(1, 3)


def test_transfer_of_a_whole_holding_moves_its_value_before_it_changes():
    """transfer {amount: from} moves the amount the source held, not the emptied value."""
    text = (
        "expert: entity_track\ntrace:\n- {init: a, value: 5}\n- {init: b, value: 1}\n"
        "- transfer: {from: a, to: b, amount: a}\n- {query: b}"
    )
    assert execute(text).value == 6


def test_transfer_past_the_magnitude_limit_is_an_execution_error():
    """A transfer that pushes the receiver past MAX_MAGNITUDE ends in limit_exceeded."""
    text = (
        "expert: entity_track\ntrace:\n- {init: a, value: 900000000000000}\n- {init: b, value: 900000000000000}\n"
        "- transfer: {from: a, to: b, amount: a}\n- {query: b}"
    )
    outcome = execute(text)
    assert (outcome.status, outcome.code, outcome.step) == (Status.EXECUTION_ERROR, "limit_exceeded", 2)


def test_read_steps_gives_the_checked_steps_that_execute_runs() -> None:
    """`read_steps` expands shorthand and reads numbers as Fractions, and refuses what `execute` refuses."""
    from trace_solver.executor import read_steps
    from trace_solver.outcome import TraceError

    document = {
        "expert": "arithmetic",
        "trace": [
            {"init": "a", "value": "1/2"},
            {"compute": {"op": "mul", "args": ["a", 4], "var": "b"}},
            {"query": "b"},
        ],
    }
    kinds, params = read_steps(document)
    assert [kind.name for kind in kinds] == ["init", "compute", "query"]
    assert params[0]["value"] == Fraction(1, 2) and params[1]["args"] == ["a", Fraction(4)]
    document["trace"][1]["compute"]["args"] = ["missing", 4]
    with pytest.raises(TraceError) as refused:
        read_steps(document)
    assert refused.value.code == execute(document).code == "undefined_variable"
