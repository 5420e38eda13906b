"""Hostile inputs: each one ends in an Outcome (never an exception), scores within 50 ms and without large memory.

Timing is the minimum of three runs (the outcome cache cleared before each), so a loaded machine does not make the
test flaky; memory is tracemalloc's peak over one scoring.
"""

import time
import tracemalloc

import pytest

from rewards import trace_reward
from rewards.trace import _execute_text
from trace_solver import Outcome, Status, execute
from trace_solver.expressions import _compile

MAX_SECONDS = 0.050
MAX_BYTES = 100 * 2**20

_A = "expert: arithmetic\ntrace:\n"
_C = "expert: comparison\ntrace:\n- {init: a, value: 2}\n"


def _formula(expression: str) -> str:
    return _C + f"- formula: {{var: x, expression: {expression!r}}}\n- {{query: x}}\n"


_POW = "- compute: {{op: pow, args: [v{j}, 64], var: v{i}}}"
_SQUARE = "- compute: {{op: mul, args: [v{j}, v{j}], var: v{i}}}"


def _chain(first: str, step: str, n: int) -> str:
    """A trace of `first`, then n steps formatted with {i} (this step) and {j} (the previous one), then a query."""
    steps = "".join(step.format(i=i, j=i - 1) + "\n" for i in range(1, n + 1))
    return _A + first + "\n" + steps + f"- {{query: v{n}}}\n"


def _laughs(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines)


HOSTILE = {
    # alias bombs and anchors
    "billion_laughs": _laughs(),
    "billion_laughs_in_trace": _A + "- &s {init: a, value: 1}\n- *s\n- {query: a}\n",
    "alias_to_scalar": _A + "- {init: a, value: &n 1}\n- {init: b, value: *n}\n- {query: b}\n",
    "merge_key_alias": "base: &b {init: a}\nstep: {<<: *b, value: 1}\n",
    "anchor_flood": "\n".join(f"k{i}: &a{i} {i}" for i in range(2000)),
    # huge powers and numbers
    "pow_9_9_9": _formula("9**9**9"),
    "pow_tower": _formula("2**2**2**2**2"),
    "pow_negative_tower": _formula("2**-2**2**2**2"),
    "pow_compute_chain": _chain("- {init: v0, value: 999999}", _POW, 60),
    "doubling_chain": _chain("- {init: v0, value: 2}", _SQUARE, 60),
    "huge_int_literal": _A + "- {init: a, value: " + "9" * 15_000 + "}\n- {query: a}\n",
    "huge_quoted_literal": _A + '- {init: a, value: "' + "9" * 15_000 + '"}\n- {query: a}\n',
    "huge_exponent_literal": _A + "- {init: a, value: 1e999999999}\n- {query: a}\n",
    "huge_expression_literal": _formula("9" * 250),
    "float_overflow_literal": _formula("1e308 * 1e308"),
    "tiny_fraction_chain": _chain("- {init: v0, value: 0.000001}", _SQUARE, 40),
    "long_decimal": _A + "- {init: a, value: 0." + "1" * 5000 + "}\n- {query: a}\n",
    "fraction_literal": _A + "- {init: a, value: 1/999999999999999999}\n- {query: a}\n",
    # deep nesting
    "deep_flow_sequences": "[" * 8000 + "]" * 8000,
    "unclosed_flow_sequences": "[" * 16_000,
    "deep_flow_mappings": "{a: " * 3000 + "1" + "}" * 3000,
    "deep_block_sequences": "- " * 8000 + "x",
    "deep_complex_keys": "? " * 8000 + "x",
    "deep_indentation": "".join(" " * i + f"k{i}:\n" for i in range(150)),
    "deep_trace_step": _A + "- {init: " + "[" * 500 + "]" * 500 + ", value: 1}\n- {query: a}\n",
    "deep_parentheses": _formula("(" * 126 + "a" + ")" * 126),
    "too_deep_parentheses": _formula("(" * 300 + "a" + ")" * 300),
    "unary_chain": _formula("-" * 255 + "a"),
    "wide_flow_list": "[" + "1," * 8000 + "]",
    "wide_block_mapping": "".join(f"k{i}: {i}\n" for i in range(1500)),
    # sizes
    "ten_mb_plain": "x" * 10_000_000,
    "ten_mb_in_fence": "```yaml\n" + "x" * 10_000_000 + "\n```",
    "ten_mb_expression": _formula("a + " * 2_500_000 + "a"),
    "ten_mb_name": _A + "- {init: " + "a" * 10_000_000 + ", value: 1}\n",
    "many_fences": "```" * 20_000,
    "many_lines": "\n" * 60_000,
    "just_under_completion_limit": "expert: arithmetic\n" + "#" * 65_000,
    "huge_step_count": _A + "- {init: a, value: 1}\n" * 100_000,
    "step_count_over_limit": _A + "".join(f"- {{init: a{i}, value: 1}}\n" for i in range(65)) + "- {query: a0}\n",
    "many_keys_in_step": _A + "- {" + ", ".join(f"k{i}: 1" for i in range(1000)) + "}\n",
    "long_name": _A + "- {init: " + "a" * 5000 + ", value: 1}\n- {query: a}\n",
    # NaN and infinity
    "nan": _A + "- {init: a, value: .nan}\n- {query: a}\n",
    "inf": _A + "- {init: a, value: .inf}\n- {query: a}\n",
    "negative_inf": _A + "- {init: a, value: -.inf}\n- {query: a}\n",
    "tagged_nan": _A + "- {init: a, value: !!float .nan}\n- {query: a}\n",
    "nan_word": _A + "- {init: a, value: nan}\n- {query: a}\n",
    "nan_in_expression": _formula("nan * 2"),
    "inf_in_expression": _formula("1e999 - 1e999"),
    # unicode
    "cyrillic_homoglyph": _A + "- {init: a, value: 1}\n- {query: \u0430}\n",
    "fullwidth_name": _A + "- {init: \uff41, value: 1}\n- {query: \uff41}\n",
    "fullwidth_in_formula": _C + "- formula: {var: x, expression: '\uff41 * 3'}\n- {query: x}\n",
    "zero_width_joiner": _A + "- {init: a\u200db, value: 1}\n- {query: ab}\n",
    "rtl_override": _A + "- {init: \u202ea, value: 1}\n- {query: a}\n",
    "emoji": _A + "- {init: \U0001f600, value: 1}\n- {query: \U0001f600}\n",
    "nul_bytes": _A + "- {init: a\x00, value: 1}\n- {query: a}\n",
    "control_chars": "expert: \x07\x08\x1b[31m\ntrace: []\n",
    "lone_surrogate": _A + "- {init: \ud800, value: 1}\n",
    "bom_and_crlf": "\ufeffexpert: arithmetic\r\ntrace:\r\n- {init: a, value: 1}\r\n- {query: a}\r\n",
    "tabs": "expert:\tarithmetic\ntrace:\n\t- {init: a, value: 1}\n",
    "unicode_digits": _A + "- {init: a, value: \u0661\u0662}\n- {query: a}\n",
    "superscript_power": _formula("a\u00b2"),
    # non-mapping documents
    "empty": "",
    "whitespace": "   \n\t\n",
    "null": "null",
    "scalar": "42",
    "string": "The answer is 42.",
    "sequence": "- expert: arithmetic\n- trace: []\n",
    "multiple_documents": "expert: arithmetic\n---\nexpert: comparison\n",
    "document_end_only": "...",
    "directive": "%YAML 1.1\n---\nexpert: arithmetic\ntrace: []\n",
    # tags
    "python_apply": "!!python/object/apply:os.system ['echo pwned']",
    "python_apply_in_trace": _A + "- {init: a, value: !!python/object/apply:os.getpid []}\n- {query: a}\n",
    "python_name": "expert: !!python/name:os.system\ntrace: []\n",
    "python_new": "!!python/object/new:subprocess.Popen [['echo', 'pwned']]",
    "python_module": "!!python/module:os",
    "tag_directive": "%TAG !p! tag:yaml.org,2002:python/\n--- !p!object/apply:os.system ['echo pwned']\n",
    "binary_tag": "expert: !!binary ZXhwZXJ0\ntrace: []\n",
    "set_tag": "!!set {expert, trace}",
    "local_tag": "expert: !arithmetic x\ntrace: []\n",
    "timestamp_tag": _A + "- {init: a, value: !!timestamp 2001-12-14}\n- {query: a}\n",
    # duplicate keys
    "duplicate_expert": "expert: arithmetic\nexpert: comparison\ntrace:\n- {init: a, value: 1}\n- {query: a}\n",
    "duplicate_step_key": _A + "- {init: a, value: 1, value: 2}\n- {query: a}\n",
    "duplicate_numeric_key": "1: a\n1.0: b\n",
    # code in formulas
    "dunder_import": _formula("__import__('os').system('echo pwned')"),
    "attribute_access": _formula("a.__class__.__mro__"),
    "lambda": _formula("(lambda: 1)()"),
    "list_comprehension": _formula("[x for x in range(10**9)]"),
    "generator": _formula("sum(x for x in range(10**9))"),
    "walrus": _formula("(b := a)"),
    "fstring": _formula("f'{a}'"),
    "builtins_call": _formula("open('/etc/passwd')"),
    "subscript": _formula("a[0]"),
    "string_repeat": _formula("'x' * 10**9"),
    "dunder_name": _A + "- {init: __class__, value: 1}\n- {query: __class__}\n",
    "keyword_name": _A + "- {init: lambda, value: 1}\n- {query: lambda}\n",
    "comparison_chain": _formula("a < a < a"),
    "starred_call": _formula("max(*[a, a])"),
    "keyword_call": _formula("round(a, ndigits=2)"),
    # wrong shapes
    "steps_as_strings": _A + "- init a = 1\n- query a\n",
    "trace_as_mapping": "expert: arithmetic\ntrace: {init: a}\n",
    "step_as_list": _A + "- [init, a]\n",
    "args_as_mapping": _A + "- {init: a, value: 1}\n- compute: {op: add, args: {a: 1}, var: b}\n- {query: b}\n",
    "op_as_list": _A + "- {init: a, value: 1}\n- compute: {op: [add], args: [a, 1], var: b}\n- {query: b}\n",
    "expression_as_list": _C + "- formula: {var: x, expression: [a, b]}\n- {query: x}\n",
    "expression_as_mapping": _C + "- formula: {var: x, expression: {a: 1}}\n- {query: x}\n",
    "numeric_keys": "1: 2\n3: 4\n",
    "null_key": _A + "- {~: 1}\n",
    "boolean_like_expert": "expert: yes\ntrace: []\n",
    "query_everything": _A + "- {query: [a, b]}\n",
}


def _score(text: str) -> float:
    _execute_text.cache_clear()
    _compile.cache_clear()
    return trace_reward([text], answer=["1"], expert=["arithmetic"])[0]


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_ends_in_outcome(text):
    """execute returns an Outcome with a status (and a code when not ok) instead of raising."""
    outcome = execute(text)
    assert isinstance(outcome, Outcome) and isinstance(outcome.status, Status) and (outcome.ok or outcome.code)


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_scores_a_tier(text):
    """trace_reward returns one of the five tiers for every hostile input."""
    assert _score(text) in (0.0, 0.3, 0.5, 0.7, 1.0)


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_scores_within_50_ms(text):
    """Scoring takes under 50 ms (best of three runs, caches cleared each time)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        _score(text)
        best = min(best, time.perf_counter() - start)
    assert best < MAX_SECONDS, f"{best * 1000:.1f} ms"


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_scores_within_100_mb(text):
    """Scoring allocates under 100 MB at its peak (tracemalloc)."""
    tracemalloc.start()
    try:
        _score(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MAX_BYTES, f"{peak / 2**20:.1f} MB"


def test_no_hostile_input_executes():
    """Only the hostile inputs that are valid traces in disguise yield a value (a dunder name is just a name)."""
    ok = sorted(name for name, text in HOSTILE.items() if execute(text).ok)
    assert ok == ["bom_and_crlf", "deep_parentheses", "dunder_name"]


@pytest.mark.parametrize(
    "doc",
    [{"expert": "arithmetic", "trace": [{"init": "a", "value": float("nan")}, {"query": "a"}]},
     {"expert": "arithmetic", "trace": [{"init": "a", "value": float("inf")}, {"query": "a"}]},
     {"expert": "arithmetic", "trace": [{"init": "a", "value": 10**10_000}, {"query": "a"}]},
     {"expert": "arithmetic", "trace": [{("t",): 1}, {"query": "a"}]},
     {"expert": "arithmetic", "trace": [{"init": object(), "value": 1}]},
     {"expert": "arithmetic", "trace": ({"init": "a", "value": 1},)},
     {1: 2}, {"expert": b"arithmetic", "trace": []}],
)  # fmt: skip
def test_hostile_python_documents_end_in_outcome(doc):
    """Already-loaded documents with NaN, huge ints, odd keys or odd types end in a failed Outcome."""
    outcome = execute(doc)
    assert not outcome.ok and outcome.code


def test_self_referential_document_ends_in_outcome():
    """A document that contains itself is an Outcome, not a RecursionError."""
    doc = {"expert": "arithmetic", "trace": []}
    doc["trace"].append(doc)
    assert execute(doc).code == "unknown_step"


@pytest.mark.parametrize(
    "completion",
    [None, 42, [], [{}], [{"role": "assistant", "content": None}], [{"role": "assistant", "content": ["x"]}],
     {"content": 3}, b"expert: arithmetic", [[["deep"]]]],
)  # fmt: skip
def test_hostile_completion_objects_score_zero(completion):
    """Completions that are not strings or messages with string content score 0.0 without raising."""
    assert trace_reward([completion], answer=["1"]) == [0.0]


@pytest.mark.parametrize("answer", [None, "", "lots", float("nan"), [1], {"a": 1}, "1" * 10_000, "1/0"])
def test_hostile_gold_answers_do_not_raise(answer):
    """An unreadable gold answer gives the wrong-answer tier for a valid trace, not an exception."""
    assert trace_reward([_A + "- {init: a, value: 1}\n- {query: a}\n"], answer=[answer]) == [0.7]
