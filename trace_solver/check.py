"""Check that a dataset's ``init`` steps take their values and names from the question.

A model learns to copy a trace's ``init`` values and names out of the question; a value or a name that is not there
teaches it to invent one, and a name bound to the wrong one of two equal numbers teaches it the wrong quantity. For
each row of a dataset-format JSONL, every ``init`` step is checked:

* ``value_not_in_question``: the value is none of the question's numbers. Numbers are read from the normalised
  question as digits (``12``, ``$1200.50``, ``20%`` -> 20), fractions (``1/2``), number words (``ten``,
  ``forty-five``) and the words in ``MULTIPLIER_WORDS`` (``twice``/``double`` 2, ``half`` 1/2, ``dozen`` 12, ...).
* ``name_not_in_question``: no word of the name (split at ``_``; numbering suffixes like ``_2`` and ``_var`` left
  out) is a word of the question. Words match ignoring case, a possessive ``'s`` and a plural ``s``/``es``, or when
  one is a prefix of the other of at least ``MIN_PREFIX`` letters (``hour``/``hourly``); ``dollars`` matches a
  question with ``$`` and ``percent`` one with ``%``.
* ``ambiguous_binding``: the value is written more than once in the question and the name does not pick out one of
  those places, or picks the place another ``init`` of the same value picks. A name picks the place whose words it
  shares most: the number's own name words (``gsm8k.name_hint``) count twice, the up to ``gsm8k.CONTEXT_WORDS``
  content words either side inside its clause (``gsm8k.context_words``) once; sharing none, or a tie, picks none.
* ``one_init_for_equal_numbers``: the value is written at several places of the question with different name words
  ("2 large pizzas and 2 small pizzas"), the trace has fewer inits of it than places, and one init of it is read by
  more than one step: likely one variable standing for two quantities that happen to be equal. A heuristic: a
  question that repeats one quantity ("$60 ... half of the $60") is counted too.

    trace-solver check data/gsm8k_train.jsonl [--examples 5]

prints the rows and ``init`` steps checked, the count of rows and of steps with each flag, and example ids. The exit
status is 0 whenever the file is read: the counts are a measurement, not a gate.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from trace_solver.gsm8k import MULTIPLIER_VALUES, context_words, question_numbers, word_stem
from trace_solver.jsonl import JSONLError, read_jsonl
from trace_solver.loader import load_yaml
from trace_solver.numbers import NumberError, normalize_question, parse_number
from trace_solver.outcome import TraceError

FLAG_VALUE = "value_not_in_question"
FLAG_NAME = "name_not_in_question"
FLAG_AMBIGUOUS = "ambiguous_binding"
FLAG_SHARED = "one_init_for_equal_numbers"
FLAG_UNREADABLE = "unreadable_trace"  # the trace text is not a trace document (then nothing else is checked)
FLAGS = (FLAG_VALUE, FLAG_NAME, FLAG_AMBIGUOUS, FLAG_SHARED, FLAG_UNREADABLE)

# Words that say a number without digits, beyond the number words `question_numbers` reads ("ten", "forty-five").
MULTIPLIER_WORDS: dict[str, frozenset[Fraction]] = {
    **MULTIPLIER_VALUES,
    "one": frozenset({Fraction(1)}),
    "pair": frozenset({Fraction(2)}),
    "third": frozenset({Fraction(3), Fraction(1, 3)}),
}
MIN_PREFIX = 4  # letters two words must share when one is a prefix of the other
DEFAULT_EXAMPLES = 5  # example ids printed per flag

_WORDS = re.compile(r"[A-Za-z]+")
_RATIO = re.compile(r"(?<![\w./])(\d{1,30})/(\d{1,30})(?![\w/])")
_NUMBERING = re.compile(r"^(?:\d+|var)$")  # name parts added to make a name unique or valid, not from the question


@dataclass(frozen=True)
class Flag:
    """One finding: which flag, for which init variable (empty for the whole row), and why."""

    code: str
    var: str
    detail: str


@dataclass
class CheckReport:
    """Counts over a dataset: rows and init steps checked, rows and steps per flag, example ids per flag."""

    rows: int = 0
    inits: int = 0
    flagged_rows: Counter[str] = field(default_factory=Counter)
    flagged_inits: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    rows_with_any: int = 0

    def add(self, ident: str, inits: int, flags: Sequence[Flag], keep: int = DEFAULT_EXAMPLES) -> None:
        self.rows += 1
        self.inits += inits
        self.rows_with_any += bool(flags)
        for code in {flag.code for flag in flags}:
            self.flagged_rows[code] += 1
            shown = self.examples.setdefault(code, [])
            if len(shown) < keep:
                example = next(flag for flag in flags if flag.code == code)
                shown.append(
                    f"{ident} ({example.var}: {example.detail})" if example.var else f"{ident} ({example.detail})"
                )
        self.flagged_inits.update(flag.code for flag in flags if flag.var)


def _words_match(word: str, candidates: Iterable[str]) -> bool:
    stem = word_stem(word)
    for other in candidates:
        if stem == other:
            return True
        short, long = sorted((stem, other), key=len)
        if len(short) >= MIN_PREFIX and long.startswith(short):
            return True
    return False


def name_words(name: str) -> list[str]:
    """The words of a variable name that could come from the question (``clips_2`` -> ``["clips"]``)."""
    return [part for part in name.lower().split("_") if part and not _NUMBERING.match(part)]


@dataclass(frozen=True)
class _Place:
    """One place a number is written in the question: its value, its own name words and the words around it."""

    value: Fraction
    own: frozenset[str]
    near: frozenset[str]


class QuestionFacts:
    """What the checks need from one question: its numbers with their places, and its word stems."""

    def __init__(self, question: str):
        text = normalize_question(question)
        self.stems = {word_stem(word) for word in _WORDS.findall(text)}
        if "$" in text:
            self.stems.add("dollar")
        if "%" in text:
            self.stems.add("percent")
        numbers = question_numbers(text)
        self.values = {number.value for number in numbers}
        self.values |= {Fraction(int(m.group(1)), int(m.group(2))) for m in _RATIO.finditer(text) if int(m.group(2))}
        for word in _WORDS.findall(text.lower()):
            self.values |= MULTIPLIER_WORDS.get(word, frozenset())
        # Places for ambiguity: digits and number words only (a "half" beside "2" is not a second 2 of the story).
        self.places = [
            _Place(
                number.value,
                frozenset(word_stem(word) for word in number.hint.split("_") if word),
                frozenset(context_words(text, number.start, number.end)),
            )
            for number in numbers
        ]

    def pick(self, value: Fraction, words: Sequence[str]) -> list[int]:
        """The places of `value` whose words the name shares most (the number's own name words count double); empty
        when it shares none."""
        stems = {word_stem(word) for word in words}
        scores = {
            index: 2 * len(stems & place.own) + len(stems & place.near)
            for index, place in enumerate(self.places)
            if place.value == value
        }
        best = max(scores.values(), default=0)
        return [index for index, score in scores.items() if score == best] if best else []


def _inits(document: Any) -> list[tuple[str, Any]]:
    """(name, raw value) of each init step, in either spelling: ``{init: a, value: 1}`` or ``init: {var: a, ...}``."""
    steps = document.get("trace") if isinstance(document, dict) else None
    found = []
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict) or "init" not in step:
            continue
        body = step["init"]
        if isinstance(body, dict):
            found.append((str(body.get("var")), body.get("value")))
        else:
            found.append((str(body), step.get("value")))
    return found


def check_row(row: dict[str, Any]) -> tuple[int, list[Flag]]:
    """The number of init steps of one dataset row and the flags they raise (see the module docstring)."""
    try:
        document = load_yaml(row["trace"])
    except TraceError as err:
        return 0, [Flag(FLAG_UNREADABLE, "", str(err))]
    if not (isinstance(document, dict) and isinstance(document.get("trace"), list)):
        return 0, [Flag(FLAG_UNREADABLE, "", "no list of steps under 'trace'")]
    facts = QuestionFacts(row["question"])
    inits = _inits(document)
    flags: list[Flag] = []
    picked: dict[int, str] = {}  # place index -> the init that named it
    for name, raw in inits:
        try:
            value = parse_number(raw)
        except NumberError:
            flags.append(Flag(FLAG_VALUE, name, f"value {raw!r} is not a number"))
            continue
        words = name_words(name)
        if value not in facts.values:
            flags.append(Flag(FLAG_VALUE, name, f"{value} is not in the question"))
        if not any(_words_match(word, facts.stems) for word in words):
            flags.append(Flag(FLAG_NAME, name, "no word of the name is in the question"))
        places = [index for index, place in enumerate(facts.places) if place.value == value]
        if len(places) > 1:
            named = facts.pick(value, words)
            if len(named) != 1:
                flags.append(
                    Flag(FLAG_AMBIGUOUS, name, f"{value} is written {len(places)} times; the name picks {len(named)}")
                )
            elif named[0] in picked:
                flags.append(Flag(FLAG_AMBIGUOUS, name, f"{value}: the same place as {picked[named[0]]}"))
            else:
                picked[named[0]] = name
    flags += _shared_inits(document, inits, facts)
    return len(inits), flags


def _shared_inits(document: Any, inits: list[tuple[str, Any]], facts: QuestionFacts) -> list[Flag]:
    """FLAG_SHARED for each init that stands for several equal numbers of the question (see the module docstring)."""
    by_value: dict[Fraction, list[str]] = {}
    for name, raw in inits:
        try:
            by_value.setdefault(parse_number(raw), []).append(name)
        except NumberError:
            continue
    steps = [repr(step) for step in document["trace"] if isinstance(step, dict) and not {"init", "query"} & step.keys()]
    flags = []
    for value, names in by_value.items():
        places = [place for place in facts.places if place.value == value]
        if len(places) <= len(names) or len({place.own for place in places}) < 2:
            continue
        for name in names:
            readers = sum(1 for step in steps if re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", step))
            if readers > 1:
                flags.append(
                    Flag(FLAG_SHARED, name, f"{value} is written {len(places)} times, read by {readers} steps")
                )
    return flags


def check_rows(rows: Iterable[tuple[str, dict[str, Any]]], examples: int = DEFAULT_EXAMPLES) -> CheckReport:
    """Check (id, row) pairs; the report counts flags and keeps up to `examples` example ids per flag."""
    report = CheckReport()
    for ident, row in rows:
        inits, flags = check_row(row)
        report.add(ident, inits, flags, examples)
    return report


def format_report(report: CheckReport) -> str:
    """The report `trace-solver check` prints."""

    def share(count: int, total: int) -> str:
        return f"{count:>6} ({100 * count / total:5.1f}%)" if total else f"{count:>6}"

    out = [
        f"rows: {report.rows}  init steps: {report.inits}",
        f"rows with any flag: {share(report.rows_with_any, report.rows)}",
    ]
    out.append(f"  {'flag':<24} {'rows':>15} {'init steps':>15}")
    for code in FLAGS:
        rows, inits = share(report.flagged_rows[code], report.rows), share(report.flagged_inits[code], report.inits)
        out.append(f"  {code:<24} {rows} {inits}")
    for code in FLAGS:
        if report.examples.get(code):
            out.append(f"examples of {code}:")
            out += [f"  {example}" for example in report.examples[code]]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------------------
# CLI


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register `check` on the trace-solver CLI."""
    parser = subparsers.add_parser(
        "check",
        help="flag init values and names that do not come from the question",
        description="Check every init step of a dataset-format JSONL: values not among the question's numbers, "
        "names with no word of the question, and names that do not pick out one of several equal numbers. Prints "
        "counts and example ids; exits 0 whenever the file is read.",
    )
    parser.add_argument("file", type=Path, help="dataset JSONL (question and trace per line)")
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, help="example ids per flag (default: 5)")
    parser.set_defaults(handler=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Handler of `trace-solver check`."""
    try:
        rows = read_jsonl(args.file, required=("question", "trace"))
    except JSONLError as err:
        print(f"trace-solver check: {err}", file=sys.stderr)
        return 1
    report = check_rows(((str(row.get("id") or where), row) for where, row in rows), args.examples)
    print(f"check: {args.file}")
    print(format_report(report))
    return 0
