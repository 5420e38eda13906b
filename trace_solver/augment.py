"""Numeric variants of real problems: the same wording and trace with other numbers, verified by execution.

A variant teaches that the numbers, not the wording, carry the arithmetic. For one dataset line (question, trace,
answer, ...), `variants(row, k, rng)` draws up to `k` copies:

* **Which numbers change.** A value changes when the trace defines it with ``init`` and the question writes it in
  digits (``56``, ``2.5``, ``$12.50``, ``20%``), and only then; every other number stays as it is: constants in
  the trace (100 for percent, 60 minutes, 0.01), numbers written as words or fractions (``five``, ``1/6``) or inside
  ordinals, times and lists (``5th``, ``3:30``, ``1,2``), calendar years ("born in 1932"), numbers the trace does not
  use, values the trace also writes as a percent constant (20 beside a literal 0.2, 0.8 or 1.2), and 0 and 1.
* **New values.** Each changing value is drawn between half and twice itself (at least 2 for integers) with the same
  kind: integers stay integers and keep their round tens or thousands (1500 -> 1300, not 1347), decimals keep their
  number of decimals (2.5 -> 3.7), percents stay at most 100. New values differ from each other and from every
  number of the source question or trace, so a variant never swaps two numbers. Each occurrence in the question is
  rewritten in the spelling of the original (``$12.50`` -> ``$14.30``), and each ``init`` of the value in the trace.
* **Kept only** when the trace, as YAML text, executes and its value is a new answer of the same kind as the
  source's: an integer stays an integer, a terminating decimal stays one (at most 2 places or the source's), a
  fraction stays a non-integer, a non-negative answer stays non-negative, and the answer stays within a factor of
  MAX_ANSWER_RATIO of the source's. No two variants of a row share a question. Where the source answer was rounded
  (``41.0`` for 41.03), the variant answer is rounded to the same places.

Variants of dev problems would leak the dev split into training: a row whose id or source marks it as dev
(``gsm8k-dev-00012``, ``mawps-dev-00012``) is refused with `DevRowError`, and `augment` refuses a whole file that
holds one. Rows that are variants already (source ``...-variant``) are not augmented again. Output rows are in the
dataset line format with ``source`` ``<source>-variant`` and id ``<id>-v<n>``.

    trace-solver augment data/mawps_train.jsonl --variants 10 --seed 0 --out data/mawps_variants.jsonl

Output is a pure function of the file and `--seed`: each row draws from ``random.Random(f"{seed}:{id}")``.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from trace_solver.gsm8k import question_numbers
from trace_solver.jsonl import JSONLError, read_jsonl, write_jsonl
from trace_solver.loader import load_yaml
from trace_solver.numbers import NumberError, answers_match, format_number, parse_number
from trace_solver.outcome import TraceError
from trace_solver.serialize import dump_trace

DRAWS_PER_VARIANT = 8  # draws per requested variant before giving up on a row
MAX_ANSWER_RATIO = 20  # a variant's answer stays within 1/20 .. 20 times the source's (when that is not 0)
MAX_DECIMAL_PLACES = 2  # a terminating-decimal answer stays at most this many places (or the source's, if more)
VARIANT_SUFFIX = "-variant"
YEARS = range(1800, 2101)  # integers read as calendar years after "in", "since", ... stay fixed
REQUIRED = ("question", "trace", "answer")

# Row outcomes (no variant at all) and draw rejections, counted in the summary.
REFUSED_VARIANT_ROW = "already_a_variant"
REFUSED_BAD_TRACE = "unreadable_trace"  # the source trace does not load or execute
REFUSED_NOTHING_TO_CHANGE = "no_changeable_number"
REJECT_EXECUTION = "execution_error"  # division by zero, a negative quantity, a solver limit
REJECT_SAME_ANSWER = "same_answer"
REJECT_KIND = "answer_kind_changed"  # integer -> fraction, decimal places, sign
REJECT_MAGNITUDE = "implausible_magnitude"
REJECT_DUPLICATE = "duplicate_variant"

# A number written in digits that a variant may rewrite: not part of a word, fraction, time, list or longer number
# (a run of more than 30 digits is not read at all).
_CHANGEABLE = re.compile(r"(?<![\w.,/:])(\d{1,30}(?:\.\d{1,30})?)(?![\w/:]|[.,]\d)")
# "born in 1932", "since 2015": a calendar year is a date, not a quantity to scale.
_YEAR_BEFORE = re.compile(r"\b(?:in|since|from|until|by|of|before|after|year)\s+$", re.IGNORECASE)
_DEV_ID = re.compile(r"(?:^|[-_:])dev(?:[-_:]|$)")
_TRACE_NUMBER = re.compile(r"(?<![\w.])\d{1,30}(?:\.\d{1,30})?(?!\d)")


class DevRowError(ValueError):
    """A dev-split row was given to augmentation; its variants must never reach a training file."""


@dataclass
class AugmentSummary:
    """Counts for the augment report."""

    rows: int = 0
    variants: int = 0
    per_row: Counter[int] = field(default_factory=Counter)  # variants made -> rows
    refused: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def mean(self) -> float:
        return self.variants / self.rows if self.rows else 0.0


def is_dev_row(row: Mapping[str, Any]) -> bool:
    """Whether a row's id or source marks it as a dev-split problem (``mawps-dev-00012``, source ``gsm8k-dev``)."""
    return any(_DEV_ID.search(str(row.get(key) or "")) for key in ("id", "source"))


# ---------------------------------------------------------------------------------------------------------------------
# Numbers


def decimals(text: str) -> int:
    """Decimal places as written: ``12.50`` -> 2."""
    return len(text.split(".")[1]) if "." in text else 0


def spell(value: Fraction, places: int) -> str:
    """`value` with exactly `places` decimals (value has at most that many)."""
    text = format_number(value)
    if places == 0:
        return text
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(places, '0')}"


def draw_value(value: Fraction, rng: random.Random, *, percent: bool) -> Fraction:
    """A new value of the same kind, between half and twice `value` (see the module docstring)."""
    places = decimals(format_number(value))
    if places:
        quantum = Fraction(1, 10**places)
        low, high = value / 2, value * 2
    else:
        zeros = len(str(value.numerator)) - len(str(value.numerator).rstrip("0"))
        quantum = Fraction(10) ** zeros
        while quantum > 1 and value / quantum < 3:  # 10 -> any integer 5..20, 1500 -> hundreds 800..3000
            quantum /= 10
        low, high = max(value / 2, Fraction(2)), max(value * 2, value + 3)
    if percent and value <= 100:
        high = min(high, Fraction(100))
    first, last = math.ceil(low / quantum), math.floor(high / quantum)
    return rng.randint(first, last) * quantum


def _answer_kind(value: Fraction) -> str:
    if value.denominator == 1:
        return "integer"
    return "decimal" if "/" not in format_number(value) else "fraction"


def _same_kind(source: Fraction, new: Fraction) -> str | None:
    """None when `new` is an answer of the same kind as `source`, else the rejection reason."""
    if _answer_kind(new) != _answer_kind(source) or (source >= 0) != (new >= 0):
        return REJECT_KIND
    if _answer_kind(new) == "decimal" and decimals(format_number(new)) > max(
        MAX_DECIMAL_PLACES, decimals(format_number(source))
    ):
        return REJECT_KIND
    if source and not abs(source) / MAX_ANSWER_RATIO <= abs(new) <= abs(source) * MAX_ANSWER_RATIO:
        return REJECT_MAGNITUDE
    return None


# ---------------------------------------------------------------------------------------------------------------------
# Variants


@dataclass(frozen=True)
class _Plan:
    """What a row's variants may change: the source document, its value and the changeable values."""

    document: dict[str, Any]
    value: Fraction
    changeable: tuple[Fraction, ...]
    percent: frozenset[Fraction]
    fixed: frozenset[Fraction]  # every other number of the question and trace: new values must avoid them


def _trace_literals(document: Mapping[str, Any]) -> set[Fraction]:
    """Numbers written in the trace other than init values: compute args, formula expressions, step operands."""
    found: set[Fraction] = set()
    pending: list[Any] = [step for step in document["trace"] if "init" not in step]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending += item.values()
        elif isinstance(item, list):
            pending += item
        elif isinstance(item, Fraction):
            found.add(item)
        elif isinstance(item, str):
            found.update(Fraction(number) for number in _TRACE_NUMBER.findall(item))
    return found


def derived_constants(value: Fraction) -> set[Fraction]:
    """Literals a trace may write for a question's `value` (``gsm8k.is_explained``: 20 -> 0.2, 0.8, 1.2 for "20%")."""
    return {value / 100, 1 - value / 100, 1 + value / 100}


def _plan(row: Mapping[str, Any]) -> _Plan | str:
    """The plan for a row, or the reason it has no variant."""
    from trace_solver import execute  # package level imports the expert registry; keep this module light

    try:
        document = load_yaml(str(row["trace"]))
        inits = [step for step in document["trace"] if "init" in step]
        for step in inits:
            step["value"] = parse_number(step["value"])
    except (TraceError, NumberError, KeyError, TypeError, ValueError):
        return REFUSED_BAD_TRACE
    outcome = execute(document)
    if not outcome.ok or outcome.value is None:
        return REFUSED_BAD_TRACE
    question = str(row["question"])
    digits = Counter(Fraction(match.group(1)) for match in _CHANGEABLE.finditer(question))
    anywhere = Counter(number.value for number in question_numbers(question))  # digits, words, parts of fractions
    literals = _trace_literals(document)
    init_values = {step["value"] for step in inits}
    years = {
        Fraction(match.group(1))
        for match in _CHANGEABLE.finditer(question)
        if _YEAR_BEFORE.search(question[: match.start()]) and match.group(1).isdigit() and int(match.group(1)) in YEARS
    }
    changeable = sorted(
        value
        for value in init_values
        if value > 1
        and digits[value]
        and digits[value] == anywhere[value]
        and value not in literals | years
        and not derived_constants(value) & literals
    )
    if not changeable:
        return REFUSED_NOTHING_TO_CHANGE
    percent = frozenset(
        Fraction(match.group(1))
        for match in _CHANGEABLE.finditer(question)
        if re.match(r"\s*(?:%|percent)", question[match.end() :])
    )
    fixed = frozenset((set(anywhere) | literals | init_values) - set(changeable))
    return _Plan(document, outcome.value, tuple(changeable), percent, fixed)


def _rewrite_question(question: str, mapping: Mapping[Fraction, Fraction]) -> str:
    def replace(match: re.Match[str]) -> str:
        value = Fraction(match.group(1))
        return spell(mapping[value], decimals(match.group(1))) if value in mapping else match.group(0)

    return _CHANGEABLE.sub(replace, question)


def _answer_text(source_answer: str, source_value: Fraction, value: Fraction) -> str:
    """The variant's answer: exact, or rounded to the source answer's places where the source answer was rounded."""
    try:
        rounded = parse_number(source_answer) != source_value
    except NumberError:
        rounded = False
    if rounded and decimals(source_answer) and answers_match(source_value, source_answer):
        places = decimals(source_answer)
        return spell(round(value, places), places)
    return format_number(value)


def variants(
    row: Mapping[str, Any], k: int, rng: random.Random, rejected: Counter[str] | None = None
) -> list[dict[str, Any]]:
    """Up to `k` verified numeric variants of one dataset line (see the module docstring).

    Raises DevRowError for a dev row. Returns [] for a row with nothing to change, an unreadable trace or a row that
    is a variant itself; `rejected`, when given, counts the rejected draws by reason (and those row outcomes).
    """
    from trace_solver import execute

    if is_dev_row(row):
        raise DevRowError(f"row {row.get('id')} is a dev-split problem: its variants must never reach a training file")
    rejected = rejected if rejected is not None else Counter()
    if str(row.get("source") or "").endswith(VARIANT_SUFFIX):
        rejected[REFUSED_VARIANT_ROW] += 1
        return []
    plan = _plan(row)
    if isinstance(plan, str):
        rejected[plan] += 1
        return []
    out: list[dict[str, Any]] = []
    seen = {str(row["question"])}
    for _ in range(k * DRAWS_PER_VARIANT):
        if len(out) == k:
            break
        mapping: dict[Fraction, Fraction] = {}
        for value in plan.changeable:
            new = draw_value(value, rng, percent=value in plan.percent)
            if new not in plan.fixed and new not in plan.changeable and new not in mapping.values():
                mapping[value] = new
        if not mapping:
            rejected[REJECT_DUPLICATE] += 1
            continue
        question = _rewrite_question(str(row["question"]), mapping)
        if question in seen:
            rejected[REJECT_DUPLICATE] += 1
            continue
        document = {
            "expert": plan.document["expert"],
            "trace": [
                {**step, "value": mapping.get(step["value"], step["value"])} if "init" in step else step
                for step in plan.document["trace"]
            ],
        }
        outcome = execute(document)  # screening on the document is cheap; the text is verified once kept
        if not outcome.ok or outcome.value is None:
            rejected[REJECT_EXECUTION] += 1
            continue
        if outcome.value == plan.value:
            rejected[REJECT_SAME_ANSWER] += 1
            continue
        reason = _same_kind(plan.value, outcome.value)
        if reason:
            rejected[reason] += 1
            continue
        trace = dump_trace(document)
        if execute(trace, extract=False).value != outcome.value:  # the text is what the model learns
            rejected[REJECT_EXECUTION] += 1
            continue
        seen.add(question)
        ident = row.get("id") or "row"
        out.append(
            {
                **row,
                "question": question,
                "trace": trace,
                "answer": _answer_text(str(row["answer"]), plan.value, outcome.value),
                "source": f"{row.get('source') or 'unknown'}{VARIANT_SUFFIX}",
                "id": f"{ident}-v{len(out) + 1}",
            }
        )
    return out


def augment_rows(rows: Iterable[Mapping[str, Any]], k: int, seed: int) -> tuple[list[dict[str, Any]], AugmentSummary]:
    """Variants of every row, each row drawing from ``random.Random(f"{seed}:{id}")``; raises DevRowError on a dev
    row before producing anything."""
    rows = list(rows)
    dev = [row for row in rows if is_dev_row(row)]
    if dev:
        raise DevRowError(
            f"{len(dev)} dev-split row(s), first {dev[0].get('id')}: variants of dev problems must never reach a "
            "training file; augment only a training split"
        )
    out: list[dict[str, Any]] = []
    summary = AugmentSummary()
    for row in rows:
        made = variants(row, k, random.Random(f"{seed}:{row.get('id') or row['question']}"), summary.rejected)
        summary.rows += 1
        summary.variants += len(made)
        summary.per_row[len(made)] += 1
        out += made
    for reason in (REFUSED_VARIANT_ROW, REFUSED_BAD_TRACE, REFUSED_NOTHING_TO_CHANGE):  # row outcomes, not draws
        if reason in summary.rejected:
            summary.refused[reason] = summary.rejected.pop(reason)
    return out, summary


def format_summary(summary: AugmentSummary, k: int) -> str:
    """The human-readable report printed by augment."""
    out = [f"variants: {summary.variants} from {summary.rows} problems ({summary.mean:.2f} per problem, asked {k})"]
    out.append("problems without variants:")
    out += [f"  {code:<28} {count:>6}" for code, count in summary.refused.most_common()] or ["  none"]
    out.append("rejected draws:")
    out += [f"  {code:<28} {count:>6}" for code, count in summary.rejected.most_common()] or ["  none"]
    out.append("variants per problem (variants: problems):")
    out += [f"  {made:>3} {count:>6}" for made, count in sorted(summary.per_row.items())]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------------------
# CLI


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register `augment` on the trace-solver CLI."""
    parser = subparsers.add_parser(
        "augment",
        help="write verified numeric variants of real problems",
        description="For each problem of a dataset JSONL, write up to K copies with other numbers, changed "
        "consistently in the question and the trace and kept only when the trace executes to a new answer of the "
        "same kind. Only the variants are written. A file holding a dev-split row is refused.",
    )
    parser.add_argument("input", type=Path, help="dataset JSONL (question, trace, answer, ... per line)")
    parser.add_argument("--variants", type=int, default=10, help="variants per problem, at most (default: 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same file)")
    parser.add_argument("--out", type=Path, required=True, help="output JSONL of the variants")
    parser.set_defaults(handler=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Handler of `trace-solver augment`."""
    if args.variants < 1:
        print("trace-solver augment: --variants must be at least 1", file=sys.stderr)
        return 1
    try:
        rows = [row for _, row in read_jsonl(args.input, required=REQUIRED)]
        out, summary = augment_rows(rows, args.variants, args.seed)
    except (JSONLError, DevRowError) as err:
        print(f"trace-solver augment: {err}", file=sys.stderr)
        return 1
    try:
        write_jsonl(out, args.out)
    except JSONLError as err:
        print(f"trace-solver augment: {err}", file=sys.stderr)
        return 1
    print(f"augment: {args.input} -> {args.out} (seed {args.seed})")
    print(format_summary(summary, args.variants))
    return 0
