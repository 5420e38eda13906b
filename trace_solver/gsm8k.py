"""Turn GSM-8K's calculator annotations into verified traces.

GSM-8K solutions carry annotations such as ``<<16-3-4=9>>`` and end with ``#### 9``. Each problem becomes a trace of
``init``, ``compute`` and ``query`` steps, which every expert allows:

* **Equations.** Every annotation, in order, plus plain-text equations on solution lines that have no annotation
  (``Emma collected 50-10=40 eggs``, ``$20 x 2 = $40``), which GSM-8K's authors sometimes left un-annotated but later
  annotations use. Expressions are parsed with ``ast`` (never evaluated by Python) and checked with exact fractions; a
  stated result may be rounded to the decimals it is written with. A wrong annotation skips the problem; a wrong or
  unreadable plain-text equation is ignored.
* **init.** An operand that occurs in the normalised question, as digits or as a number word ("ten", "forty-five"),
  becomes one ``init`` step. Its name comes from the question: up to two content words after the number ("48 clips"
  -> ``clips``, "$12 an hour" -> ``dollars_hour``, "25% of the students" -> ``percent_students``), else the content
  word before it, else ``n``. Names are made unique (``clips_2``), valid identifiers, never Python keywords, formula
  function names or YAML 1.1 scalars (``yes``, ``no``, ``on``, ``null``...).
* **compute.** Each expression becomes a chain of compute steps: a left-associated run of one operator is one step
  (``16-3-4`` -> ``sub [a, b, c]``; add/mul runs are flattened on both sides), a mixed expression one step per run.
  Chains of compute run under every expert, so no ``formula`` steps are emitted. An operand equal to an earlier
  result refers to that result's variable (the most recent one), else a question number refers to its init variable,
  else it is a literal constant. Results are named from the solution text after them (``<<48/2=24>>24 clips`` ->
  ``clips``), else after the operation (``total``, ``difference``, ``product``, ``quotient``).
* **query.** The last annotation's result. Steps the query does not depend on are dropped.

A literal constant must be *explained*, or the problem is skipped (``unexplained_number``): a model cannot learn to
produce a number that is neither in the question nor computed. Explained are the integers 0-12 ("twice", "half",
"a dozen"), the unit constants in ``UNIT_CONSTANTS`` (60 minutes, 24 hours, 7 days, 52 weeks, 100 percent, ...),
simple fractions p/q with q <= 10 below 2 (0.5, 0.75, 1.5: "half", "three quarters"), 0.01, and decimals that are
a question's percentage v/100, 1 - v/100 or 1 + v/100 ("20% off" -> 0.8).

Expert assignment (first rule that matches the lower-cased question wins; see ``EXPERT_RULES``):

1. ``percentage``: "%" or "percent".
2. ``comparison``: comparative phrasing -- "more than", "less than", "fewer than", "older than", ... (up to three
   words between: "3 more apples than"), "times as", "twice as", "half as", "as many as", "as much as".
3. ``rate_equation``: rates -- "per", "each", "every", "an hour"/"a day"/..., "speed", "rate", "mph".
4. ``entity_track``: transfers -- gives/gave, buys/bought, sells/sold, eats/ate, spends/spent, loses/lost,
   takes/took, "left", "remain(s/ing)".
5. ``arithmetic``: everything else.

Every converted trace, as the YAML text written out, is executed by ``trace_solver.execute`` and must reach the gold
answer (``answers_match``); otherwise the problem is skipped with one of the ``SKIP_*`` reason codes.

Splits: the last ``DEV_SIZE`` (500) lines of the input are the dev split. ``--split train`` (the default) converts
only the lines before them, ``--split dev`` only those lines (for evaluation). Ids are ``gsm8k-<split>-<index>``, the
0-based index inside the split (the file line number minus one for train).

    trace-solver convert-gsm8k ../shared/data/gsm8k/train.jsonl --out data/gsm8k_train.jsonl
"""

from __future__ import annotations

import argparse
import ast
import json
import keyword
import operator
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from trace_solver.expressions import is_reserved_name
from trace_solver.limits import MAX_EXPONENT, MAX_EXPRESSION_CHARS
from trace_solver.numbers import NumberError, answers_match, format_number, normalize_question, parse_number

DEV_SIZE = 500  # the last 500 lines of GSM-8K train.jsonl are this project's dev split
SOURCE = "gsm8k"
SPLITS = ("train", "dev")

# Skip reason codes, one per way a problem can fail to convert.
SKIP_BAD_LINE = "bad_line"  # not a JSON object with string question/answer
SKIP_NO_GOLD = "no_gold_answer"  # no readable "#### value" line
SKIP_NO_ANNOTATIONS = "no_annotations"  # the solution has no <<expr=value>> annotation
SKIP_UNPARSEABLE = "unparseable_annotation"  # an annotation is not plain arithmetic on numbers
SKIP_ARITHMETIC = "annotation_arithmetic_wrong"  # an annotation's stated result is not what its expression gives
SKIP_FINAL_MISMATCH = "final_result_not_gold"  # neither the last annotation nor a prose equation after it gives gold
SKIP_NO_OPERATION = "no_operation"  # the answer is a number copied, not computed (algebra done in prose)
SKIP_UNEXPLAINED = "unexplained_number"  # the trace needs a constant that is neither in the question nor computed
SKIP_EXECUTION = "execution_error"  # the built trace does not execute (a solver limit, division by zero...)
SKIP_WRONG_VALUE = "trace_value_not_gold"  # it executes, but not to the gold answer (e.g. rounded intermediates)

UNIT_CONSTANTS = frozenset({16, 24, 30, 31, 52, 60, 100, 365, 1000, 3600})  # oz/lb, h/day, days/month, ...
SMALL_INTEGERS = range(0, 13)
MAX_SIMPLE_DENOMINATOR = 10

_ANNOTATION = re.compile(r"<<([^<>=]*)=([^<>=]*)>>")
_GOLD = re.compile(r"####\s*(.+?)\s*$")
# Plain-text equations: "= result" after some arithmetic in prose, read token by token (see _text_expression).
_EQUALS = re.compile(r"=\s*\$?\s*(-?\d[\d,]*(?:\.\d+)?|-?\.\d+)(?![\d.]*\d)")
_EQ_TOKEN = re.compile(
    r"(?P<num>\$?\s*(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*%?)"
    r"|(?P<op>[-+*/×÷−–]|x(?![A-Za-z]))|(?P<paren>[()])|(?P<word>[A-Za-z]+(?:'[A-Za-z]+)?)|(?P<other>[^\s])"
)
_EQ_OPS = {"x": "*", "×": "*", "÷": "/", "−": "-", "–": "-"}
_LEADING_NUMBER = re.compile(r"^\s*\$?\s*-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)\s*%?")
# A number in running (already normalised) text, not part of a word or of a longer number.
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)(?!\d)")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\S")

_UNITS = "two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
# "one" is left out on purpose: it is mostly a pronoun ("one of them"), and 1 is an explained literal anyway.
NUMBER_WORDS: dict[str, int] = {
    **{word: value for value, word in enumerate(_UNITS, start=2)},
    **{word: value for value, word in enumerate(_TEENS, start=10)},
    **{word: 10 * value for value, word in enumerate(_TENS, start=2)},
    "hundred": 100,
}
_NUMBER_WORD = re.compile(
    rf"\b({'|'.join(_TENS)})-({'|'.join(['one', *_UNITS])})\b|\b({'|'.join(NUMBER_WORDS)})\b", re.IGNORECASE
)

# Words that never make a good variable name: function words, pronouns, vague quantifiers, connectives.
_STOPWORDS = frozenset(
    """a an the of in on at to for and or but nor with by from as into onto over under about than then so if
    is are was were be been being has have had do does did will would can could should may might must
    i me my we us our you your he him his she her it its they them their this that these those there here
    each per every all some any many much more less few fewer most least other another such only just also
    what which who whom whose how when where why not no yes since because meaning means therefore thus hence
    total altogether""".split()
)
# Words that end the phrase a number belongs to ("10 miles and then walked" names `miles`, not `miles_walked`).
_CLAUSE_WORDS = frozenset("and or but then so because if when while which that who where since until".split())
# YAML 1.1 reads these plain scalars as booleans or null, so `{init: yes}` would not be a name.
_YAML_SCALARS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "nan", "inf"})
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
_EVALUATORS: dict[type[ast.operator], Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_ASSOCIATIVE = (ast.Add, ast.Mult)
_LEFT_FOLD = (ast.Sub, ast.Div)  # the solver folds sub/div left to right, so a-b-c is one step
_RESULT_NAMES = {
    "add": "total",
    "sub": "difference",
    "mul": "product",
    "div": "quotient",
    "floordiv": "quotient",
    "mod": "remainder",
    "pow": "power",
}

EXPERT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("percentage", re.compile(r"%|\bpercent")),
    (
        "comparison",
        re.compile(
            r"\b(?:more|less|fewer|older|younger|taller|shorter|longer|heavier|cheaper)(?: [a-z]+){0,3} than\b"
            r"|\b(?:times|twice|half) as\b|\bas (?:many|much) as\b"
        ),
    ),
    (
        "rate_equation",
        re.compile(r"\b(?:per|each|every|speed|rate|mph)\b|\b(?:an|a) (?:hour|minute|day|week|month|year)\b"),
    ),
    (
        "entity_track",
        re.compile(
            r"\b(?:gives?|gave|buys?|bought|sells?|sold|eats?|ate|spends?|spent|loses?|lost|takes?|took|left"
            r"|remain(?:s|ing)?)\b"
        ),
    ),
)
DEFAULT_EXPERT = "arithmetic"


class ConversionSkip(Exception):
    """A problem that cannot become a verified trace; `code` is one of the SKIP_* constants."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Equation:
    """One `<<expr=result>>` annotation (or plain-text equation): its parsed expression, stated result, and the
    solution text right after it, which names the result."""

    expression: ast.expr
    result: Fraction
    after: str
    annotated: bool = True  # False for a plain-text equation


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
    """The gold answer after ``####``, thousands separators removed ("1,080" -> "1080")."""
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


def parse_equations(solution: str) -> list[Equation]:
    """The solution's equations in order: annotations (checked; raise ConversionSkip) and, on lines without an
    annotation, plain-text equations that parse and check exactly (others are ignored)."""
    equations: list[Equation] = []
    annotated = False
    for line in solution.splitlines():
        matches = list(_ANNOTATION.finditer(line))
        annotated |= bool(matches)
        if matches:
            equations += [_annotation(line, match) for match in matches]
        elif not line.startswith("####"):
            equations += _text_equations(line)
    if not annotated:
        raise ConversionSkip(SKIP_NO_ANNOTATIONS, "the solution has no <<expr=value>> annotation")
    return equations


def _annotation(line: str, match: re.Match[str]) -> Equation:
    expr_text, result_text = match.group(1).strip(), match.group(2).strip()
    node = parse_expression(expr_text)
    if node is None:
        raise ConversionSkip(SKIP_UNPARSEABLE, f"{match.group(0)} is not arithmetic on numbers")
    try:
        result = parse_number(result_text.replace("$", ""))
        exact = evaluate(node)
    except (NumberError, ArithmeticError, ValueError) as err:
        raise ConversionSkip(SKIP_UNPARSEABLE, f"{match.group(0)}: {err}") from None
    if not _agrees(exact, result):
        raise ConversionSkip(SKIP_ARITHMETIC, f"{match.group(0)}: the expression gives {format_number(exact)}")
    return Equation(node, result, line[match.end() :])


def _text_equations(line: str) -> list[Equation]:
    equations = []
    for match in _EQUALS.finditer(line):
        expression = _text_expression(line[: match.start()].rsplit("=", 1)[-1])
        node = parse_expression(expression) if expression else None
        if node is None or not isinstance(node, ast.BinOp):
            continue  # prose, a variable ("6*t"), or a bare number: not a calculation
        try:
            result, exact = parse_number(match.group(1)), evaluate(node)
        except (NumberError, ArithmeticError, ValueError):
            continue
        if exact == result:  # no rounding allowance: text equations were never checked by GSM-8K's calculator
            equations.append(Equation(node, result, line[match.end() :], annotated=False))
    return equations


def _text_expression(left: str) -> str:
    """The arithmetic just before an "=" in prose, as Python text: up to two unit words after a number dropped ("9
    sandwiches - 1 sandwich"), "x"/"×" as times, "$" and "%" dropped, implied products ("60(.90)") made explicit."""
    parts: list[str] = []  # numbers, operators and parentheses of the calculation so far
    units = 0  # unit words since the last number
    left = re.sub(r"(?<=[A-Za-z])/(?=[A-Za-z])", "", left)  # "pieces/house" is one unit, not a division
    for match in _EQ_TOKEN.finditer(left):
        kind, token = match.lastgroup, match.group()
        last_is_number = bool(parts) and parts[-1][-1].isdigit()
        if kind == "word" and last_is_number and units < 2:
            units += 1
            continue
        if kind == "num":
            number = re.sub(r"[$%,\s]", "", token)
            if last_is_number:
                parts = []  # two numbers in a row ("3, 4" or a prose number): a calculation starts here
            elif parts and parts[-1] == ")":
                parts.append("*")  # implied multiplication: "(2+3)4"
            parts.append(number)
        elif kind == "op":
            parts.append(_EQ_OPS.get(token, token))
        elif kind == "paren":
            if token == "(" and parts and (parts[-1] == ")" or parts[-1][-1].isdigit()):
                parts.append("*")  # implied multiplication: "60(.90)"
            parts.append(token)
        else:
            parts = []  # prose or punctuation: any calculation starts after it
        units = 0
    return "".join(parts)


def parse_expression(text: str) -> ast.expr | None:
    """The ast of a calculator expression made only of numbers, + - * / // % ** and parentheses; None otherwise."""
    if len(text) > MAX_EXPRESSION_CHARS:  # the walk and fold below recurse over the tree; keep it small
        return None
    cleaned = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.replace("$", ""))  # thousands separators
    cleaned = re.sub(r"(?<![\d.])0+(?=\d)", "", cleaned).strip()  # "05" is a syntax error in Python 3
    try:
        tree = ast.parse(cleaned, mode="eval")
    except SyntaxError:
        return None
    for node in ast.walk(tree.body):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                return None
        elif not isinstance(node, (ast.BinOp, ast.UnaryOp, ast.USub, ast.UAdd, *_OPS)):
            return None
    return tree.body


def literal(node: ast.Constant) -> Fraction:
    """A numeric literal exactly: 0.1 is 1/10, read from its decimal spelling rather than the binary float."""
    return Fraction(repr(node.value)) if isinstance(node.value, float) else Fraction(node.value)


def evaluate(node: ast.expr) -> Fraction:
    """Exact value of a parsed expression (raises ArithmeticError/ValueError on /0 or a huge power)."""
    if isinstance(node, ast.Constant):
        return literal(node)
    if isinstance(node, ast.UnaryOp):
        value = evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    assert isinstance(node, ast.BinOp)
    left, right = evaluate(node.left), evaluate(node.right)
    op = type(node.op)
    if op is ast.Pow and (right.denominator != 1 or abs(right) > MAX_EXPONENT):
        raise ValueError("exponent is not a small integer")
    return Fraction(_EVALUATORS[op](left, int(right) if op is ast.Pow else right))


def _agrees(exact: Fraction, stated: Fraction) -> bool:
    # A stated result rounded to the decimals it is written with is the calculator being honest, not wrong.
    if exact == stated:
        return True
    written = format_number(stated)
    places = len(written.split(".")[1]) if "." in written else 0
    return places > 0 and round(exact, places) == stated


# ---------------------------------------------------------------------------------------------------------------------
# Reading a question


def question_numbers(question: str) -> list[QuestionNumber]:
    """Numbers of a normalised question (digits and number words) with a name hint for each, in text order."""
    found: list[tuple[int, QuestionNumber]] = []
    for match in _NUMBER.finditer(question):
        found.append((match.start(), QuestionNumber(Fraction(match.group(1)), name_hint(question, *match.span()))))
    for match in _NUMBER_WORD.finditer(question):
        if match.group(3):
            value = NUMBER_WORDS[match.group(3).lower()]
        else:
            value = NUMBER_WORDS[match.group(1).lower()] + NUMBER_WORDS.get(match.group(2).lower(), 1)
        found.append((match.start(), QuestionNumber(Fraction(value), name_hint(question, *match.span()))))
    return [number for _, number in sorted(found, key=lambda item: item[0])]


def name_hint(text: str, start: int, end: int) -> str:
    """Name words for the number at text[start:end]: content words after it, else the content word before it."""
    prefix = ["dollars"] if text[:start].rstrip().endswith("$") else []
    rest = text[end:]
    if rest.lstrip().startswith("%"):
        prefix, rest = ["percent"], rest.lstrip()[1:]
    words = prefix + content_words(rest.lstrip("-"))  # "120-page book" reads as "120 page book"
    if not words:
        before = [_clean(w) for w in _WORD.findall(text[:start])[-3:] if w[0].isalpha()]
        words = [w for w in reversed(before) if w and w not in _STOPWORDS][:1]
    return "_".join(words[:_MAX_NAME_WORDS])


def content_words(text: str) -> list[str]:
    """Up to two leading content words of text, stopping at punctuation, a clause word or another number."""
    words: list[str] = []
    for token in _WORD.findall(text)[:_LOOKAHEAD_TOKENS]:
        if not token[0].isalpha() or token.lower() in NUMBER_WORDS or token.lower() in _CLAUSE_WORDS:
            break
        word = _clean(token)
        if word and word not in _STOPWORDS:
            words.append(word)
            if len(words) == _MAX_NAME_WORDS:
                break
    return words


def _clean(word: str) -> str:
    word = re.sub(r"'s$", "", word.lower())  # possessives: "Natalia's" -> "natalia"
    return re.sub(r"[^a-z0-9]+", "_", word).strip("_")


def make_identifier(hint: str, taken: set[str], fallback: str) -> str:
    """A unique, valid identifier from `hint` that the solver and YAML read back as a name; adds it to `taken`."""
    base = re.sub(r"[^a-z0-9_]+", "_", hint.lower())[:_MAX_NAME_CHARS].strip("_") or fallback
    if base[0].isdigit():
        base = f"{fallback}_{base}"
    if keyword.iskeyword(base) or keyword.issoftkeyword(base) or is_reserved_name(base) or base in _YAML_SCALARS:
        base = f"{base}_var"
    name, counter = base, 2
    while name in taken:
        name, counter = f"{base}_{counter}", counter + 1
    taken.add(name)
    return name


def is_explained(value: Fraction, question_values: set[Fraction]) -> bool:
    """Whether a literal constant is one a model can know without it being in the question (see module docstring)."""
    if value.denominator == 1 and (value in SMALL_INTEGERS or value in UNIT_CONSTANTS):
        return True
    if (0 < value < 2 and value.denominator <= MAX_SIMPLE_DENOMINATOR) or value == Fraction(1, 100):
        return True
    as_percent = value * 100
    return any(candidate in question_values for candidate in (as_percent, 100 - as_percent, as_percent - 100))


# ---------------------------------------------------------------------------------------------------------------------
# Building the trace


class TraceBuilder:
    """Accumulates init and compute steps while equations are wired together."""

    def __init__(self, numbers: Sequence[QuestionNumber]):
        self.names: set[str] = set()
        self.inits: list[dict[str, Any]] = []
        self.computes: list[dict[str, Any]] = []
        self.question: dict[Fraction, QuestionNumber] = {}
        for number in numbers:  # the first occurrence of a value names it
            self.question.setdefault(number.value, number)
        self.init_vars: dict[Fraction, str] = {}
        self.results: dict[Fraction, str] = {}  # stated result -> variable of its most recent equation
        self.bare: dict[str, Fraction] = {}  # variables holding a bare, uncomputed number like <<30=30>>

    def add(self, equation: Equation) -> str:
        """Wire one equation in; returns the variable holding its result."""
        rest = _LEADING_NUMBER.sub("", equation.after, count=1)  # skip the result as written after the annotation
        hint = "_".join(content_words(rest))
        result = self.emit(equation.expression, hint or None)
        if not isinstance(result, str):  # a bare literal: give it a variable so it can be queried
            result = make_identifier(hint, self.names, "number")
            self.inits.append({"init": result, "value": equation.result})
            self.bare[result] = equation.result
        self.results[equation.result] = result
        return result

    def emit(self, node: ast.expr, name_hint: str | None = None) -> str | Fraction:
        """Compute steps for `node`; returns the variable (or literal) holding its value."""
        if isinstance(node, ast.Constant):
            return self.operand(literal(node))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.operand, ast.Constant):
                value = literal(node.operand)
                return self.operand(-value if isinstance(node.op, ast.USub) else value)
            inner = self.emit(node.operand)
            return inner if isinstance(node.op, ast.UAdd) else self._compute("sub", [Fraction(0), inner], name_hint)
        assert isinstance(node, ast.BinOp)
        op_type = type(node.op)
        args = [self.emit(child) for child in operands(node)]
        return self._compute(_OPS[op_type], args, name_hint)

    def operand(self, value: Fraction) -> str | Fraction:
        """A leaf number: an earlier result's variable, a question number's init variable, or a literal."""
        if value in self.results:
            return self.results[value]
        if value in self.question:
            if value not in self.init_vars:
                name = make_identifier(self.question[value].hint, self.names, "number")
                self.init_vars[value] = name
                self.inits.append({"init": name, "value": value})
            return self.init_vars[value]
        return value

    def _compute(self, op: str, args: list[str | Fraction], name_hint: str | None) -> str:
        var = make_identifier(name_hint or _RESULT_NAMES[op], self.names, _RESULT_NAMES[op])
        self.computes.append({"compute": {"op": op, "args": args, "var": var}})
        return var

    def document(self, expert: str, query: str) -> dict[str, Any]:
        """The trace document with the steps the query depends on; raises ConversionSkip for a degenerate one."""
        steps = prune(self.inits + self.computes, query)
        if not any("compute" in step for step in steps):
            raise ConversionSkip(SKIP_NO_OPERATION, "the answer is a number, not a computation")
        question_values = set(self.question)
        for step in steps:
            if "init" in step and step["init"] in self.bare and not is_explained(step["value"], question_values):
                raise ConversionSkip(SKIP_UNEXPLAINED, f"{format_number(step['value'])} appears from nowhere")
            for arg in step.get("compute", {}).get("args", []):
                if not isinstance(arg, str) and not is_explained(arg, question_values):
                    raise ConversionSkip(SKIP_UNEXPLAINED, f"constant {format_number(arg)} is not in the question")
        return {"expert": expert, "trace": [*steps, {"query": query}]}


def operands(node: ast.BinOp) -> list[ast.expr]:
    """Flatten a run of one operator into the operand list of a single compute step."""
    op_type = type(node.op)
    if isinstance(node.op, _ASSOCIATIVE):
        sides = [node.left, node.right]
    elif isinstance(node.op, _LEFT_FOLD):
        sides = [node.left]
    else:
        return [node.left, node.right]
    flat: list[ast.expr] = []
    for side in sides:
        if isinstance(side, ast.BinOp) and type(side.op) is op_type:
            flat.extend(operands(side))
        else:
            flat.append(side)
    if isinstance(node.op, _LEFT_FOLD):
        flat.append(node.right)
    return flat


def prune(steps: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    """The steps `query` depends on, in order.

    GSM-8K solutions sometimes compute side results the answer never uses; a trace should not teach dead work.
    """
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
    return kept[::-1]


def assign_expert(question: str) -> str:
    """The expert for a question, by EXPERT_RULES (first match wins), else arithmetic."""
    lowered = question.lower()
    for expert, pattern in EXPERT_RULES:
        if pattern.search(lowered):
            return expert
    return DEFAULT_EXPERT


def count_steps(doc: dict[str, Any]) -> int:
    """Operation steps of a trace: everything except init and query."""
    return sum(1 for step in doc["trace"] if "init" not in step and "query" not in step)


# ---------------------------------------------------------------------------------------------------------------------
# Converting problems


def build_document(question: str, solution: str) -> tuple[dict[str, Any], str]:
    """The trace document for one problem (question already normalised) and its gold answer, before execution.

    Raises ConversionSkip.
    """
    gold = gold_answer(solution)
    equations = parse_equations(solution)
    final = final_equation(equations, gold)
    builder = TraceBuilder(question_numbers(question))
    query = ""
    for equation in equations[: equations.index(final) + 1]:
        query = builder.add(equation)
    return builder.document(assign_expert(question), query), gold


def final_equation(equations: list[Equation], gold: str) -> Equation:
    """The equation whose result the trace queries: the last annotation when it gives the gold answer, else the last
    plain-text equation after it that does (solutions often do their final step un-annotated: "20/4 = $5")."""
    last = max(index for index, equation in enumerate(equations) if equation.annotated)
    if answers_match(equations[last].result, gold):
        return equations[last]
    for equation in reversed(equations[last + 1 :]):
        if answers_match(equation.result, gold):
            return equation
    shown = format_number(equations[last].result)
    raise ConversionSkip(SKIP_FINAL_MISMATCH, f"last annotation gives {shown}, gold is {gold}")


def convert_problem(question: str, solution: str, ident: str) -> dict[str, Any]:
    """One GSM-8K problem as a dataset line (raises ConversionSkip with a reason code)."""
    from trace_solver import dump_trace, execute  # package level imports the expert registry; keep this module light

    question = normalize_question(question)
    doc, gold = build_document(question, solution)
    trace = dump_trace(doc)
    outcome = execute(trace, extract=False)  # the text is what the model learns, so verify the text, not the dict
    if not outcome.ok:
        raise ConversionSkip(SKIP_EXECUTION, f"{outcome.code}: {outcome.message}")
    if outcome.value is None or not answers_match(outcome.value, gold):
        raise ConversionSkip(SKIP_WRONG_VALUE, f"trace gives {outcome.value}, gold is {gold}")
    return {
        "question": question,
        "expert": doc["expert"],
        "trace": trace,
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


def split_bounds(count: int, split: str) -> slice:
    """Which of `count` problems belong to a split: 'train' is all but the last DEV_SIZE, 'dev' is those."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    cut = max(count - DEV_SIZE, 0)
    return slice(0, cut) if split == "train" else slice(cut, count)


def split_lines(lines: Sequence[str], split: str) -> list[str]:
    """The non-blank lines of one split (see split_bounds)."""
    problems = [line for line in lines if line.strip()]
    return problems[split_bounds(len(problems), split)]


def convert_lines(lines: Iterable[str], split: str) -> tuple[list[dict[str, Any]], Summary, list[tuple[str, str]]]:
    """Convert the lines of one split; returns the rows, a summary, and (id, "code: message") per skipped problem."""
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
    out.append("steps histogram (operation steps: count):")
    peak = max(summary.steps.values(), default=1)
    out += [f"  {steps:>3} {count:>6} {'#' * max(1, round(40 * count / peak))}" for steps, count in
            sorted(summary.steps.items())]  # fmt: skip
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------------------------------
# CLI


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register `convert-gsm8k` on the trace-solver CLI (handler in `handler`)."""
    parser = subparsers.add_parser(
        "convert-gsm8k",
        help="turn GSM-8K calculator annotations into verified traces",
        description=f"Convert GSM-8K problems into verified traces. The last {DEV_SIZE} lines of INPUT are the dev "
        "split: --split train (default) converts only the lines before them, --split dev only those lines.",
    )
    parser.add_argument("input", type=Path, help="GSM-8K JSONL ({question, answer} per line)")
    parser.add_argument("--out", type=Path, required=True, help="output JSONL in the dataset line format")
    parser.add_argument("--split", choices=SPLITS, default="train", help="which split to convert (default: train)")
    parser.add_argument("--skips", type=Path, help="also write one 'id<TAB>reason' line per skipped problem here")
    parser.set_defaults(handler=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    """Handler of `trace-solver convert-gsm8k`."""
    lines = split_lines(args.input.read_text(encoding="utf-8").split("\n"), args.split)
    rows, summary, skipped = convert_lines(lines, args.split)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as handle:
        # ASCII-escaped like the GSM-8K source: a raw U+2028 in a question would split the line for str.splitlines.
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    if args.skips:
        args.skips.write_text("".join(f"{ident}\t{reason}\n" for ident, reason in skipped), encoding="utf-8")
    print(f"convert-gsm8k: split {args.split}, {len(lines)} problems from {args.input} -> {args.out}")
    if args.split == "train" and not lines:
        print(f"note: {args.input} has at most {DEV_SIZE} problems, all of them dev: nothing to convert for train")
    print(format_summary(summary))
    return 0 if summary.converted or not summary.attempted else 1
