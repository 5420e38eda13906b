"""Turn GSM-8K's calculator annotations into verified traces.

GSM-8K solutions carry annotations such as ``<<16-3-4=9>>`` and end with ``#### 9``. Each problem becomes a trace of
``init``, ``compute`` and ``query`` steps, which every expert allows:

* **Equations.** Every annotation, in order, plus plain-text equations on solution lines that have no annotation
  (``Emma collected 50-10=40 eggs``, ``$20 x 2 = $40``), which GSM-8K's authors sometimes left un-annotated but later
  annotations use. Expressions are parsed by ``trace_solver.expressions.parse_arithmetic`` (numbers only, the
  solver's limits; never evaluated by Python) and checked with exact fractions; a stated result may be rounded to the
  decimals it is written with. A wrong annotation skips the problem; a wrong or unreadable plain-text equation is
  ignored.
* **init.** A question number, as digits or as a number word ("ten", "forty-five"), becomes one ``init`` step per
  place it is written in the question and used. Its name comes from the question: up to two content words after the
  number ("48 clips" -> ``clips``, "$12 an hour" -> ``dollars_hour``, "25% of the students" -> ``percent_students``,
  'Thirteen "TOP" books' -> ``top_books``; the numerator of "5/6 of the nuts" -> ``nuts``), else the nearest content
  word before it in its sentence, else ``number``. When two places of one value have the same name words, the
  nearest content word before the number is added ("$5 per bag" of Snickers -> ``dollars_bag_snickers``). Names are
  made unique (``clips_2``), valid identifiers, never Python keywords, formula function names or YAML 1.1 scalars
  (``yes``, ``no``, ``on``, ``null``...): see ``trace_solver.builder.make_identifier``.
* **compute.** Each expression becomes a chain of compute steps: a left-associated run of one operator is one step
  (``16-3-4`` -> ``sub [a, b, c]``; add/mul runs are flattened on both sides), a mixed expression one step per run.
  Chains of compute run under every expert, so no ``formula`` steps are emitted. An operand equal to an earlier
  result refers to that result's variable (the most recent one); else, when the solution line and the question both
  say it as a word in ``MULTIPLIER_VALUES`` ("double", "half", "a dozen") and the line names none of the question's
  places of that value before the equation, it is that literal; else a question number refers to an init variable;
  else it is a literal constant. A value written at several places of the question ("2 large pizzas and 2 small
  pizzas") is bound to the place whose words the solution line shares most: the number's own name words weigh 2,
  words within ``CONTEXT_WORDS`` content words of it 1, times 2 for line words before the equation and 1 after it;
  ties go to a place the equation does not use yet, then to the first. Results are named from the solution text
  after them (``<<48/2=24>>24 clips`` -> ``clips``), else after the operation (``total``, ``difference``,
  ``product``, ``quotient``). A bare number that is not in the question (``<<24=24>>`` for "2 dozen") is a literal
  in later steps.
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

    trace-solver convert-gsm8k gsm8k/train.jsonl --out data/gsm8k_train.jsonl
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from trace_solver.builder import TraceBuilder
from trace_solver.expressions import OPERATOR_NAMES, ExpressionError, evaluate_tree, parse_arithmetic
from trace_solver.files import read_text
from trace_solver.jsonl import JSONLError, parse_line, write_jsonl
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
# A number in running (already normalised) text, not part of a word or of a longer number. A run of more than 30
# digits is no quantity of a word problem and is not read (int() refuses runs past 4,300 digits).
_NUMBER = re.compile(r"(?<![\w.])(\d{1,30}(?:\.\d{1,30})?|\.\d{1,30})(?!\d)")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\S")
_QUOTES = frozenset("\"'\u201c\u201d\u2018\u2019")
_WORDS_ONLY = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_SENTENCE_END = re.compile(r"[.?!;](?:\s|$)")
_CLAUSE_END = re.compile(r"[.?!;:,](?:\s|$)|\b(?:and|or|but|then|so|because|if|when|while|which|that|who|where)\b")
CONTEXT_WORDS = 4  # words either side of a number that tell which quantity it is

_UNITS = "two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
# Words that say a number: when a solution line says one of these and so does the question, an equal operand is this
# word's constant, not a question number that happens to be equal ("to double the weight": 8*2, beside "2 pounds").
MULTIPLIER_VALUES: dict[str, frozenset[Fraction]] = {
    "double": frozenset({Fraction(2)}),
    "twice": frozenset({Fraction(2)}),
    "triple": frozenset({Fraction(3)}),
    "thrice": frozenset({Fraction(3)}),
    "half": frozenset({Fraction(2), Fraction(1, 2)}),
    "quarter": frozenset({Fraction(4), Fraction(1, 4)}),
    "dozen": frozenset({Fraction(12)}),
}
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
_MAX_NAME_WORDS = 2
_LOOKAHEAD_TOKENS = 5

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
    before: str = ""  # the solution line before it: with `after`, its words pick among equal question numbers


@dataclass(frozen=True)
class QuestionNumber:
    value: Fraction
    hint: str  # suggested variable name from the surrounding words
    start: int = 0  # where the number is written in the question: question[start:end]
    end: int = 0


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
    node = parse_calculation(expr_text)
    if node is None:
        raise ConversionSkip(SKIP_UNPARSEABLE, f"{match.group(0)} is not arithmetic on numbers")
    try:
        result = parse_number(result_text.replace("$", ""))
        exact = evaluate_tree(node)
    except (NumberError, ArithmeticError) as err:
        raise ConversionSkip(SKIP_UNPARSEABLE, f"{match.group(0)}: {err}") from None
    if not _agrees(exact, result):
        raise ConversionSkip(SKIP_ARITHMETIC, f"{match.group(0)}: the expression gives {format_number(exact)}")
    return Equation(node, result, line[match.end() :], before=line[: match.start()])


def _text_equations(line: str) -> list[Equation]:
    equations = []
    for match in _EQUALS.finditer(line):
        expression = _text_expression(line[: match.start()].rsplit("=", 1)[-1])
        node = parse_calculation(expression) if expression else None
        if node is None or not isinstance(node, ast.BinOp):
            continue  # prose, a variable ("6*t"), or a bare number: not a calculation
        try:
            result, exact = parse_number(match.group(1)), evaluate_tree(node)
        except (NumberError, ArithmeticError):
            continue
        if exact == result:  # no rounding allowance: text equations were never checked by GSM-8K's calculator
            equations.append(Equation(node, result, line[match.end() :], annotated=False, before=line[: match.start()]))
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


def parse_calculation(text: str) -> ast.expr | None:
    """The checked AST of a calculator expression on numbers (``$1,200*2``, ``05+3``), or None when it is not one.

    The text is cleaned of what GSM-8K writes but Python does not read ("$", thousands separators, leading zeros),
    then parsed by `trace_solver.expressions.parse_arithmetic` with the solver's limits and refusals.
    """
    cleaned = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.replace("$", ""))  # thousands separators
    cleaned = re.sub(r"(?<![\d.])0+(?=\d)", "", cleaned).strip()  # "05" is a syntax error in Python 3
    try:
        return parse_arithmetic(cleaned)
    except ExpressionError:
        return None


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
        value = Fraction(match.group(1))
        found.append((match.start(), QuestionNumber(value, name_hint(question, *match.span()), *match.span())))
    for match in _NUMBER_WORD.finditer(question):
        if match.group(3):
            value = NUMBER_WORDS[match.group(3).lower()]
        else:
            value = NUMBER_WORDS[match.group(1).lower()] + NUMBER_WORDS.get(match.group(2).lower(), 1)
        span = match.span()
        found.append((match.start(), QuestionNumber(Fraction(value), name_hint(question, *span), *span)))
    return [number for _, number in sorted(found, key=lambda item: item[0])]


def name_hint(text: str, start: int, end: int) -> str:
    """Name words for the number at text[start:end]: content words after it, else the content word before it."""
    prefix = ["dollars"] if text[:start].rstrip().endswith("$") else []
    rest = text[end:]
    if rest.lstrip().startswith("%"):
        prefix, rest = ["percent"], rest.lstrip()[1:]
    rest = re.sub(r"^/\d+", "", rest)  # the numerator of "5/6 of the nuts" is named like the fraction: nuts
    words = prefix + content_words(rest.lstrip("-"))  # "120-page book" reads as "120 page book"
    if not words:  # the nearest content word before it in its sentence ("he will be 39" after "In 3 years" -> years)
        sentence_start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
        before = [_clean(w) for w in _WORDS_ONLY.findall(text[sentence_start:start])[-CONTEXT_WORDS:]]
        words = [w for w in reversed(before) if w and w not in _STOPWORDS and w not in NUMBER_WORDS][:1]
    return "_".join(words[:_MAX_NAME_WORDS])


def word_stem(word: str) -> str:
    """A word without case, possessive or plural ending, for matching words of a question and a solution
    ("Pizzas" and "pizza", "boxes" and "box", "Natalia's" and "natalia")."""
    word = word.lower()
    word = word[:-2] if word.endswith("'s") else word
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def context_words(text: str, start: int, end: int) -> set[str]:
    """Stems of up to CONTEXT_WORDS content words either side of text[start:end], inside its clause (a comma, a
    sentence end or a clause word such as "and" ends it)."""
    clause_start = max((m.end() for m in _CLAUSE_END.finditer(text, 0, start)), default=0)
    clause_end = next((m.start() for m in _CLAUSE_END.finditer(text, end)), len(text))
    before = [w for w in _WORDS_ONLY.findall(text[clause_start:start]) if w.lower() not in _STOPWORDS]
    after = [w for w in _WORDS_ONLY.findall(text[end:clause_end]) if w.lower() not in _STOPWORDS]
    return {word_stem(word) for word in before[-CONTEXT_WORDS:] + after[:CONTEXT_WORDS]}


def content_words(text: str) -> list[str]:
    """Up to two leading content words of text, stopping at punctuation, a clause word or another number."""
    words: list[str] = []
    for token in _WORD.findall(text)[:_LOOKAHEAD_TOKENS]:
        if token in _QUOTES:  # a quoted name: 'Thirteen "TOP" books' -> top_books
            continue
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


class EquationWiring:
    """Wires a problem's equations, in order, into a `TraceBuilder`: each operand becomes an earlier result, a
    question number (one init step per place it is written) or a literal constant."""

    def __init__(self, question: str, expert: str):
        self.builder = TraceBuilder(expert)
        self.question = question
        self.numbers = question_numbers(question)
        self.places: dict[Fraction, list[int]] = {}  # value -> indexes into self.numbers, in text order
        for index, number in enumerate(self.numbers):
            self.places.setdefault(number.value, []).append(index)
        self.own_words = [{word_stem(word) for word in number.hint.split("_") if word} for number in self.numbers]
        self.near_words = [context_words(question, number.start, number.end) for number in self.numbers]
        self.question_words = {word_stem(word) for word in _WORDS_ONLY.findall(question)}
        self.init_vars: dict[int, str] = {}  # place -> its init variable
        self.results: dict[Fraction, str | Fraction] = {}  # stated result -> variable of its most recent equation
        self.line_words: dict[str, int] = {}  # words of the equation's solution line: 2 before it, 1 after it
        self.used: set[int] = set()  # places the equation being wired already refers to
        self.literals: set[Fraction] = set()  # multiplier words the equation being wired already spent

    def add(self, equation: Equation) -> str | Fraction:
        """Wire one equation in; returns the variable holding its result, or the constant of a bare number
        (``<<24=24>>`` for "2 dozen"), which later equations then use as a literal."""
        rest = _LEADING_NUMBER.sub("", equation.after, count=1)  # skip the result as written after the annotation
        hint = "_".join(content_words(rest))
        self.line_words = {word_stem(word): 1 for word in _WORDS_ONLY.findall(equation.after)}
        self.line_words |= {word_stem(word): 2 for word in _WORDS_ONLY.findall(equation.before)}
        self.used, self.literals = set(), set()
        result = self.emit(equation.expression, hint or None)
        self.results[equation.result] = result
        return result

    def emit(self, node: ast.expr, name_hint: str | None = None) -> str | Fraction:
        """Compute steps for `node`; returns the variable (or literal) holding its value."""
        if isinstance(node, ast.Constant):
            return self.operand(evaluate_tree(node))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.operand, ast.Constant):
                value = evaluate_tree(node.operand)
                return self.operand(-value if isinstance(node.op, ast.USub) else value)
            inner = self.emit(node.operand)
            return inner if isinstance(node.op, ast.UAdd) else self._compute("sub", [Fraction(0), inner], name_hint)
        assert isinstance(node, ast.BinOp)
        args = [self.emit(child) for child in operands(node)]
        return self._compute(OPERATOR_NAMES[type(node.op)], args, name_hint)

    def operand(self, value: Fraction) -> str | Fraction:
        """A leaf number: an earlier result's variable, a question number's init variable, or a literal."""
        if value in self.results:
            return self.results[value]
        if value not in self.places:
            return value
        if self._said_as_multiplier(value):
            return value
        place = self._pick(self.places[value])
        self.used.add(place)
        if place not in self.init_vars:
            self.init_vars[place] = self.builder.init(self._name(place), value, "number")
        return self.init_vars[place]

    def _name(self, place: int) -> str:
        """The name hint of a place, plus the nearest content word before the number when another place of the same
        value has the same hint ("3 bags of Snickers for $5 per bag" -> dollars_bag_snickers)."""
        number = self.numbers[place]
        twins = [
            other for other in self.places[number.value] if other != place and self.numbers[other].hint == number.hint
        ]
        if not twins:
            return number.hint
        sentence_start = max((m.end() for m in _SENTENCE_END.finditer(self.question, 0, number.start)), default=0)
        before = [_clean(w) for w in _WORDS_ONLY.findall(self.question[sentence_start : number.start])]
        hint_words = set(number.hint.split("_"))
        extra = [
            w for w in reversed(before) if w and w not in _STOPWORDS and w not in NUMBER_WORDS and w not in hint_words
        ]
        return "_".join([number.hint, *extra[:1]]) if number.hint else "_".join(extra[:1])

    def _said_as_multiplier(self, value: Fraction) -> bool:
        """Whether the equation's line and the question both say this value as a word like "double" or "half", and
        the line does not name one of the question's places of the value before the equation: the value is then the
        word's literal, not a question number that happens to be equal. Once per equation: "2 dogs and twice as many
        cats, 2*2" still uses the dogs' 2."""
        if value in self.literals:
            return False
        own = {word for place in self.places[value] for word in self.own_words[place]} - MULTIPLIER_VALUES.keys()
        if any(self.line_words.get(word) == 2 for word in own):
            return False
        for word, values in MULTIPLIER_VALUES.items():
            if value in values and word in self.line_words and word in self.question_words:
                self.literals.add(value)
                return True
        return False

    def _pick(self, places: list[int]) -> int:
        """Which of the places a value is written in the question an operand means: a place the solution line shares
        words with and this equation does not use yet ("4 pairs of pants + 4 jumpers"), the one sharing most, then
        one this equation does not use, then the first. A shared word scores its weight in the question (2 for the
        number's own name words, 1 near it) times its weight in the line (2 before the equation, where its operands
        are described; 1 after it, where its result is)."""

        def rank(place: int) -> tuple[bool, int, bool, int]:
            own, near = self.own_words[place], self.near_words[place]
            score = sum(
                weight * (2 if word in own else 1 if word in near else 0) for word, weight in self.line_words.items()
            )
            return score > 0 and place not in self.used, score, place not in self.used, -place

        return max(places, key=rank)

    def _compute(self, op: str, args: list[str | Fraction], name_hint: str | None) -> str:
        return self.builder.compute(op, args, name_hint or _RESULT_NAMES[op], _RESULT_NAMES[op])

    def document(self, query: str) -> dict[str, Any]:
        """The trace document with the steps the query depends on, init steps first; raises ConversionSkip for a
        degenerate one."""
        ordered = sorted(self.builder.steps, key=lambda step: "init" not in step)  # stable: inits, then computes
        steps = prune(ordered, query)
        if not any("compute" in step for step in steps):
            raise ConversionSkip(SKIP_NO_OPERATION, "the answer is a number, not a computation")
        question_values = set(self.places)
        for step in steps:
            for arg in step.get("compute", {}).get("args", []):
                if not isinstance(arg, str) and not is_explained(Fraction(arg), question_values):
                    raise ConversionSkip(
                        SKIP_UNEXPLAINED, f"constant {format_number(Fraction(arg))} is not in the question"
                    )
        return self.builder.document(query, steps)


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
    wiring = EquationWiring(question, assign_expert(question))
    query: str | Fraction = ""
    try:
        for equation in equations[: equations.index(final) + 1]:
            query = wiring.add(equation)
    except ArithmeticError as err:  # a step past the solver's limits (the annotations themselves were checked)
        raise ConversionSkip(SKIP_EXECUTION, str(err)) from None
    if not isinstance(query, str):
        raise ConversionSkip(SKIP_NO_OPERATION, "the answer is a number, not a computation")
    return wiring.document(query), gold


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
        record = parse_line(line, ident, required=("question", "answer"))
    except JSONLError as err:
        raise ConversionSkip(SKIP_BAD_LINE, str(err)) from None
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
    return convert_all(lines, convert_line, SOURCE, split)


def convert_all(
    items: Iterable[Any], convert: Callable[[Any, str], dict[str, Any]], source: str, split: str
) -> tuple[list[dict[str, Any]], Summary, list[tuple[str, str]]]:
    """`convert(item, ident)` over one split's items (ids `<source>-<split>-00000` ...), counting what converts and
    each ConversionSkip by code; returns the rows, the summary and (id, "code: message") per skipped item."""
    rows, summary, skipped = [], Summary(), []
    for index, item in enumerate(items):
        ident = f"{source}-{split}-{index:05d}"
        summary.attempted += 1
        try:
            row = convert(item, ident)
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
    add_converter_arguments(parser, "GSM-8K JSONL ({question, answer} per line)")
    parser.set_defaults(handler=run_cli)


def add_converter_arguments(parser: argparse.ArgumentParser, input_help: str) -> None:
    """The arguments every `convert-*` command takes: INPUT, --out, --split, --skips."""
    parser.add_argument("input", type=Path, help=input_help)
    parser.add_argument("--out", type=Path, required=True, help="output JSONL in the dataset line format")
    parser.add_argument("--split", choices=SPLITS, default="train", help="which split to convert (default: train)")
    parser.add_argument("--skips", type=Path, help="also write one 'id<TAB>reason' line per skipped problem here")


def write_converted(
    command: str, rows: Sequence[dict[str, Any]], skipped: Sequence[tuple[str, str]], args: argparse.Namespace
) -> bool:
    """Write a `convert-*` command's rows to --out and its skips to --skips; False (after one line on stderr) when
    a file cannot be written."""
    try:
        write_jsonl(rows, args.out)
        if args.skips:
            args.skips.write_text("".join(f"{ident}\t{reason}\n" for ident, reason in skipped), encoding="utf-8")
    except (JSONLError, OSError) as err:
        message = err if isinstance(err, JSONLError) else f"{args.skips}: cannot write ({err.strerror})"
        print(f"trace-solver {command}: {message}", file=sys.stderr)
        return False
    return True


def run_cli(args: argparse.Namespace) -> int:
    """Handler of `trace-solver convert-gsm8k`."""
    try:
        text = read_text(args.input, expected="expected GSM-8K JSONL", error=JSONLError)
    except JSONLError as err:
        print(f"trace-solver convert-gsm8k: {err}", file=sys.stderr)
        return 1
    lines = split_lines(text.split("\n"), args.split)  # line by line: a bad line is a skip, not the end of the run
    rows, summary, skipped = convert_lines(lines, args.split)
    if not write_converted("convert-gsm8k", rows, skipped, args):
        return 1
    print(f"convert-gsm8k: split {args.split}, {len(lines)} problems from {args.input} -> {args.out}")
    if args.split == "train" and not lines:
        print(f"note: {args.input} has at most {DEV_SIZE} problems, all of them dev: nothing to convert for train")
    print(format_summary(summary))
    return 0 if summary.converted or not summary.attempted else 1
