"""Property-based tests (hypothesis): valid traces run and round-trip; random and mutated traces never raise."""

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewards import trace_reward
from trace_solver import EXPERTS, Outcome, Status, dump_trace, execute

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TIERS = (0.0, 0.3, 0.5, 0.7, 1.0)
OPS = ["add", "sub", "mul", "div", "floordiv", "mod", "pow", "min", "max"]

# Words YAML 1.1 or Python could misread are among the names on purpose.
WORDS = ["a", "b", "x", "base", "total", "no", "on", "yes", "off", "null", "true", "nan", "inf", "e", "y", "n", "_",
         "person_a", "apples", "speed", "price", "left", "rate", "sum_", "max_", "e1", "x2", "O", "l"]  # fmt: skip
names = st.tuples(st.sampled_from(WORDS), st.integers(0, 30)).map(lambda t: f"{t[0]}{t[1]}" if t[1] else t[0])
numbers = st.one_of(
    st.integers(-(10**6), 10**6).map(Fraction),
    st.builds(Fraction, st.integers(-(10**6), 10**6), st.sampled_from([2, 3, 4, 5, 8, 10, 100, 1000])),
)


@st.composite
def documents(draw: st.DrawFn) -> dict:
    """A schema-valid trace document built from init, compute, formula and query steps."""
    expert = draw(st.sampled_from(sorted(EXPERTS)))
    allowed = EXPERTS[expert].allowed_steps
    pool = draw(st.lists(names, min_size=2, max_size=12, unique=True))
    n_init = draw(st.integers(1, min(4, len(pool) - 1)))
    defined = pool[:n_init]
    steps: list[dict] = [{"init": name, "value": draw(numbers)} for name in defined]
    for target in pool[n_init:]:
        operand = st.one_of(st.sampled_from(defined), st.integers(-20, 20).map(Fraction))
        if "formula" in allowed and draw(st.booleans()):
            parts = draw(st.lists(operand, min_size=1, max_size=4))
            joins = draw(st.lists(st.sampled_from([" + ", " - ", " * ", " / ", "*"]), min_size=len(parts) - 1,
                                  max_size=len(parts) - 1))  # fmt: skip
            text = str(parts[0]) + "".join(j + f"({p})" for j, p in zip(joins, parts[1:]))
            steps.append({"formula": {"var": target, "expression": text}})
        else:
            op = draw(st.sampled_from(OPS))
            arity = 2 if op in ("floordiv", "mod", "pow") else draw(st.integers(2, 4))
            args = draw(st.lists(operand, min_size=arity, max_size=arity))
            steps.append({"compute": {"op": op, "args": args, "var": target}})
        defined = [*defined, target]
    steps.append({"query": draw(st.sampled_from(defined))})
    return {"expert": expert, "trace": steps}


def _key(outcome: Outcome) -> tuple:
    return outcome.status, outcome.code, outcome.value, outcome.step


def _assert_outcome(outcome: Outcome) -> None:
    assert isinstance(outcome, Outcome) and isinstance(outcome.status, Status)
    assert outcome.ok == (outcome.value is not None) and (outcome.ok or (outcome.code and outcome.message))
    assert outcome.message is None or "\n" not in outcome.message


@SETTINGS
@given(documents())
def test_valid_documents_pass_validation(doc):
    """A generated valid document executes to a value or fails only at execution (division by zero, a limit)."""
    assert execute(doc).status in (Status.OK, Status.EXECUTION_ERROR)


@SETTINGS
@given(documents())
def test_valid_documents_round_trip_through_dump_trace(doc):
    """dump_trace(doc) executes exactly like doc itself."""
    assert _key(execute(dump_trace(doc))) == _key(execute(doc))


@SETTINGS
@given(documents(), st.sampled_from(["", "Sure!\n```yaml\n{}```\nDone.", "Here:\n{}\nThat's it.", "```\n{}"]))
def test_wrapped_documents_execute_like_bare_ones(doc, wrapper):
    """A trace inside code fences or chatter executes exactly like the bare trace."""
    text = dump_trace(doc)
    assert _key(execute(wrapper.format(text) if wrapper else text)) == _key(execute(doc))


@SETTINGS
@given(documents(), st.data())
def test_step_mutations_never_raise(doc, data):
    """Dropping, duplicating, swapping steps, renaming variables or changing ops always ends in an Outcome."""
    steps = list(doc["trace"])
    how = data.draw(st.sampled_from(["drop", "duplicate", "swap", "rename", "op", "kind", "expert"]))
    i = data.draw(st.integers(0, len(steps) - 1))
    j = data.draw(st.integers(0, len(steps) - 1))
    if how == "drop":
        del steps[i]
    elif how == "duplicate":
        steps.insert(j, steps[i])
    elif how == "swap":
        steps[i], steps[j] = steps[j], steps[i]
    elif how == "rename":
        text = dump_trace({**doc, "trace": steps})
        old, new = data.draw(names), data.draw(names)
        _assert_outcome(execute(text.replace(old, new)))
        return
    elif how == "op":
        steps[i] = {"compute": {"op": data.draw(st.text(max_size=8)), "args": [1, 2], "var": "zz"}}
    elif how == "kind":
        steps[i] = {data.draw(st.sampled_from(["transfer", "consume", "percent_off", "formula", "bogus"])): steps[i]}
    else:
        doc = {**doc, "expert": data.draw(st.sampled_from([*EXPERTS, "astrology", ""]))}
    _assert_outcome(execute({**doc, "trace": steps}))


@SETTINGS
@given(documents(), st.data())
def test_text_mutations_never_raise(doc, data):
    """Garbage characters injected into, or text cut from, a valid trace always end in an Outcome."""
    text = dump_trace(doc)
    at = data.draw(st.integers(0, len(text)))
    how = data.draw(st.sampled_from(["inject", "truncate", "delete"]))
    if how == "inject":
        garbage = data.draw(st.text(alphabet=st.sampled_from(list("&*!%@`|>:{}[],-?#'\"\\\t\n \x00\u0430é9.e")),
                                    min_size=1, max_size=6))  # fmt: skip
        text = text[:at] + garbage + text[at:]
    elif how == "truncate":
        text = text[:at]
    else:
        text = text[:at] + text[at + data.draw(st.integers(1, 10)) :]
    _assert_outcome(execute(text))


@SETTINGS
@given(st.text(max_size=300))
def test_random_text_never_raises(text):
    """Arbitrary unicode text ends in an Outcome and scores a tier."""
    _assert_outcome(execute(text))
    assert trace_reward([text], answer=["1"])[0] in TIERS


TOKENS = ["expert:", " arithmetic", " comparison", "trace:", "\n", "- ", "  ", "{", "}", "[", "]", ": ", ", ", "init",
          "compute", "formula", "query", "op", "add", "div", "args", "var", "value", "expression", " a", " b", "0",
          "1e999", ".nan", "&x ", "*x", "!!python/object/apply:os.system ", "---", "? ", '"a * b"', "'9**9**9'",
          "1,000", "no", "~", "|", ">", "#", "%", "@", "`"]  # fmt: skip


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_yaml_like_token_soup_never_raises(text):
    """Random sequences of YAML and trace tokens end in an Outcome and score a tier."""
    _assert_outcome(execute(text))
    assert trace_reward([text], answer=["1"], expert=["arithmetic"])[0] in TIERS


@SETTINGS
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children,
                                                                                       max_size=4),
                    max_leaves=30))  # fmt: skip
def test_random_python_documents_never_raise(doc):
    """Arbitrary nested Python values passed as documents end in an Outcome."""
    _assert_outcome(execute(doc if isinstance(doc, dict) else {"expert": "arithmetic", "trace": doc}))
