"""Reading YAML from model output safely.

Rules, in order (also in docs/trace-language.md):

1. A completion longer than MAX_COMPLETION_CHARS is refused unread.
2. Extraction: the first fenced code block (```yaml, ```yml or bare ```; an unclosed fence runs to the end) is the
   trace. Without a fence, the trace starts at the first line beginning with ``expert:`` or ``trace:`` and runs while
   lines are blank, indented, sequence items (``-``) or top-level ``key:`` lines; the first other line (chatter) ends
   it. Otherwise the whole text is read.
3. Loading uses libyaml's CSafeLoader when present (pure-Python SafeLoader otherwise) with YAML 1.1's implicit typing
   cut down to plain decimal numbers and null: ``no``/``on``/``yes`` stay strings, ``1:30`` is not sexagesimal,
   ``012`` is not octal, dates stay strings. Numbers are read exactly as Fractions from their text. Only the tags
   str, int, float, null, seq and map are constructed; any other (``!!python/...``, ``!!binary``, ``!!set``, local
   ``!tags``) is refused as yaml_syntax.
4. Anchors and aliases are refused; documents deeper than MAX_YAML_DEPTH or with more than MAX_YAML_NODES nodes are
   refused before they are constructed. Duplicate keys in a mapping are refused (YAML would keep the last silently).
   A document that is long, has many flow brackets or may hold an anchor is first scanned event by event, stopping at
   the first refusal, so deep nesting (quadratic in libyaml) or a flood of nodes costs no more than the limit allows.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

import yaml

from trace_solver.limits import (
    MAX_COMPLETION_CHARS,
    MAX_MAGNITUDE,
    MAX_TRACE_CHARS,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    SCAN_ABOVE_BRACKETS,
    SCAN_ABOVE_CHARS,
)
from trace_solver.numbers import NumberError, parse_number
from trace_solver.outcome import Status, TraceError

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"


_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_INT_TEXT = re.compile(r"[-+]?(?:0|[1-9][0-9]{0,17})\Z")
_FLOAT_TEXT = re.compile(r"[-+]?(?:[0-9]{1,18}\.[0-9]{0,18}|\.[0-9]{1,18})(?:[eE][-+]?[0-9]{1,2})?\Z")
_NULL_TEXT = frozenset({"", "~", "null", "Null", "NULL"})
_NUMBER_START = frozenset("-+.0123456789")


class TraceLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader with implicit typing limited to plain decimal numbers and null.

    `resolve` replaces YAML 1.1's table of implicit resolvers (bool, octal, sexagesimal, timestamp, merge, ...) with
    three rules; there are no path resolvers, so descending and ascending are no-ops (the composer calls them per node).
    """

    yaml_implicit_resolvers: dict = {}

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            if implicit[0]:  # plain (unquoted, untagged) scalar
                if value in _NULL_TEXT:
                    return _NULL
                if value[0] in _NUMBER_START:
                    if _INT_TEXT.match(value):
                        return _INT
                    if _FLOAT_TEXT.match(value):
                        return _FLOAT
            return _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


_FENCE = re.compile(r"```[ \t]*(?:ya?ml|YA?ML)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
_TRACE_START = re.compile(r"^(?:expert|trace)[ \t]*:", re.MULTILINE)
_CONTINUATION = re.compile(r"[ \t]|-|[A-Za-z_][\w-]*[ \t]*:|$")
# An anchor or alias begins with & or * followed by a name character; '*' inside formulas ("a * 3") never is.
_MAYBE_ANCHOR = re.compile(r"[&*][^\s,\[\]{}]")


def extract_yaml(completion: str) -> str:
    """Return the YAML part of a completion (see the module docstring for the rules)."""
    completion = completion.removeprefix("\ufeff")  # a byte-order mark would hide an opening 'expert:' line
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


_PLAIN_INT = re.compile(r"[-+]?[0-9]+\Z")


def _refuse(code: str, message: str) -> TraceError:
    return TraceError(Status.PARSE_ERROR, code, message)


def _tag_error(node: yaml.Node, problem: str) -> TraceError:
    mark = node.start_mark
    return _refuse("yaml_syntax", f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}")


def _number(node: yaml.ScalarNode) -> Fraction:
    text = node.value
    if _PLAIN_INT.match(text) and len(text) <= 17:  # the common case, without parse_number's general path
        value = int(text)
        if -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
            return Fraction(value)
    try:
        return parse_number(text)
    except NumberError:  # past the limits, or an explicit !!int / !!float tag on text such as 0x1F: left as text, so
        return text  # the executor reports it as bad_number at its step


class _Builder:
    """Construct a document from its node graph, refusing on the way (one pass, before any object is built for a
    refused part): aliases (a node reached twice), tags other than str/int/float/null/seq/map, unhashable or duplicate
    keys, nesting deeper than MAX_YAML_DEPTH and more than MAX_YAML_NODES nodes. (Anchors and aliases are refused
    before composing, see load_yaml; a collection reached twice is refused here as well.)"""

    def __init__(self) -> None:
        self.nodes = 0
        self.seen: set[int] = set()

    def build(self, node: yaml.Node, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_YAML_NODES:
            raise _refuse("too_large", f"document has more than {MAX_YAML_NODES} YAML nodes")
        if depth > MAX_YAML_DEPTH:
            raise _refuse("too_deep", f"document nests deeper than {MAX_YAML_DEPTH} levels")
        kind, tag = node.__class__, node.tag
        if kind is yaml.ScalarNode:
            if tag == _STR:
                return node.value
            if tag == _INT or tag == _FLOAT:
                return _number(node)
            if tag == _NULL:
                return None
            raise _tag_error(node, f"the tag {tag[:60]!r} is not allowed")
        if id(node) in self.seen:  # an alias to a collection: the alias bomb's building block
            raise _refuse("yaml_alias", "YAML anchors and aliases are not allowed")
        self.seen.add(id(node))
        if kind is yaml.SequenceNode and tag == _SEQ:
            return [self.build(child, depth + 1) for child in node.value]
        if kind is yaml.MappingNode and tag == _MAP:
            mapping: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, depth + 1)
                if isinstance(key, (list, dict)):
                    raise _tag_error(key_node, "a mapping key must be a scalar")
                if key in mapping:
                    line = key_node.start_mark.line + 1
                    raise _refuse("duplicate_key", f"duplicate key {str(key)[:40]!r} at line {line}")
                mapping[key] = self.build(value_node, depth + 1)
            return mapping
        raise _tag_error(node, f"the tag {tag[:60]!r} is not allowed")


def _scan_events(text: str) -> None:
    """Refuse anchors, aliases, deep nesting and too many nodes from the event stream, stopping at the first refusal."""
    depth = nodes = 0
    for event in yaml.parse(text, Loader=TraceLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _refuse("yaml_alias", "YAML anchors and aliases are not allowed")
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_YAML_NODES:
                raise _refuse("too_large", f"document has more than {MAX_YAML_NODES} YAML nodes")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise _refuse("too_deep", f"document nests deeper than {MAX_YAML_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def load_yaml(text: str) -> Any:
    """Load one YAML document safely, raising TraceError(PARSE_ERROR) for anything refused or malformed."""
    if len(text) > MAX_TRACE_CHARS:
        raise TraceError(
            Status.PARSE_ERROR, "too_large", f"YAML is {len(text)} characters; the limit is {MAX_TRACE_CHARS}"
        )
    try:
        # Rare: pay for an event-level scan only when the document is long, bracket-heavy or may hold an anchor.
        if (
            len(text) > SCAN_ABOVE_CHARS
            or text.count("[") + text.count("{") > SCAN_ABOVE_BRACKETS
            or _MAYBE_ANCHOR.search(text)
        ):
            _scan_events(text)
        loader = TraceLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
        return None if root is None else _Builder().build(root, 1)
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
