"""Reading YAML from model output: extraction rules, the safe loader, YAML 1.1 implicit typing, refusals."""

import re
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from trace_solver import extract_yaml
from trace_solver.limits import MAX_COMPLETION_CHARS, MAX_TRACE_CHARS, MAX_YAML_DEPTH, MAX_YAML_NODES
from trace_solver.loader import TraceLoader, load_completion, load_yaml
from trace_solver.outcome import Status, TraceError

TRACE = "expert: arithmetic\ntrace:\n- {init: a, value: 2}\n- {query: a}\n"


def _refusal(text: str) -> TraceError:
    with pytest.raises(TraceError) as info:
        load_yaml(text)
    return info.value


def test_loader_is_libyaml_safe_loader_when_present():
    """The loader builds on libyaml's CSafeLoader when PyYAML has libyaml, on the pure-Python SafeLoader otherwise."""
    assert issubclass(TraceLoader, yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)


def test_package_source_has_no_eval_or_exec():
    """No eval/exec/compile/__import__ call and no unsafe YAML loader anywhere in trace_solver or rewards."""
    root = Path(__file__).resolve().parent.parent
    forbidden = re.compile(
        r"(?<![\w.])(?:eval|exec|compile|__import__)\s*\(|yaml\.(?:Loader|UnsafeLoader|FullLoader|unsafe_load)|pickle"
    )
    offenders = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for package in ("trace_solver", "rewards")
        for path in sorted(root.joinpath(package).rglob("*.py"))
        for match in forbidden.finditer(path.read_text())
    ]
    assert offenders == []


def test_extract_takes_first_fenced_block():
    """The first ```yaml fence is the trace, whatever chatter surrounds it."""
    text = f"Sure, here it is:\n```yaml\n{TRACE}```\nThat is all.\n```yaml\nexpert: other\n```"
    assert extract_yaml(text) == TRACE


@pytest.mark.parametrize("opener", ["```yml\n", "```\n", "```YAML\n", "``` yaml \n"])
def test_extract_accepts_fence_spellings(opener):
    """```yml, bare ``` and upper-case fences count as fences."""
    assert extract_yaml(f"chatter\n{opener}{TRACE}```") == TRACE


def test_extract_unclosed_fence_runs_to_end():
    """An unclosed fence (a truncated generation) runs to the end of the text."""
    assert extract_yaml(f"Here:\n```yaml\n{TRACE}") == TRACE


def test_extract_without_fence_stops_at_chatter():
    """Without a fence the trace starts at 'expert:' and ends at the first chatter line."""
    text = f"Let me think.\n{TRACE}The answer follows from the solver."
    assert extract_yaml(text) == TRACE.rstrip("\n")


def test_extract_without_trace_returns_text():
    """Text with neither a fence nor an expert/trace line is returned whole."""
    assert extract_yaml("just words") == "just words"


def test_load_completion_reads_trace_inside_chatter():
    """load_completion extracts and loads in one go."""
    assert load_completion(f"Answer:\n```yaml\n{TRACE}```")["expert"] == "arithmetic"


def test_numbers_load_as_fractions():
    """Plain numbers load exactly as Fractions, never floats."""
    assert load_yaml("a: 0.1\nb: 3") == {"a": Fraction(1, 10), "b": Fraction(3)}


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [("no", "no"), ("on", "on"), ("yes", "yes"), ("off", "off"), ("1:30", "1:30"), ("012", "012"),
     ("1,000", "1,000"), ("$120", "$120"), ("2020-01-01", "2020-01-01"), ("0x1F", "0x1F"), (".nan", ".nan"),
     (".inf", ".inf"), ("1_000", "1_000"), ("true", "true"), ("1e3", "1e3"), ("1.5e3", Fraction(1500)), ("~", None),
     ("", None)],
)  # fmt: skip
def test_implicit_typing_keeps_yaml_11_surprises_as_text(scalar, expected):
    """YAML 1.1's booleans, sexagesimals, octals, dates and specials stay strings (parse_number reads 1e3 later)."""
    assert load_yaml(f"k: {scalar}")["k"] == expected


def test_no_and_on_are_keys_not_booleans():
    """`no:` and `on:` as mapping keys stay the strings 'no' and 'on'."""
    assert set(load_yaml("no: 1\non: 2")) == {"no", "on"}


def test_unquoted_thousands_in_flow_mapping_splits_keys():
    """`{value: 1,000}` is two keys in YAML; the loader does not guess (the executor reports it)."""
    assert load_yaml("{value: 1,000}") == {"value": Fraction(1), "000": None}


@pytest.mark.parametrize(
    "text",
    ["a: &x 1\nb: *x", "a: &x [1]\nb: *x", "- &anchor {init: a, value: 1}", "a: [&x 1, *x]"],
)
def test_anchors_and_aliases_are_refused(text):
    """Any anchor or alias is refused as yaml_alias."""
    assert _refusal(text).code == "yaml_alias"


def test_star_in_formula_is_not_an_alias():
    """'*' inside a formula is multiplication, not an alias."""
    assert load_yaml('f: {expression: "a *b"}')["f"]["expression"] == "a *b"


def test_duplicate_keys_are_refused():
    """A key given twice in one mapping is refused instead of silently keeping the last."""
    assert _refusal("expert: arithmetic\nexpert: comparison").code == "duplicate_key"


def test_deep_nesting_is_refused():
    """Nesting deeper than MAX_YAML_DEPTH is refused as too_deep."""
    assert _refusal("[" * (MAX_YAML_DEPTH + 1) + "]" * (MAX_YAML_DEPTH + 1)).code == "too_deep"


def test_nesting_at_limit_is_accepted():
    """Nesting exactly MAX_YAML_DEPTH deep loads."""
    assert load_yaml("[" * MAX_YAML_DEPTH + "]" * MAX_YAML_DEPTH) is not None


def test_too_many_nodes_is_refused():
    """More than MAX_YAML_NODES nodes is refused as too_large."""
    assert _refusal("[" + "1, " * MAX_YAML_NODES + "]").code == "too_large"


def test_long_yaml_is_refused_unread():
    """YAML longer than MAX_TRACE_CHARS is refused as too_large."""
    assert _refusal("a: " + "x" * MAX_TRACE_CHARS).code == "too_large"


def test_long_completion_is_refused_unread():
    """A completion longer than MAX_COMPLETION_CHARS is refused before extraction."""
    with pytest.raises(TraceError, match="completion is"):
        load_completion("x" * (MAX_COMPLETION_CHARS + 1))


@pytest.mark.parametrize(
    "text",
    ["!!python/object/apply:os.system ['echo hi']", "a: !!binary aGVsbG8=", "!!set {a, b}", "a: !custom x",
     "a: !!timestamp 2001-12-14", "!!python/name:os.system"],
)  # fmt: skip
def test_tags_outside_the_allow_list_are_refused(text):
    """Only str/int/float/null/seq/map tags are constructed; python and other tags are yaml_syntax."""
    assert _refusal(text).code == "yaml_syntax"


def test_collection_key_is_refused():
    """A sequence used as a mapping key is a yaml_syntax error, not a TypeError."""
    assert _refusal("? [a, b]\n: 1").code == "yaml_syntax"


def test_syntax_error_names_line():
    """Malformed YAML is yaml_syntax with the line of the problem."""
    assert "line 2" in _refusal("a: [1, 2\nb: }").message


def test_refusals_are_parse_errors():
    """Every loader refusal carries Status.PARSE_ERROR."""
    assert _refusal("a: &x 1").status is Status.PARSE_ERROR


def test_empty_document_is_none():
    """An empty text loads as None (the executor reports it as not a mapping)."""
    assert load_yaml("") is None


def test_explicit_int_tag_on_hex_stays_text():
    """`!!int 0x1F` is not read as 31: the text is kept, for the executor to refuse as a number."""
    assert load_yaml("a: !!int 0x1F") == {"a": "0x1F"}
