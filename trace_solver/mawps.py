"""Turn MAWPS/ASDiv-A word problems (number-masked text + prefix equation) into verified traces.

The source CSV (columns ``Question``, ``Numbers``, ``Equation``, ``Answer``; others are ignored) masks each number of
a question as ``number0``, ``number1``, ... (values in ``Numbers``, in order), tokenises punctuation with spaces
(``books , how many ?``) and gives the solution as a prefix equation over ``+ - * /`` on those masks and occasional
constants (``* number0 0.01``). Each row becomes a line in the dataset format:

* **Question.** Punctuation is re-attached (``books, how many?``, ``Jane's``, ``multi-national``, ``$5``, ``20%``)
  and each mask is replaced by its number as a person writes it: ``56.0`` -> ``56``, ``0.16666666666666666`` ->
  ``1/6`` (a float of a simple fraction is written as the fraction). Then ``normalize_question`` as everywhere.
* **Trace.** One ``init`` per question number the equation uses, in question order, named from the words around the
  number (``gsm8k.name_hint``: "56 books in each of his 9 bookshelves" -> ``books``, ``bookshelves``); one step per
  run of one operator (``+ + a b c`` is one ``add``). The result is named from what the question asks ("how many
  chairs" -> ``chairs``, or ``total_chairs`` when ``chairs`` is taken). A constant must be explained
  (``gsm8k.is_explained``: 12 for a dozen, 100 or 0.01 for percent, 0.25 for a quarter...), else the row is skipped.
* **Expert** (first that fits both wording and structure, else arithmetic; each candidate must still execute to the
  answer, else the arithmetic trace is used):

  1. ``percentage``: the question says "%"/"percent" and the equation uses the constant 0.01 or 100; a product of a
     percent number, one other operand and 0.01 becomes ``percent_of``.
  2. ``entity_track``: the question says gives/gave/loses/ate/spent/sold/used... and the equation takes question
     numbers away from the first-mentioned one (``- - a b c``): ``consume`` steps from that quantity, which is queried.
  3. ``comparison``: comparative wording ("more than", "times as many", ...) and at most two operators: the steps
     become ``formula`` steps.
  4. ``rate_equation``: rate wording ("per", "each", "every", "an hour", "speed"...) and a product or quotient in the
     equation: the steps become ``formula`` steps.

* **Answer.** The trace, as YAML text, is executed and must give ``Answer`` (``answers_match``; the CSV stores floats,
  so a value within float rounding of it also matches, and the answer is then written exactly: ``5/6``).

Splits: the last ``DEV_SIZE`` (300) rows are the dev split, never in a training file. The source repeats some
problems; a training row whose question equals a dev question (ignoring case, quote style and spacing) is dropped as
``dev_duplicate``. Ids are ``mawps-<split>-<index>``, the 0-based row index inside the split.

    trace-solver convert-mawps mawps-asdiv-a/train.csv --out data/mawps_train.jsonl [--split dev] [--skips FILE]
"""

from __future__ import annotations

import argparse
import ast
import csv
import decimal
import io
import re
import sys
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from trace_solver.builder import TraceBuilder
from trace_solver.files import read_text
from trace_solver.gsm8k import (
    DEFAULT_EXPERT,
    EXPERT_RULES,
    SKIP_EXECUTION,
    SKIP_NO_OPERATION,
    SKIP_UNEXPLAINED,
    SKIP_WRONG_VALUE,
    ConversionSkip,
    Summary,
    add_converter_arguments,
    content_words,
    convert_all,
    count_steps,
    format_summary,
    is_explained,
    name_hint,
    operands,
    write_converted,
)
from trace_solver.limits import MAX_EXPRESSION_NODES
from trace_solver.numbers import NumberError, answers_match, format_number, normalize_question, parse_number

DEV_SIZE = 300  # the last 300 rows of the MAWPS/ASDiv-A train.csv are this project's dev split
SOURCE = "mawps"
SPLITS = ("train", "dev")
COLUMNS = ("Question", "Numbers", "Equation", "Answer")  # the columns the converter reads

SKIP_BAD_ROW = "bad_row"  # Numbers/Answer unreadable, or the masks do not match the Numbers column
SKIP_BAD_EQUATION = "unparseable_equation"  # not a prefix expression over + - * / on masks and numbers
SKIP_DEV_DUPLICATE = "dev_duplicate"  # a training question that is also a dev question

MAX_CELL_EXPONENT = 30  # a cell past 10**30 or below 10**-30 is refused: Fraction("1e99999999") would hang
MAX_FRACTION_DENOMINATOR = 12  # 0.16666666666666666 is written 1/6 when a q <= 12 fraction is within float rounding
FLOAT_TOLERANCE = Fraction(1, 10**9)  # relative: the CSV's floats are rounded binary fractions of the exact answers

_MASK = re.compile(r"\bnumber(\d+)\b")
_OPERATORS: dict[str, type[ast.operator]] = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.Div}
_OP_NAMES: dict[type[ast.operator], str] = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div"}
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_RESULT_NAMES = {"add": "total", "sub": "difference", "mul": "product", "div": "quotient"}
_ANSWER_PREFIXES = {"add": "total", "sub": "difference", "mul": "total", "div": "quotient"}  # books taken: total_books

# Detokenising: tokens glued to the word before them, and tokens glued to the word after them.
_GLUE_LEFT = frozenset({".", ",", "?", "!", ";", ":", ")", "%", "'s", "n't", "'ve", "'re", "'ll", "'m", "'d", "''"})
_GLUE_RIGHT = frozenset({"(", "$", "``"})
# "48 more than Jose", "3 times as many as": the number is a difference or factor, named for it.
_COMPARATIVE = re.compile(r"\s+(more|less|fewer)(?:\s+[a-z]+){0,2}\s+than\b|\s+(times)\s+as\b", re.IGNORECASE)
_ASK = re.compile(r"\bhow (?:many|much)\b(.*)", re.IGNORECASE)
_CONSUME = re.compile(
    r"\b(?:gives?|gave|given|loses?|lost|eats?|ate|eaten|spends?|spent|sells?|sold|uses?|used|takes?|took"
    r"|breaks?|broke|throws?|threw|donates?|donated|left|remain(?:s|ing)?)\b"
)
_PERCENT = dict(EXPERT_RULES)["percentage"]
_COMPARISON = dict(EXPERT_RULES)["comparison"]
_RATE = dict(EXPERT_RULES)["rate_equation"]


class MawpsFileError(ValueError):
    """The MAWPS CSV cannot be read; the message is one line naming the file and the fix."""


# ---------------------------------------------------------------------------------------------------------------------
# Reading the file


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a MAWPS/ASDiv-A CSV; raises MawpsFileError (one line) for a missing, unreadable, non-UTF-8 or
    wrong-columns file."""
    expected = f"expected a MAWPS/ASDiv-A CSV with columns {', '.join(COLUMNS)}"
    text = read_text(path, expected=expected, error=MawpsFileError, encoding="utf-8-sig")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = [column for column in COLUMNS if column not in (reader.fieldnames or ())]
        if missing:
            raise MawpsFileError(f"{path}: missing column(s) {', '.join(missing)}; {expected}")
        rows = [dict(row) for row in reader]
    except csv.Error as err:
        raise MawpsFileError(f"{path}: not CSV ({err}); {expected}") from None
    if not rows:
        raise MawpsFileError(f"{path}: no rows; {expected}")
    return rows


def split_bounds(count: int, split: str, dev_size: int = DEV_SIZE) -> slice:
    """Which of `count` rows belong to a split: 'train' is all but the last `dev_size`, 'dev' is those."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    cut = max(count - dev_size, 0)
    return slice(0, cut) if split == "train" else slice(cut, count)


# ---------------------------------------------------------------------------------------------------------------------
# Natural text


def detokenize(text: str) -> str:
    """Undo the source's tokenisation: ``Jane ’ s dad , he said .`` -> ``Jane’s dad, he said.``"""
    tokens = text.split()
    out = ""
    glue_next = False
    quote_open = False
    for index, token in enumerate(tokens):
        before = tokens[index - 1] if index else ""
        after = tokens[index + 1] if index + 1 < len(tokens) else ""
        glue = glue_next or not out
        glue_next = False
        if token in _GLUE_LEFT:
            glue = True
        elif token == "’" and after.lower() == "s" or token.lower() == "s" and before == "’":
            glue = True  # Jane ’ s -> Jane’s
        elif token == "-" and before[-1:].isalnum() and after[:1].isalnum():
            glue = glue_next = True  # multi - national -> multi-national
        elif token == "'":
            if quote_open or (before.endswith("s") and "'" not in tokens[index + 1 :]):
                glue, quote_open = True, False  # a closing quote, or a plural possessive: the Wagners ' bill
            else:
                glue_next, quote_open = True, True
        elif token in _GLUE_RIGHT:
            glue_next = True
        elif token.startswith("'") and len(token) > 1 and token.lower() not in _GLUE_LEFT:
            quote_open = True  # 'twirly tea cups ' opens here
        token = {"``": '"', "''": '"'}.get(token, token)
        out += token if glue else f" {token}"
    return out


def written_number(raw: str) -> Fraction:
    """A value of the Numbers column as a person writes it: the float of a simple fraction is that fraction."""
    value = exact_decimal(raw)
    simple = value.limit_denominator(MAX_FRACTION_DENOMINATOR)
    if simple != value and abs(simple - value) <= FLOAT_TOLERANCE * max(1, abs(value)):
        return simple
    return parse_number(format_number(value))  # within the solver's limits, or NumberError


def exact_decimal(raw: str) -> Fraction:
    """A CSV float spelled out (``0.16666666666666666``) as the exact decimal it writes; parse_number refuses such
    long decimals, which are float artefacts, not numbers anyone wrote."""
    try:
        number = decimal.Decimal(raw.strip())
    except decimal.InvalidOperation:
        number = None  # "1/6": Fraction reads it below
    if number is not None and (not number.is_finite() or abs(number.adjusted()) > MAX_CELL_EXPONENT):
        raise NumberError(f"{raw!r} is not a number of at most {MAX_CELL_EXPONENT} digits either side of the point")
    try:
        return Fraction(number if number is not None else raw.strip())
    except (ValueError, ZeroDivisionError):
        raise NumberError(f"{raw!r} is not a number") from None


def restore_question(masked: str, numbers: Sequence[Fraction]) -> tuple[str, dict[int, tuple[int, int]]]:
    """The natural question text and the span of each mask's (first) number in it."""
    text = detokenize(masked)
    spans: dict[int, tuple[int, int]] = {}
    parts: list[str] = []
    length, last = 0, 0
    for match in _MASK.finditer(text):
        index = int(match.group(1))
        if index >= len(numbers):
            raise ConversionSkip(SKIP_BAD_ROW, f"{match.group(0)} has no value in the Numbers column")
        parts.append(text[last : match.start()])
        length += match.start() - last
        shown = format_number(numbers[index])
        spans.setdefault(index, (length, length + len(shown)))
        parts.append(shown)
        length += len(shown)
        last = match.end()
    parts.append(text[last:])
    restored = "".join(parts)
    if normalize_question(restored) != restored:  # no thousands separators are written, so spans stay valid
        raise ConversionSkip(SKIP_BAD_ROW, "the restored question changes under normalisation")
    return restored, spans


def question_key(question: str) -> str:
    """What makes two questions 'the same problem' for the dev-duplicate check: case, quote style and spacing
    ignored."""
    return " ".join(re.findall(r"[a-z0-9./$%]+", question.casefold().replace("’", "'").replace("'", "")))


# ---------------------------------------------------------------------------------------------------------------------
# The equation


def parse_prefix(equation: str, mask_count: int) -> ast.expr:
    """The prefix equation as a Python expression tree: masks are ``ast.Name("number0")``, constants are exact
    ``ast.Constant(Fraction)``; raises ConversionSkip for anything else."""
    tokens = equation.split()
    if len(tokens) > MAX_EXPRESSION_NODES:  # before recursing: one level of recursion per operator
        raise ConversionSkip(SKIP_BAD_EQUATION, f"{len(tokens)} tokens, more than the {MAX_EXPRESSION_NODES} allowed")
    position = 0

    def node() -> ast.expr:
        nonlocal position
        if position >= len(tokens):
            raise ConversionSkip(SKIP_BAD_EQUATION, f"{equation!r} ends early")
        token = tokens[position]
        position += 1
        if token in _OPERATORS:
            left, right = node(), node()
            return ast.BinOp(left=left, op=_OPERATORS[token](), right=right)
        mask = re.fullmatch(r"number(\d+)", token)
        if mask:
            if int(mask.group(1)) >= mask_count:
                raise ConversionSkip(SKIP_BAD_EQUATION, f"{token} has no value in the Numbers column")
            return ast.Name(id=token)
        try:
            return ast.Constant(value=parse_number(token))
        except NumberError:
            message = f"{token!r} in {equation!r} is neither an operator nor a number"
            raise ConversionSkip(SKIP_BAD_EQUATION, message) from None

    tree = node()
    if position != len(tokens):
        raise ConversionSkip(SKIP_BAD_EQUATION, f"{equation!r} has tokens after a complete expression")
    if not isinstance(tree, ast.BinOp):
        raise ConversionSkip(SKIP_NO_OPERATION, "the equation is a single number, not a computation")
    return tree


def _masks(tree: ast.expr) -> list[int]:
    return sorted({int(node.id[6:]) for node in ast.walk(tree) if isinstance(node, ast.Name)})


def _sub_chain(tree: ast.expr) -> list[int] | None:
    """Mask indices of a pure take-away chain ``a - b - c`` of question numbers, else None."""
    if not (isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Sub)):
        return None
    args = operands(tree)
    if not all(isinstance(arg, ast.Name) for arg in args):
        return None
    return [int(arg.id[6:]) for arg in args]  # type: ignore[attr-defined]


def _takes_from_first(chain: Sequence[int], spans: Mapping[int, tuple[int, int]]) -> bool:
    """Whether a take-away chain starts from the question's first-mentioned number and uses each number once."""
    return chain[0] == min(chain, key=lambda i: spans[i][0]) and len(set(chain)) == len(chain)


class _Emitter:
    """Emits the steps of one equation tree into a TraceBuilder (one step per run of one operator)."""

    def __init__(self, builder: TraceBuilder, question: str, spans: Mapping[int, tuple[int, int]], style: str):
        self.builder, self.question, self.spans, self.style = builder, question, spans, style
        self.vars: dict[int, str] = {}
        self.percent_vars: set[str] = set()

    def init_all(self, masks: Sequence[int], numbers: Sequence[Fraction]) -> None:
        for index in sorted(masks, key=lambda i: self.spans[i][0]):  # question order
            start, end = self.spans[index]
            hint = _distinct_words(name_hint(self.question, start, end))
            comparative = _COMPARATIVE.match(self.question, end)
            word = comparative and (comparative.group(1) or comparative.group(2)).lower()
            if word and hint and not hint.startswith(word):  # "48 more than Jose" names more_jose, not jose
                hint = f"{word}_{hint}"
            # No content word around the number ("the other had 39."): it counts what the question asks about.
            self.vars[index] = self.builder.init(hint or _ask_hint(self.question), numbers[index], "number")
            if hint.startswith("percent"):
                self.percent_vars.add(self.vars[index])

    def emit(self, node: ast.expr, hint: str | None = None) -> str | Fraction:
        if isinstance(node, ast.Name):
            return self.vars[int(node.id[6:])]
        if isinstance(node, ast.Constant):
            return node.value
        assert isinstance(node, ast.BinOp)
        op = _OP_NAMES[type(node.op)]
        args = [self.emit(child) for child in operands(node)]
        base = _RESULT_NAMES[op]
        if hint:
            base = hint if hint not in self.builder.env else f"{_ANSWER_PREFIXES[op]}_{hint}"
        if self.style == "percentage" and op == "mul" and len(args) == 3 and Fraction(1, 100) in args:
            percents = [arg for arg in args if arg in self.percent_vars]
            others = [arg for arg in args if arg not in self.percent_vars and arg != Fraction(1, 100)]
            if len(percents) == 1 and len(others) == 1:
                var = self.builder.step("percent_of", {"base": others[0], "percent": percents[0]}, base)
                assert var is not None
                return var
        if self.style == "formula":
            expression = f" {_SYMBOLS[op]} ".join(_formula_operand(arg) for arg in args)
            return self.builder.formula(base, expression)
        return self.builder.compute(op, args, base, _RESULT_NAMES[op])


def _distinct_words(hint: str) -> str:
    """``cars_cars`` (from "12 more cars how many cars") -> ``cars``."""
    return "_".join(dict.fromkeys(hint.split("_")))


def _formula_operand(arg: str | Fraction) -> str:
    if isinstance(arg, str):
        return arg
    text = format_number(arg)
    return f"({text})" if "/" in text else text


def _ask_hint(question: str) -> str:
    """Name words for the answer: what "how many/much ..." asks for ("how many chairs have..." -> ``chairs``)."""
    match = _ASK.search(question)
    return _distinct_words("_".join(content_words(match.group(1)))) if match else ""


def choose_expert(question: str, tree: ast.expr, spans: Mapping[int, tuple[int, int]]) -> str:
    """The expert whose wording and step vocabulary fit the problem (see the module docstring), else arithmetic."""
    lowered = question.lower()
    chain = _sub_chain(tree)
    constants = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}
    ops = [node.op for node in ast.walk(tree) if isinstance(node, ast.BinOp)]
    if _PERCENT.search(lowered) and constants & {Fraction(1, 100), Fraction(100)}:
        return "percentage"
    if _CONSUME.search(lowered) and chain and _takes_from_first(chain, spans):
        return "entity_track"
    if _COMPARISON.search(lowered) and len(ops) <= 2:
        return "comparison"
    if _RATE.search(lowered) and any(isinstance(op, (ast.Mult, ast.Div)) for op in ops):
        return "rate_equation"
    return DEFAULT_EXPERT


def build_document(
    question: str, spans: Mapping[int, tuple[int, int]], numbers: Sequence[Fraction], tree: ast.expr, expert: str
) -> dict[str, Any]:
    """The trace document for one problem in the given expert's style (raises ArithmeticError on division by zero)."""
    builder = TraceBuilder(expert)
    masks = _masks(tree)
    chain = _sub_chain(tree) if expert == "entity_track" else None
    if chain and _takes_from_first(chain, spans):
        emitter = _Emitter(builder, question, spans, "compute")
        emitter.init_all(masks, numbers)
        holder = emitter.vars[chain[0]]
        for index in chain[1:]:
            builder.step("consume", {"from": holder, "amount": emitter.vars[index]})
        return builder.document(holder)
    style = {"percentage": "percentage", "comparison": "formula", "rate_equation": "formula"}.get(expert, "compute")
    emitter = _Emitter(builder, question, spans, style)
    emitter.init_all(masks, numbers)
    query = emitter.emit(tree, _ask_hint(question) or None)
    assert isinstance(query, str)
    return builder.document(query)


# ---------------------------------------------------------------------------------------------------------------------
# Converting rows


def _verified(doc: dict[str, Any], gold: str) -> tuple[str, str] | None:
    """(trace text, answer) when the trace text executes to the gold answer, else None."""
    from trace_solver import dump_trace, execute  # package level imports the expert registry; keep this module light

    trace = dump_trace(doc)
    outcome = execute(trace, extract=False)  # the text is what the model learns, so verify the text, not the dict
    if not outcome.ok or outcome.value is None:
        return None
    value, expected = outcome.value, exact_decimal(gold)
    if value == expected:
        return trace, format_number(value)
    if answers_match(value, gold):
        return trace, gold  # the source rounded the answer ("rounded to the nearest tenth"): keep its spelling
    if abs(value - expected) <= FLOAT_TOLERANCE * max(1, abs(expected)):
        return trace, format_number(value)  # a float of the exact answer: 0.8333333333333334 is 5/6
    return None


def convert_row(row: Mapping[str, str], ident: str) -> dict[str, Any]:
    """One CSV row (a mapping with the COLUMNS) as a dataset line; raises ConversionSkip with a reason code."""
    try:
        numbers = [written_number(raw) for raw in (row.get("Numbers") or "").split()]
        gold = (row.get("Answer") or "").strip()
        exact_decimal(gold)
    except NumberError as err:
        raise ConversionSkip(SKIP_BAD_ROW, f"unreadable Numbers or Answer: {err}") from None
    masked = row.get("Question") or ""
    if {int(i) for i in _MASK.findall(masked)} != set(range(len(numbers))):
        raise ConversionSkip(SKIP_BAD_ROW, f"the question's masks do not match the {len(numbers)} Numbers")
    question, spans = restore_question(masked, numbers)
    tree = parse_prefix(row.get("Equation") or "", len(numbers))
    question_values = {numbers[i] for i in range(len(numbers))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and not is_explained(node.value, question_values):
            raise ConversionSkip(SKIP_UNEXPLAINED, f"constant {format_number(node.value)} is not in the question")
    expert = choose_expert(question, tree, spans)
    for candidate in dict.fromkeys((expert, DEFAULT_EXPERT)):  # a fitting expert if it verifies, else arithmetic
        try:
            doc = build_document(question, spans, numbers, tree, candidate)
        except ArithmeticError as err:
            if candidate == DEFAULT_EXPERT:
                raise ConversionSkip(SKIP_EXECUTION, f"the equation does not execute: {err}") from None
            continue
        verified = _verified(doc, gold)
        if verified is not None:
            trace, answer = verified
            return {
                "question": question,
                "expert": candidate,
                "trace": trace,
                "answer": answer,
                "steps": count_steps(doc),
                "source": SOURCE,
                "template": None,
                "id": ident,
            }
    raise ConversionSkip(SKIP_WRONG_VALUE, f"the equation {row.get('Equation')!r} does not give {gold}")


def dev_question_keys(rows: Sequence[Mapping[str, str]], dev_size: int = DEV_SIZE) -> set[str]:
    """question_key of every dev row's natural question (rows: the whole file)."""
    keys = set()
    for row in rows[split_bounds(len(rows), "dev", dev_size)]:
        try:
            numbers = [written_number(raw) for raw in (row.get("Numbers") or "").split()]
            keys.add(question_key(restore_question(row.get("Question") or "", numbers)[0]))
        except (ConversionSkip, NumberError):
            keys.add(question_key(detokenize(row.get("Question") or "")))
    return keys


def convert_rows(
    rows: Sequence[Mapping[str, str]], split: str, dev_size: int = DEV_SIZE
) -> tuple[list[dict[str, Any]], Summary, list[tuple[str, str]]]:
    """Convert one split of a whole file's rows; returns the rows, a summary, and (id, "code: message") per skip.

    Training rows whose question is also a dev question are skipped as ``dev_duplicate``. `dev_size` is the number
    of last rows that form the dev split (DEV_SIZE for the real file; smaller for a sample of it).
    """
    dev_keys = dev_question_keys(rows, dev_size) if split == "train" else set()

    def convert(row: Mapping[str, str], ident: str) -> dict[str, Any]:
        converted = convert_row(row, ident)
        if question_key(converted["question"]) in dev_keys:
            raise ConversionSkip(SKIP_DEV_DUPLICATE, "the same question is in the dev split")
        return converted

    return convert_all(rows[split_bounds(len(rows), split, dev_size)], convert, SOURCE, split)


# ---------------------------------------------------------------------------------------------------------------------
# CLI


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register `convert-mawps` on the trace-solver CLI."""
    parser = subparsers.add_parser(
        "convert-mawps",
        help="turn MAWPS/ASDiv-A prefix equations into verified traces",
        description=f"Convert MAWPS/ASDiv-A problems (CSV with columns {', '.join(COLUMNS)}) into verified traces. "
        f"The last {DEV_SIZE} rows are the dev split: --split train (default) converts the rows before them and drops "
        "any whose question is also a dev question; --split dev converts only the dev rows (for evaluation).",
    )
    add_converter_arguments(parser, "MAWPS/ASDiv-A CSV")
    parser.set_defaults(handler=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Handler of `trace-solver convert-mawps`."""
    try:
        rows = read_rows(args.input)
    except MawpsFileError as err:
        print(f"trace-solver convert-mawps: {err}", file=sys.stderr)
        return 1
    converted, summary, skipped = convert_rows(rows, args.split)
    if not write_converted("convert-mawps", converted, skipped, args):
        return 1
    print(f"convert-mawps: split {args.split}, {summary.attempted} problems from {args.input} -> {args.out}")
    print(format_summary(summary))
    print(f"dev duplicates dropped: {summary.skips.get(SKIP_DEV_DUPLICATE, 0)}")
    return 0 if summary.converted or not summary.attempted else 1
