"""Reading YAML from model output safely.

Rules, in order (also in docs/trace-language.md):

1. A completion longer than MAX_COMPLETION_CHARS is refused unread.
2. Extraction: the first fenced code block (```yaml, ```yml or bare ```; an unclosed fence runs to the end) is the
   trace. Without a fence, the trace starts at the first line beginning with ``expert:`` or ``trace:`` and runs while
   lines are blank, indented, sequence items (``-``) or top-level ``key:`` lines; the first other line (chatter) ends
   it. Otherwise the whole text is read.
3. Loading uses libyaml's CSafeLoader when present (pure-Python SafeLoader otherwise) with YAML 1.1's implicit typing
   cut down to plain decimal numbers and null: ``no``/``on``/``yes`` stay strings, ``1:30`` is not sexagesimal,
   ``012`` is not octal, dates stay strings. Numbers are read exactly as Fractions from their text.
4. Anchors and aliases are refused; documents deeper than MAX_YAML_DEPTH or with more than MAX_YAML_NODES nodes are
   refused before they are constructed.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

import yaml

from trace_solver.limits import MAX_COMPLETION_CHARS, MAX_TRACE_CHARS, MAX_YAML_DEPTH, MAX_YAML_NODES
from trace_solver.numbers import NumberError, parse_number
from trace_solver.outcome import Status, TraceError

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"


class TraceLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader with implicit typing limited to plain decimal numbers and null."""

    yaml_implicit_resolvers: dict = {}


TraceLoader.add_implicit_resolver(_INT, re.compile(r"^[-+]?(?:0|[1-9][0-9]{0,17})$"), list("-+0123456789"))
TraceLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(r"^[-+]?(?:[0-9]{1,18}\.[0-9]{0,18}|\.[0-9]{1,18})(?:[eE][-+]?[0-9]{1,2})?$"),
    list("-+.0123456789"),
)
TraceLoader.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


def _construct_number(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Fraction:
    try:
        return parse_number(node.value)
    except NumberError as exc:  # reached only through explicit !!int / !!float tags
        raise yaml.constructor.ConstructorError(None, None, str(exc), node.start_mark) from None


TraceLoader.add_constructor(_INT, _construct_number)
TraceLoader.add_constructor(_FLOAT, _construct_number)

_FENCE = re.compile(r"```[ \t]*(?:ya?ml|YA?ML)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
_TRACE_START = re.compile(r"^(?:expert|trace)[ \t]*:", re.MULTILINE)
_CONTINUATION = re.compile(r"[ \t]|-|[A-Za-z_][\w-]*[ \t]*:|$")
# An anchor or alias begins with & or * followed by a name character; '*' inside formulas ("a * 3") never is.
_MAYBE_ANCHOR = re.compile(r"[&*][^\s,\[\]{}]")


def extract_yaml(completion: str) -> str:
    """Return the YAML part of a completion (see the module docstring for the rules)."""
    fence = _FENCE.search(completion)
    if fence:
        return fence.group(1)
    start = _TRACE_START.search(completion)
    if not start:
        return completion
    lines = completion[start.start() :].split("\n")
    kept = [lines[0]]
    for line in lines[1:]:
        if not _CONTINUATION.match(line):
            break
        kept.append(line)
    return "\n".join(kept)


def _check_nodes(root: yaml.Node) -> None:
    """Refuse aliases (a node reached twice), deep nesting and oversized documents before construction."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            raise TraceError(Status.PARSE_ERROR, "yaml_alias", "YAML anchors and aliases are not allowed")
        seen.add(id(node))
        if len(seen) > MAX_YAML_NODES:
            raise TraceError(Status.PARSE_ERROR, "too_large", f"document has more than {MAX_YAML_NODES} YAML nodes")
        if depth > MAX_YAML_DEPTH:
            raise TraceError(Status.PARSE_ERROR, "too_deep", f"document nests deeper than {MAX_YAML_DEPTH} levels")
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))


def _refuse_anchors(text: str) -> None:
    for event in yaml.parse(text, Loader=TraceLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise TraceError(Status.PARSE_ERROR, "yaml_alias", "YAML anchors and aliases are not allowed")


def load_yaml(text: str) -> Any:
    """Load one YAML document safely, raising TraceError(PARSE_ERROR) for anything refused or malformed."""
    if len(text) > MAX_TRACE_CHARS:
        raise TraceError(
            Status.PARSE_ERROR, "too_large", f"YAML is {len(text)} characters; the limit is {MAX_TRACE_CHARS}"
        )
    try:
        if _MAYBE_ANCHOR.search(text):  # rare: pay for an event-level scan only when an anchor could be present
            _refuse_anchors(text)
        loader = TraceLoader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            _check_nodes(root)
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except TraceError:
        raise
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise TraceError(Status.PARSE_ERROR, "yaml_syntax", f"invalid YAML{where}: {problem}") from None
    except (RecursionError, MemoryError, ValueError, TypeError, OverflowError) as exc:
        raise TraceError(Status.PARSE_ERROR, "yaml_syntax", f"invalid YAML: {type(exc).__name__}") from None


def load_completion(completion: str) -> Any:
    """Extract and load the YAML of a model completion."""
    if len(completion) > MAX_COMPLETION_CHARS:
        raise TraceError(
            Status.PARSE_ERROR,
            "too_large",
            f"completion is {len(completion)} characters; the limit is {MAX_COMPLETION_CHARS}",
        )
    return load_yaml(extract_yaml(completion))
