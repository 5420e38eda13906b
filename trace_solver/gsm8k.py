"""Turn GSM-8K's calculator annotations into verified traces.

GSM-8K solutions carry annotations such as ``<<16-3-4=9>>`` and end with ``#### 9``. Each problem becomes a trace:

* **init** -- every annotation operand that also occurs in the (normalised) question, as digits or as a number word
  ("ten"), becomes one ``init`` step. Its name comes from the question text: up to two content words after the
  number ("48 clips" -> ``clips``, "$12 an hour" -> ``dollars_hour``, "25% of the students" ->
  ``percent_students``), otherwise the word before it, otherwise ``n``; names are made unique (``clips_2``), valid
  identifiers, and never Python keywords or YAML 1.1 booleans (``yes``, ``no``, ``on``...).
* **compute** -- each annotation expression is parsed with ``ast`` (never evaluated by Python) and becomes a chain of
  compute steps: a left-associated run of one operator is one step (``16-3-4`` -> ``sub [a, b, c]``; ``a+(b+c)`` is
  flattened too because add/mul are associative), a mixed expression is one step per operator run, inner results
  named after the operation (``product``, ``quotient``...). Chains of compute run under every expert, so no
  ``formula`` steps are emitted. An operand equal to an earlier annotation's result refers to that result's variable
  (the most recent one); otherwise a question number refers to its init variable; anything else is a literal
  constant (2 for "twice", 60 minutes per hour, 100 for percentages).
* The annotation's result is named from the solution text after it (``<<48/2=24>>24 clips`` -> ``clips_2``).
* **query** -- the last annotation's result. Steps that the query does not depend on are dropped.

Expert assignment (first rule that matches the lower-cased question wins; every expert allows init/compute/query, so
any assignment validates):

1. ``percentage``: "%" or the word "percent".
2. ``comparison``: comparative phrasing -- "more than", "less than", "fewer than", "older than", "younger than",
   "times as", "twice as", "half as", "as many as", "as much as".
3. ``rate_equation``: rates -- "per", "each", "every", "an hour"/"a day"/..., "speed", "rate", "mph".
4. ``entity_track``: transfers -- gives/gave, buys/bought, sells/sold, eats/ate, spends/spent, loses/lost, takes/took,
   "left", "remain(s/ing)".
5. ``arithmetic``: everything else.

Every converted trace is executed by ``trace_solver.execute`` and must reach the gold answer (``answers_match``);
otherwise the problem is skipped with one of the ``SKIP_*`` reason codes below.

Splits: the last ``DEV_SIZE`` (500) lines of the input are the dev split. ``--split train`` (the default) converts
only the lines before them, ``--split dev`` only those 500 (for evaluation). Ids are ``gsm8k-<split>-<index>`` with
the 0-based index inside the split.

    trace-solver convert-gsm8k ../shared/data/gsm8k/train.jsonl --out data/gsm8k_train.jsonl
"""

from __future__ import annotations

import argparse
import ast
import json
import keyword
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from trace_solver.expressions import is_reserved_name
from trace_solver.numbers import NumberError, answers_match, format_number, normalize_question, parse_number

DEV_SIZE = 500  # the last 500 lines of GSM-8K train.jsonl are this project's dev split
SOURCE = "gsm8k"

# Skip reason codes, one per way a problem can fail to convert.
SKIP_BAD_LINE = "bad_line"  # not a JSON object with string question/answer
SKIP_NO_GOLD = "no_gold_answer"  # no readable "#### value" line
SKIP_NO_ANNOTATIONS = "no_annotations"  # the solution has no <<expr=value>> annotation
SKIP_UNPARSEABLE = "unparseable_annotation"  # an annotation is not plain arithmetic on numbers
SKIP_ARITHMETIC = "annotation_arithmetic_wrong"  # an annotation's stated result is not what its expression gives
SKIP_FINAL_MISMATCH = "final_result_not_gold"  # the last annotation's result is not the gold answer
SKIP_EXECUTION = "execution_error"  # the built trace does not execute (a solver limit, division by zero...)
SKIP_WRONG_VALUE = "trace_value_not_gold"  # it executes, but not to the gold answer (e.g. rounded intermediates)

_ANNOTATION = re.compile(r"<<([^<>=]*)=([^<>=]*)>>")
_GOLD = re.compile(r"####\s*(.+?)\s*$")
# A number in running (already normalised) text; not part of a word or of a longer number.
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)(?![\d])")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\S")

_NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}  # fmt: skip
# "one" is left out on purpose: it is mostly a pronoun ("one of them"), and 1 is a fine literal.

# Words that never make a good variable name (function words, pronouns, vague quantifiers).
_STOPWORDS = frozenset(
    """a an the of in on at to for and or but nor with by from as into onto over under about than then so if
    is are was were be been being has have had do does did will would can could should may might must
    i me my we us our you your he him his she her it its they them their this that these those there here
    each per every all some any many much more less few fewer most least other another such only just also
    what which who whom whose how when where why not no yes
    times time total altogether""".split()
)
# Names a trace must not use: Python keywords (names should read as identifiers) and YAML 1.1 scalars that a
# model's `{init: yes}` would turn into a boolean or null.
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "nan", "inf"})
_MAX_NAME_WORDS = 2
_MAX_NAME_CHARS = 32
_LOOKAHEAD_TOKENS = 5

_OPS: dict[type[ast.operator], str] = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.FloorDiv: "floordiv",
    ast.Mod: "mod",
    ast.Pow: "pow",
}
_ASSOCIATIVE = {ast.Add, ast.Mult}
_LEFT_FOLD = {ast.Sub, ast.Div}  # the solver folds sub/div left to right, so a-b-c is one step
_RESULT_NAMES = {"add": "total", "sub": "difference", "mul": "product", "div": "quotient", "floordiv": "quotient",
                 "mod": "remainder", "pow": "power"}  # fmt: skip

_EXPERT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("percentage", re.compile(r"%|\bpercent")),
    (
        "comparison",
        re.compile(
            r"\b(?:more|less|fewer|older|younger|taller|shorter|longer|heavier|cheaper) than\b"
            r"|\btimes as\b|\btwice as\b|\bhalf as\b|\bas (?:many|much) as\b"
        ),
    ),
    (
        "rate_equation",
        re.compile(
            r"\bper\b|\beach\b|\bevery\b|\b(?:an|a) (?:hour|minute|day|week|month|year)\b"
            r"|\bspeed\b|\brate\b|\bmph\b"
        ),
    ),  # fmt: skip
    (
        "entity_track",
        re.compile(
            r"\b(?:gives?|gave|buys?|bought|sells?|sold|eats?|ate|spends?|spent|loses?|lost"
            r"|takes?|took|left|remain(?:s|ing)?)\b"
        ),
    ),  # fmt: skip
)


class ConversionSkip(Exception):
    """A problem that cannot become a verified trace; `code` is one of the SKIP_* constants."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Annotation:
    """One `<<expr=result>>` of a solution: the parsed expression, its stated result and the text after it."""

    expression: ast.expr
    text: str
    result: Fraction
    after: str  # solution text after the annotation, used to name the result


@dataclass(frozen=True)
class QuestionNumber:
    value: Fraction
    hint: str  # suggested variable name from the surrounding words


@dataclass
class Summary:
    """Counts for the convert-gsm8k report."""

    attempted: int = 0
    converted: int = 0
    skips: Counter[str] = field(default_factory=Counter)
    steps: Counter[int] = field(default_factory=Counter)
    experts: Counter[str] = field(default_factory=Counter)

    @property
    def yield_percent(self) -> float:
        return 100.0 * self.converted / self.attempted if self.attempted else 0.0


# ---------------------------------------------------------------------------------------------------------------------
# Reading a solution


def gold_answer(solution: str) -> str:
    """The gold answer after ``####``, with thousands separators removed ("1,080" -> "1080")."""
    lines = solution.strip().splitlines()
    match = _GOLD.search(lines[-1]) if lines else None
    if not match:
        raise ConversionSkip(SKIP_NO_GOLD, "no '#### value' line")
    text = match.group(1).replace(",", "")
    try:
        parse_number(text)
    except NumberError as err:
        raise ConversionSkip(SKIP_NO_GOLD, f"gold answer {text!r} is not a number: {err}") from None
    return text


def parse_annotations(solution: str) -> list[Annotation]:
    """Every calculator annotation in order, parsed and arithmetic-checked (raises ConversionSkip)."""
    annotations = []
    for match in _ANNOTATION.finditer(solution):
        expr_text, result_text = match.group(1).strip(), match.group(2).strip()
        node = _parse_expression(expr_text)
        result = _parse_result(result_text, expr_text)
        _check_arithmetic(node, result, match.group(0))
        annotations.append(Annotation(node, expr_text, result, solution[match.end() : match.end() + 80]))
    if not annotations:
        raise ConversionSkip(SKIP_NO_ANNOTATIONS, "the solution has no <<expr=value>> annotation")
    return annotations


def _parse_expression(text: str) -> ast.expr:
    cleaned = re.sub(r"(?<![\d.])0+(?=\d)", "", text)  # "05" is a syntax error in Python 3
    try:
        tree = ast.parse(cleaned, mode="eval")
    except SyntaxError:
        raise ConversionSkip(SKIP_UNPARSEABLE, f"<<{text}>> is not an arithmetic expression") from None
    for node in ast.walk(tree.body):
        if not isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Constant, *_OPS, ast.USub, ast.UAdd)):
            raise ConversionSkip(SKIP_UNPARSEABLE, f"<<{text}>> uses {type(node).__name__}")
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not isinstance(node.value, int | float)):
            raise ConversionSkip(SKIP_UNPARSEABLE, f"<<{text}>> has a non-numeric constant")
    return tree.body


def _parse_result(text: str, expr_text: str) -> Fraction:
    try:
        return parse_number(text.replace("$", ""))
    except NumberError:
        raise ConversionSkip(SKIP_UNPARSEABLE, f"<<{expr_text}={text}>> has a non-numeric result") from None


def _literal(node: ast.Constant) -> Fraction:
    # Read the literal from its exact decimal spelling so that 0.1 is 1/10, not a binary float.
    return Fraction(repr(node.value)) if isinstance(node.value, float) else Fraction(node.value)


def evaluate(node: ast.expr) -> Fraction:
    """Exact value of a parsed annotation expression (Fractions only; raises ConversionSkip)."""
    if isinstance(node, ast.Constant):
        return _literal(node)
    if isinstance(node, ast.UnaryOp):
        value = evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    assert isinstance(node, ast.BinOp)
    left, right = evaluate(node.left), evaluate(node.right)
    try:
        return _apply(type(node.op), left, right)
    except (ZeroDivisionError, OverflowError, ValueError) as err:
        raise ConversionSkip(SKIP_UNPARSEABLE, f"annotation arithmetic fails: {err}") from None


def _apply(op: type[ast.operator], left: Fraction, right: Fraction) -> Fraction:
    if op is ast.Add:
        return left + right
    if op is ast.Sub:
        return left - right
    if op is ast.Mult:
        return left * right
    if op is ast.Div:
        return left / right
    if op is ast.FloorDiv:
        return Fraction(left // right)
    if op is ast.Mod:
        return left % right
    if right.denominator != 1 or abs(right) > 64:  # pow: only small integer exponents, as in the solver
        raise ValueError("exponent is not a small integer")
    return left ** int(right)


def _check_arithmetic(node: ast.expr, stated: Fraction, raw: str) -> None:
    exact = evaluate(node)
    if exact == stated:
        return
    # A stated result rounded to the decimals it is written with is the calculator being honest, not wrong.
    written = format_number(stated)
    places = len(written.split(".")[1]) if "." in written else 0
    if places and round(exact, places) == stated:
        return
    raise ConversionSkip(SKIP_ARITHMETIC, f"{raw}: the expression gives {format_number(exact)}")


# ---------------------------------------------------------------------------------------------------------------------
# Reading a question


def question_numbers(question: str) -> list[QuestionNumber]:
    """Numbers of a normalised question (digits and number words) with a name hint for each, in order."""
    found: list[tuple[int, QuestionNumber]] = []
    for match in _NUMBER.finditer(question):
        hint = _hint(question, match.start(), match.end())
        found.append((match.start(), QuestionNumber(Fraction(match.group(1)), hint)))
    for match in re.finditer(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", question, flags=re.IGNORECASE):
        value = Fraction(_NUMBER_WORDS[match.group(1).lower()])
        found.append((match.start(), QuestionNumber(value, _hint(question, match.start(), match.end()))))
    return [number for _, number in sorted(found, key=lambda item: item[0])]


def _hint(text: str, start: int, end: int) -> str:
    """Name words for the number at text[start:end]: content words after it, else the content word before it."""
    prefix = []
    if text[:start].rstrip().endswith("$"):
        prefix = ["dollars"]
    rest = text[end:]
    if rest.lstrip().startswith("%"):
        prefix, rest = ["percent"], rest.lstrip()[1:]
    words = prefix + _content_words(rest.lstrip("-"))  # "120-page" reads as "120 page"
    if not words:
        before = [w for w in _WORD.findall(text[:start])[-3:] if w[0].isalpha()]
        words = [_clean(w) for w in reversed(before) if _clean(w) not in _STOPWORDS][:1]
    return "_".join(words[:_MAX_NAME_WORDS])


def _content_words(text: str) -> list[str]:
    """Leading content words of text, stopping at punctuation or another number."""
    words = []
    for token in _WORD.findall(text)[:_LOOKAHEAD_TOKENS]:
        if not token[0].isalpha() or token.lower() in _NUMBER_WORDS:
            break
        word = _clean(token)
        if word and word not in _STOPWORDS:
            words.append(word)
            if len(words) == _MAX_NAME_WORDS:
                break
    return words


def _clean(word: str) -> str:
    word = re.sub(r"'s$", "", word.lower())
    return re.sub(r"[^a-z0-9]+", "_", word).strip("_")


def make_identifier(hint: str, taken: set[str], fallback: str) -> str:
    """A unique, valid identifier from `hint` (never a Python keyword or YAML boolean); adds it to `taken`."""
    base = re.sub(r"[^a-z0-9_]+", "_", hint.lower()).strip("_")[:_MAX_NAME_CHARS].strip("_") or fallback
    if base[0].isdigit():
        base = f"{fallback}_{base}"
    if keyword.issoftkeyword(base) or is_reserved_name(base) or base in _RESERVED:
        base = f"{base}_{fallback}"
    name, counter = base, 2
    while name in taken:
        name, counter = f"{base}_{counter}", counter + 1
    taken.add(name)
    return name


# ---------------------------------------------------------------------------------------------------------------------
# Building the trace


class TraceBuilder:
    """Accumulates init and compute steps while annotations are wired together."""

    def __init__(self, numbers: Sequence[QuestionNumber]):
        self.names: set[str] = set()
        self.inits: list[dict[str, Any]] = []
        self.computes: list[dict[str, Any]] = []
        self.question: dict[Fraction, QuestionNumber] = {}
        for number in numbers:  # first occurrence of a value names it
            self.question.setdefault(number.value, number)
        self.init_vars: dict[Fraction, str] = {}
        self.results: dict[Fraction, str] = {}  # stated result -> variable of its most recent annotation

    def operand(self, value: Fraction) -> str | Fraction:
        """A leaf number: an earlier result's variable, a question number's init variable, or a literal."""
        if value in self.results:
            return self.results[value]
        if value in self.question:
            return self._init(value)
        return value

    def _init(self, value: Fraction) -> str:
        if value not in self.init_vars:
            name = make_identifier(self.question[value].hint, self.names, "n")
            self.init_vars[value] = name
            self.inits.append({"init": name, "value": value})
        return self.init_vars[value]

    def emit(self, node: ast.expr, name_hint: str | None = None) -> str | Fraction:
        """Compute steps for `node`; returns the variable (or literal) holding its value."""
        if isinstance(node, ast.Constant):
            return self.operand(_literal(node))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.operand, ast.Constant):
                value = _literal(node.operand)
                return self.operand(-value if isinstance(node.op, ast.USub) else value)
            inner = self.emit(node.operand)
            if isinstance(node.op, ast.UAdd):
                return inner
            return self._compute("sub", [Fraction(0), inner], name_hint)
        assert isinstance(node, ast.BinOp)
        op_type = type(node.op)
        args = [self.emit(child) for child in _operands(node, op_type)]
        return self._compute(_OPS[op_type], args, name_hint)

    def _compute(self, op: str, args: list[str | Fraction], name_hint: str | None) -> str:
        var = make_identifier(name_hint or _RESULT_NAMES[op], self.names, _RESULT_NAMES[op])
        self.computes.append({"compute": {"op": op, "args": args, "var": var}})
        return var

    def add_annotation(self, annotation: Annotation) -> str:
        """Wire one annotation in; returns the variable holding its result."""
        hint = "_".join(_content_words(annotation.after.lstrip("$ ").lstrip("0123456789.,% ")))
        result = self.emit(annotation.expression, hint or None)
        if not isinstance(result, str):  # a bare number like <<5=5>>: give it a variable to query
            result = self._literal_init(result, hint)
        self.results[annotation.result] = result
        return result

    def _literal_init(self, value: Fraction, hint: str) -> str:
        name = make_identifier(hint, self.names, "n")
        self.inits.append({"init": name, "value": value})
        return name

    def document(self, expert: str, query: str) -> dict[str, Any]:
        """The trace document, keeping only the steps the query depends on."""
        steps = _prune(self.inits + self.computes, query)
        return {"expert": expert, "trace": [*steps, {"query": query}]}


def _operands(node: ast.BinOp, op_type: type[ast.operator]) -> list[ast.expr]:
    """Flatten a run of one operator into the operand list of a single compute step."""
    if op_type in _ASSOCIATIVE:
        sides = [node.left, node.right]
    elif op_type in _LEFT_FOLD:
        sides = [node.left]
    else:
        return [node.left, node.right]
    flat: list[ast.expr] = []
    for side in sides:
        if isinstance(side, ast.BinOp) and type(side.op) is op_type:
            flat.extend(_operands(side, op_type))
        else:
            flat.append(side)
    if op_type in _LEFT_FOLD:
        flat.append(node.right)
    return flat


def _prune(steps: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    # Walk backwards from the query keeping the steps whose variables are needed: GSM-8K solutions sometimes
    # compute side results that the answer never uses, and a trace should not teach dead work.
    needed, kept = {query}, []
    for step in reversed(steps):
        if "init" in step:
            if step["init"] in needed:
                kept.append(step)
            continue
        compute = step["compute"]
        if compute["var"] in needed:
            kept.append(step)
            needed.update(arg for arg in compute["args"] if isinstance(arg, str))
    return list(reversed(kept))


def assign_expert(question: str) -> str:
    """The expert for a question, by the documented keyword rules (first match wins)."""
    lowered = question.lower()
    for expert, pattern in _EXPERT_RULES:
        if pattern.search(lowered):
            return expert
    return "arithmetic"


def count_steps(doc: dict[str, Any]) -> int:
    """Operation steps of a trace: everything except init and query."""
    return sum(1 for step in doc["trace"] if "init" not in step and "query" not in step)


# ---------------------------------------------------------------------------------------------------------------------
# Converting problems


def build_document(question: str, solution: str) -> tuple[dict[str, Any], str]:
    """The trace document for one problem and its gold answer (raises ConversionSkip before execution)."""
    gold = gold_answer(solution)
    annotations = parse_annotations(solution)
    if not answers_match(annotations[-1].result, gold):
        raise ConversionSkip(SKIP_FINAL_MISMATCH, f"last annotation gives {annotations[-1].result}, gold is {gold}")
    builder = TraceBuilder(question_numbers(question))
    query = ""
    for annotation in annotations:
        query = builder.add_annotation(annotation)
    return builder.document(assign_expert(question), query), gold


def convert_problem(question: str, solution: str, ident: str) -> dict[str, Any]:
    """One GSM-8K problem as a dataset line (raises ConversionSkip with a reason code)."""
    from trace_solver import dump_trace, execute  # the executor imports the expert registry; keep import cheap

    question = normalize_question(question)
    doc, gold = build_document(question, solution)
    outcome = execute(doc)
    if not outcome.ok:
        raise ConversionSkip(SKIP_EXECUTION, f"{outcome.code}: {outcome.message}")
    if not answers_match(outcome.value, gold):
        raise ConversionSkip(SKIP_WRONG_VALUE, f"trace gives {outcome.value}, gold is {gold}")
    return {
        "question": question,
        "expert": doc["expert"],
        "trace": dump_trace(doc),
        "answer": gold,
        "steps": count_steps(doc),
        "source": SOURCE,
        "template": None,
        "id": ident,
    }


def convert_line(line: str, ident: str) -> dict[str, Any]:
    """One JSONL line of GSM-8K as a dataset line (raises ConversionSkip)."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise ConversionSkip(SKIP_BAD_LINE, f"not JSON: {err}") from None
    if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in ("question", "answer")):
        raise ConversionSkip(SKIP_BAD_LINE, "expected an object with string 'question' and 'answer'")
    return convert_problem(record["question"], record["answer"], ident)


def split_lines(lines: Sequence[str], split: str) -> list[str]:
    """The lines of one split: 'train' is everything before the last DEV_SIZE lines, 'dev' is those lines."""
    lines = [line for line in lines if line.strip()]
    cut = max(len(lines) - DEV_SIZE, 0)
    if split == "train":
        return lines[:cut]
    if split == "dev":
        return lines[cut:]
    raise ValueError(f"unknown split {split!r} (expected 'train' or 'dev')")


def convert_lines(lines: Iterable[str], split: str) -> tuple[list[dict[str, Any]], Summary, list[tuple[str, str]]]:
    """Convert already-split lines; returns the rows, a summary, and (id, reason message) for every skip."""
    rows, summary, skipped = [], Summary(), []
    for index, line in enumerate(lines):
        ident = f"{SOURCE}-{split}-{index:05d}"
        summary.attempted += 1
        try:
            row = convert_line(line, ident)
        except ConversionSkip as skip:
            summary.skips[skip.code] += 1
            skipped.append((ident, f"{skip.code}: {skip}"))
            continue
        rows.append(row)
        summary.converted += 1
        summary.steps[row["steps"]] += 1
        summary.experts[row["expert"]] += 1
    return rows, summary, skipped


def format_summary(summary: Summary) -> str:
    """The human-readable report printed by convert-gsm8k."""
    out = [f"yield: {summary.converted}/{summary.attempted} ({summary.yield_percent:.1f}%)"]
    out.append(f"skipped: {summary.attempted - summary.converted}")
    out += [f"  {code:<28} {count:>6}" for code, count in summary.skips.most_common()]
    out.append("experts:")
    out += [f"  {name:<28} {count:>6}" for name, count in sorted(summary.experts.items())]
    out.append("steps histogram:")
    peak = max(summary.steps.values(), default=1)
    for steps, count in sorted(summary.steps.items()):
        out.append(f"  {steps:>3} {count:>6} {'#' * max(1, round(40 * count / peak))}")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------------------
# CLI


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register `convert-gsm8k` on the trace-solver CLI."""
    parser = subparsers.add_parser(
        "convert-gsm8k",
        help="turn GSM-8K calculator annotations into verified traces",
        description=f"Convert GSM-8K problems into traces. The last {DEV_SIZE} lines of INPUT are the dev split: "
        "--split train (default) converts only the lines before them, --split dev only those lines.",
    )
    parser.add_argument("input", type=Path, help="GSM-8K JSONL ({question, answer} per line)")
    parser.add_argument("--out", type=Path, required=True, help="output JSONL in the dataset line format")
    parser.add_argument("--split", choices=("train", "dev"), default="train", help="which split to convert")
    parser.add_argument("--skips", type=Path, help="also write one 'id<TAB>reason' line per skipped problem here")
    parser.set_defaults(handler=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    lines = split_lines(args.input.read_text(encoding="utf-8").splitlines(), args.split)
    rows, summary, skipped = convert_lines(lines, args.split)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    if args.skips:
        args.skips.write_text("".join(f"{ident}\t{reason}\n" for ident, reason in skipped), encoding="utf-8")
    print(f"convert-gsm8k: split {args.split}, {len(lines)} problems from {args.input} -> {args.out}")
    print(format_summary(summary))
    return 0 if summary.converted or not summary.attempted else 1


if __name__ == "__main__":  # pragma: no cover - convenience for running the module directly
    root = argparse.ArgumentParser(prog="trace-solver")
    add_cli(root.add_subparsers(dest="command", required=True))
    namespace = root.parse_args()
    sys.exit(namespace.handler(namespace))
