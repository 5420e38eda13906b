"""Why a model's answers are wrong: each evaluation record in one failure category, counted in a Markdown table.

    python -m trace_recipe.failures out/gsm8k_dev_records.jsonl out/mawps_dev_records.jsonl \\
        --gsm8k_path data/gsm8k/train.jsonl --mawps_path data/mawps-asdiv-a/train.csv --out failures.md

Categories (every record gets exactly one; status/code/correct are the record's own, from `score_record`):

    correct           the trace executes to the gold answer
    unparsed          no YAML mapping with `expert` and `trace` (status parse_error or not_a_trace)
    invalid:<code>    a trace the solver refuses or cannot run (unknown_expert, schema_error, execution_error), by code
    wrong_number      executes to a wrong value, and its set of numeric literals differs from the gold trace's
    wrong_operation   same literals, but the multiset of operations differs
    wrong_wiring      same literals and operations, yet a wrong value: arguments in the wrong order or places
    wrong_no_gold     executes to a wrong value, and the question has no gold trace to compare with

Literals are the distinct numbers a trace writes (init values, numeric operands, constants in formulas), compared
as the exact values the solver reads: ``0.5`` and ``1/2`` are one literal, ``"$1,000"`` is 1000, ``"70%"`` is 70, and
a negated constant in a formula (``-3``) is -3. A value written twice counts once; an equivalent computation with other
numbers (``* 0.01`` for ``/ 100``) is a different literal. Operations count binary
applications: ``compute: {op: add, args: [a, b, c]}`` and the formula ``a + b + c`` are both two ``add``; a formula's
unary minus on a name is ``neg`` and each function call is its name (``min``/``max`` with k arguments: k-1 times);
``consume`` is a ``sub``; other step kinds that compute (``transfer``, ``percent_*``) count under their own name.

Gold traces are the converters' traces of the dev questions (`trace_solver.gsm8k.convert_problem` for the last
``gsm8k.DEV_SIZE`` problems, `trace_solver.mawps.convert_row` for the last ``mawps.DEV_SIZE`` rows); a record meets
its gold trace by question (``question_key(normalize_question(q))``, as `trace-solver stats` matches duplicates).
Questions the converters skip have no gold trace.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

from trace_recipe.errors import EXIT_ERROR
from trace_solver import gsm8k, mawps
from trace_solver.executor import read_steps
from trace_solver.expressions import OPERATOR_NAMES, compile_expression
from trace_solver.gsm8k import ConversionSkip
from trace_solver.jsonl import JSONLError, read_jsonl
from trace_solver.loader import extract_yaml, load_completion
from trace_solver.mawps import question_key
from trace_solver.numbers import normalize_question, parse_number
from trace_solver.outcome import Status, TraceError

CORRECT = "correct"
UNPARSED = "unparsed"
INVALID = "invalid"  # categories are "invalid:<code>"
WRONG_NUMBER = "wrong_number"
WRONG_OPERATION = "wrong_operation"
WRONG_WIRING = "wrong_wiring"
WRONG_NO_GOLD = "wrong_no_gold"
CATEGORIES = (CORRECT, WRONG_NUMBER, WRONG_OPERATION, WRONG_WIRING, WRONG_NO_GOLD, UNPARSED)  # table order
RECORD_FIELDS = ("question", "answer", "completion", "status")  # string fields every record must have

QUESTION_CHARS = 100  # example question shown in the table, at most
TRACE_CHARS = 160  # example trace, compacted to one line, at most

_UNPARSED_STATUSES = frozenset({Status.PARSE_ERROR.value, Status.NOT_A_TRACE.value})
_FOLDING_FUNCTIONS = frozenset({"min", "max"})  # k arguments: k-1 applications, like compute's min/max
_STEP_OPERATIONS = {"consume": "sub"}  # step kinds that are a compute op under another name
_NOT_OPERATIONS = frozenset({"init", "query"})


class FailuresError(ValueError):
    """A records or gold file cannot be read or written; the message is one line naming it."""


class Signature(NamedTuple):
    """What a trace writes: its distinct numeric literals and how often it applies each operation."""

    literals: frozenset[Fraction]
    operations: Counter[str]


def trace_signature(text: str) -> Signature | None:
    """The signature of a valid trace (a completion or YAML text), read as the executor reads it; None if invalid."""
    try:
        kinds, steps = read_steps(load_completion(text))
    except TraceError:
        return None
    literals: set[Fraction] = set()
    operations: Counter[str] = Counter()
    for kind, params in zip(kinds, steps, strict=True):
        for field in kind.fields:
            value = params.get(field.name)
            if field.type == "expression":
                _read_expression(compile_expression(value)[0], literals, operations)
            elif isinstance(value, Fraction):  # a number, or an operand written as a number
                literals.add(value)
            elif isinstance(value, list):  # compute's args
                literals.update(arg for arg in value if isinstance(arg, Fraction))
        if kind.name == "compute":
            operations[params["op"]] += len(params["args"]) - 1
        elif kind.name != "formula" and kind.name not in _NOT_OPERATIONS:
            operations[_STEP_OPERATIONS.get(kind.name, kind.name)] += 1
    return Signature(frozenset(literals), operations)


def _read_expression(node: ast.AST, literals: set[Fraction], operations: Counter[str]) -> None:
    """Add a checked formula tree's literals and operations (see the module docstring)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        literals.add(-parse_number(node.operand.value))
        return
    if isinstance(node, ast.Constant):
        literals.add(parse_number(node.value))
    elif isinstance(node, ast.BinOp):
        operations[OPERATOR_NAMES[type(node.op)]] += 1
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        operations["neg"] += 1
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = node.func.id
        operations[name] += len(node.args) - 1 if name in _FOLDING_FUNCTIONS else 1
    for child in ast.iter_child_nodes(node):
        _read_expression(child, literals, operations)


def _key(question: str) -> str:
    return question_key(normalize_question(question))


def classify_records(records: Iterable[Mapping[str, Any]], gold: Mapping[str, str]) -> list[str]:
    """The failure category of each record (see the module docstring); `gold` maps question text to a gold trace."""
    gold_by_key: dict[str, str] = {}
    for question, trace in gold.items():
        gold_by_key.setdefault(_key(question), trace)
    signatures: dict[str, Signature | None] = {}  # gold signatures, read once per question

    categories = []
    for record in records:
        status = record["status"]
        if status in _UNPARSED_STATUSES:
            categories.append(UNPARSED)
        elif status != Status.OK.value:
            categories.append(f"{INVALID}:{record.get('code') or status}")
        elif record.get("correct"):
            categories.append(CORRECT)
        else:
            key = _key(record["question"])
            if key in gold_by_key and key not in signatures:
                signatures[key] = trace_signature(gold_by_key[key])
            categories.append(_wrong_category(trace_signature(record["completion"]), signatures.get(key)))
    return categories


def _wrong_category(model: Signature | None, gold: Signature | None) -> str:
    if model is None or gold is None:  # no gold trace (or a record whose completion is not the valid trace it says)
        return WRONG_NO_GOLD
    if model.literals != gold.literals:
        return WRONG_NUMBER
    if model.operations != gold.operations:
        return WRONG_OPERATION
    return WRONG_WIRING


def load_gold(gsm8k_path: str | None = None, mawps_path: str | None = None, *, dev_only: bool = True) -> dict[str, str]:
    """Gold traces by question: the converters' traces of GSM-8K's `train.jsonl` and MAWPS/ASDiv-A's `train.csv`.

    `dev_only` keeps the dev split (the last `gsm8k.DEV_SIZE` problems, the last `mawps.DEV_SIZE` rows), which the
    `gsm8k_dev` and `mawps_dev` eval sets hold; False converts every row (a small sample file). Problems the
    converters skip have no gold trace. Raises FailuresError for a file that cannot be read.
    """
    gold: dict[str, str] = {}
    if gsm8k_path:
        try:
            problems = [row for _, row in read_jsonl(gsm8k_path, required=("question", "answer"))]
        except JSONLError as err:
            raise FailuresError(f"--gsm8k_path {err}") from None
        if dev_only:
            problems = problems[gsm8k.split_bounds(len(problems), "dev")]
        for index, row in enumerate(problems):
            try:
                converted = gsm8k.convert_problem(row["question"], row["answer"], f"gsm8k-{index:05d}")
            except ConversionSkip:
                continue
            gold.setdefault(converted["question"], converted["trace"])
    if mawps_path:
        try:
            rows = mawps.read_rows(mawps_path)
        except mawps.MawpsFileError as err:
            raise FailuresError(f"--mawps_path {err}") from None
        if dev_only:
            rows = rows[mawps.split_bounds(len(rows), "dev", mawps.DEV_SIZE)]
        for index, row in enumerate(rows):
            try:
                converted = mawps.convert_row(row, f"mawps-{index:05d}")
            except ConversionSkip:
                continue
            gold.setdefault(converted["question"], converted["trace"])
    return gold


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (and a code span)."""
    return text.replace("|", "\\|").replace("`", "'")


def _example(record: Mapping[str, Any]) -> str:
    question = _clip(" ".join(str(record["question"]).split()), QUESTION_CHARS)
    trace = _clip(" ".join(extract_yaml(str(record["completion"])).split()), TRACE_CHARS)
    value = record.get("value")
    shown = f"`{_cell(trace)}`" if trace else "(empty)"
    model = "none" if value is None else value
    return f'"{_cell(question)}" {shown} gold {_cell(str(record["answer"]))}, model {model}'


def failure_table(
    records: Sequence[Mapping[str, Any]], categories: Sequence[str], examples_per_category: int = 2
) -> str:
    """Markdown: one row per category with its count, its share of the records and up to N examples (the question,
    the model's trace on one line, the gold answer and the model's value). Categories with no record are listed
    too, except the invalid:<code> ones; invalid codes come most common first."""
    counts = Counter(categories)
    invalid = sorted((c for c in counts if c.startswith(f"{INVALID}:")), key=lambda c: (-counts[c], c))
    order = [*CATEGORIES[:-1], *invalid, CATEGORIES[-1]]  # unparsed last
    total = len(categories)
    lines = ["| Category | Count | Share | Examples |", "|---|---:|---:|---|"]
    for category in order:
        examples = [_example(r) for r, c in zip(records, categories, strict=True) if c == category]
        share = f"{100 * counts[category] / total:.1f}%" if total else "n/a"
        cell = "<br>".join(examples[:examples_per_category])
        lines.append(f"| {category} | {counts[category]} | {share} | {cell} |")
    lines.append(f"| total | {total} | {'100.0%' if total else 'n/a'} | |")
    return "\n".join(lines) + "\n"


def read_records(path: str) -> list[dict[str, Any]]:
    """The records of an evaluation's `<name>_records.jsonl`; raises FailuresError (one line)."""
    try:
        return [row for _, row in read_jsonl(path, required=RECORD_FIELDS)]
    except JSONLError as err:
        raise FailuresError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trace_recipe.failures",
        description="Count evaluation records by failure category, comparing wrong traces with gold traces.",
    )
    parser.add_argument("records", nargs="+", help="<name>_records.jsonl files written by an evaluation")
    parser.add_argument("--gsm8k_path", help="GSM-8K train.jsonl: gold traces of its last gsm8k.DEV_SIZE problems")
    parser.add_argument("--mawps_path", help="MAWPS/ASDiv-A train.csv: gold traces of its last mawps.DEV_SIZE rows")
    parser.add_argument("--examples", type=int, default=2, help="examples per category in the table (default 2)")
    parser.add_argument("--out", help="also write the tables to this Markdown file")
    parser.add_argument("--json", help="also write the counts per category per file to this JSON file")
    return parser


def run(args: argparse.Namespace) -> str:
    """The report for parsed arguments (writing --out and --json); raises FailuresError."""
    gold = load_gold(args.gsm8k_path, args.mawps_path)
    sections, counts = [], {}
    for path in args.records:
        records = read_records(path)
        categories = classify_records(records, gold)
        sections.append(f"## {path}\n\n{failure_table(records, categories, args.examples)}")
        counts[path] = dict(Counter(categories).most_common())
    report = "\n".join(sections)
    for target, text in ((args.out, report), (args.json, json.dumps(counts, indent=2) + "\n")):
        if target:
            try:
                Path(target).write_text(text, encoding="utf-8")
            except OSError as err:
                raise FailuresError(f"{target}: cannot write ({err.strerror})") from None
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Print the failure tables; an expected failure is one line `error: ...` on stderr and exit status 2."""
    args = build_parser().parse_args(argv)
    try:
        report = run(args)
    except FailuresError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    print(report, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
