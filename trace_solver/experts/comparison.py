"""comparison: quantities defined relative to each other ("three times as many", "50 more than"), then compared."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from trace_solver.experts._phrasing import (
    COLLECTIBLES,
    FOODS,
    Retry,
    TraceBuilder,
    cap,
    money,
    num,
    people,
    retrying,
    say,
    var_name,
)
from trace_solver.experts.base import Example, Expert
from trace_solver.expressions import evaluate_expression

NAME = "comparison"

# relation kind -> (formula over refs x, y and numbers k, m; how many refs)
_RELATIONS = {
    "more": ("{x} + {k}", 1),
    "fewer": ("{x} - {k}", 1),
    "times": ("{x} * {k}", 1),
    "twice": ("{x} * 2", 1),
    "half": ("{x} / 2", 1),
    "times_more": ("{x} * {m} + {k}", 1),
    "times_fewer": ("{x} * {m} - {k}", 1),
    "combined": ("{x} + {y}", 2),
    "combined_more": ("{x} + {y} + {k}", 2),
}


@dataclass(frozen=True)
class _Frame:
    """A template: what is compared and how the question says each relation.

    Phrases use {a} (the subject being defined or asked about), {x}/{y} (the subjects it is defined from), {b}/{c}
    (other subjects in questions), {k}/{m} (numbers) and {n} (a stated value).
    """

    template: str
    subjects: Callable[[random.Random, int], tuple[list[str], dict]]  # -> subject names as written, extra fields
    state: tuple[str, ...]
    relations: dict[str, tuple[str, ...]]
    ask_one: tuple[str, ...]
    ask_total: tuple[str, ...]
    ask_diff: tuple[str, ...]
    ask_combined_diff: tuple[str, ...]
    ask_ratio: tuple[str, ...]
    start: tuple[int, int]
    limit: int
    fmt: Callable[[int], str] = num


def _names(rng: random.Random, k: int) -> tuple[list[str], dict]:
    return [p.name for p in people(rng, k)], {}


def _collectors(rng: random.Random, k: int) -> tuple[list[str], dict]:
    return [p.name for p in people(rng, k)], {"items": rng.choice(sorted({*COLLECTIBLES, *FOODS}))}


def _objects(rng: random.Random, k: int) -> tuple[list[str], dict]:
    things = [
        "lamp",
        "chair",
        "rug",
        "bookshelf",
        "mirror",
        "table",
        "clock",
        "sofa",
        "vase",
        "fan",
        "desk",
        "bed",
        "painting",
        "heater",
    ]
    return [f"the {t}" for t in rng.sample(things, k)], {}


def _animals(rng: random.Random, k: int) -> tuple[list[str], dict]:
    kinds = ["dog", "goat", "sheep", "pig", "calf", "pony", "cat", "rabbit", "turkey", "lamb", "llama", "donkey"]
    return [f"the {t}" for t in rng.sample(kinds, k)], {}


COLLECTIONS = _Frame(
    "comparison/0",
    _collectors,
    state=("{a} has {n} {items}.", "{a} collected {n} {items}."),
    relations={
        "more": ("{a} has {k} more {items} than {x}.",),
        "fewer": ("{a} has {k} fewer {items} than {x}.",),
        "times": ("{a} has {k} times as many {items} as {x}.",),
        "twice": ("{a} has twice as many {items} as {x}.",),
        "half": ("{a} has half as many {items} as {x}.",),
        "times_more": ("{a} has {k} more than {m} times as many {items} as {x}.",),
        "times_fewer": ("{a} has {k} fewer than {m} times as many {items} as {x}.",),
        "combined": ("{a} has as many {items} as {x} and {y} combined.",),
        "combined_more": ("{a} has {k} more {items} than {x} and {y} have together.",),
    },
    ask_one=("How many {items} does {a} have?",),
    ask_total=("How many {items} do they have altogether?", "How many {items} do they have in total?"),
    ask_diff=("How many more {items} does {a} have than {b}?",),
    ask_combined_diff=("How many more {items} do {a} and {b} have together than {c}?",),
    ask_ratio=("How many times as many {items} as {b} does {a} have?",),
    start=(5, 60),
    limit=1000,
)

AGES = _Frame(
    "comparison/1",
    _names,
    state=("{a} is {n} years old.", "{a} is {n}."),
    relations={
        "more": ("{a} is {k} years older than {x}.",),
        "fewer": ("{a} is {k} years younger than {x}.",),
        "times": ("{a} is {k} times as old as {x}.",),
        "twice": ("{a} is twice as old as {x}.",),
        "half": ("{a} is half as old as {x}.",),
        "times_more": ("{a} is {k} years older than {m} times {x}'s age.",),
        "times_fewer": ("{a} is {k} years younger than {m} times {x}'s age.",),
        "combined": ("{a} is as old as {x} and {y} combined.",),
        "combined_more": ("{a} is {k} years older than {x} and {y} combined.",),
    },
    ask_one=("How old is {a}?",),
    ask_total=("What is the sum of their ages?", "How old are they altogether?"),
    ask_diff=("How many years older is {a} than {b}?",),
    ask_combined_diff=("How many years more than {c}'s age are the ages of {a} and {b} combined?",),
    ask_ratio=("How many times as old as {b} is {a}?",),
    start=(3, 30),
    limit=120,
)

PRICES = _Frame(
    "comparison/2",
    _objects,
    state=("{a} costs {n}.", "{a} is priced at {n}."),
    relations={
        "more": ("{a} costs {k} more than {x}.",),
        "fewer": ("{a} costs {k} less than {x}.",),
        "times": ("{a} costs {k} times as much as {x}.",),
        "twice": ("{a} costs twice as much as {x}.",),
        "half": ("{a} costs half as much as {x}.",),
        "times_more": ("{a} costs {k} more than {m} times the price of {x}.",),
        "times_fewer": ("{a} costs {k} less than {m} times the price of {x}.",),
        "combined": ("{a} costs as much as {x} and {y} together.",),
        "combined_more": ("{a} costs {k} more than {x} and {y} together.",),
    },
    ask_one=("How much does {a} cost?", "What is the price of {a}?"),
    ask_total=("How much do all of them cost together?", "What is the total price of the items?"),
    ask_diff=("How much more does {a} cost than {b}?",),
    ask_combined_diff=("How much more do {a} and {b} cost together than {c}?",),
    ask_ratio=("How many times as much as {b} does {a} cost?",),
    start=(5, 150),
    limit=5000,
    fmt=money,
)

SCORES = _Frame(
    "comparison/3",
    _names,
    state=("{a} scored {n} points.", "In the game, {a} scored {n} points."),
    relations={
        "more": ("{a} scored {k} more points than {x}.",),
        "fewer": ("{a} scored {k} fewer points than {x}.",),
        "times": ("{a} scored {k} times as many points as {x}.",),
        "twice": ("{a} scored twice as many points as {x}.",),
        "half": ("{a} scored half as many points as {x}.",),
        "times_more": ("{a} scored {k} more than {m} times as many points as {x}.",),
        "times_fewer": ("{a} scored {k} fewer than {m} times as many points as {x}.",),
        "combined": ("{a} scored as many points as {x} and {y} combined.",),
        "combined_more": ("{a} scored {k} more points than {x} and {y} combined.",),
    },
    ask_one=("How many points did {a} score?",),
    ask_total=("How many points did the team score in total?", "How many points did they score altogether?"),
    ask_diff=("How many more points did {a} score than {b}?",),
    ask_combined_diff=("How many more points did {a} and {b} score together than {c}?",),
    ask_ratio=("How many times as many points as {b} did {a} score?",),
    start=(4, 40),
    limit=500,
)

WEIGHTS = _Frame(
    "comparison/4",
    _animals,
    state=("{a} weighs {n} pounds.", "On the farm scale, {a} weighs {n} pounds."),
    relations={
        "more": ("{a} weighs {k} pounds more than {x}.",),
        "fewer": ("{a} weighs {k} pounds less than {x}.",),
        "times": ("{a} weighs {k} times as much as {x}.",),
        "twice": ("{a} weighs twice as much as {x}.",),
        "half": ("{a} weighs half as much as {x}.",),
        "times_more": ("{a} weighs {k} pounds more than {m} times the weight of {x}.",),
        "times_fewer": ("{a} weighs {k} pounds less than {m} times the weight of {x}.",),
        "combined": ("{a} weighs as much as {x} and {y} together.",),
        "combined_more": ("{a} weighs {k} pounds more than {x} and {y} together.",),
    },
    ask_one=("How many pounds does {a} weigh?",),
    ask_total=("How many pounds do the animals weigh altogether?",),
    ask_diff=("How many pounds heavier is {a} than {b}?",),
    ask_combined_diff=("How many pounds heavier are {a} and {b} together than {c}?",),
    ask_ratio=("How many times as heavy as {b} is {a}?",),
    start=(5, 90),
    limit=3000,
)

FRAMES = (COLLECTIONS, AGES, PRICES, SCORES, WEIGHTS)
_FINALS = {"one": 0, "total": 1, "diff": 1, "ratio": 1, "combined_diff": 2}
_LEAVES = {"one": 1, "diff": 2, "ratio": 2, "combined_diff": 3, "total": None}


def _relation(rng: random.Random, b: TraceBuilder, frame: _Frame, refs: list[str]) -> tuple[str, dict, str]:
    """A relation kind, its numbers and formula such that the new value is a whole number in 2..frame.limit."""
    kinds = [k for k, (_, arity) in _RELATIONS.items() if arity == len(refs)]
    rng.shuffle(kinds)
    for kind in kinds:
        numbers = {"k": rng.randint(3, 5) if kind == "times" else rng.randint(2, 25), "m": rng.randint(2, 4)}
        expression = _RELATIONS[kind][0].format(x=refs[0], y=refs[-1], **numbers)
        value = evaluate_expression(expression, b.env)
        if value.denominator == 1 and 2 <= value <= frame.limit:
            return kind, numbers, expression
    raise Retry


def _references(rng: random.Random, target: int | None, leaves: list[str], defined: list[str]) -> list[str]:
    """The one or two quantities a new relation refers to, steering toward `target` leaves (quantities nothing else
    refers to yet: those the question asks about). Referring to a non-leaf adds a leaf, to two leaves removes one."""
    inner = [v for v in defined if v not in leaves]
    if target is None:
        return rng.sample(defined, 2) if len(defined) >= 2 and rng.random() < 0.25 else [rng.choice(defined)]
    if len(leaves) < target and inner:
        return [rng.choice(inner)]
    if len(leaves) > target and len(leaves) >= 2:
        return rng.sample(leaves, 2)
    if inner and rng.random() < 0.2:
        return [rng.choice(leaves), rng.choice(inner)]
    return [rng.choice(leaves)]


def _make(rng: random.Random, frame: _Frame, operations: int) -> Example:
    final = rng.choice([f for f, ops in _FINALS.items() if ops <= operations])
    relations = operations - _FINALS[final]
    two_bases = relations == 0 or rng.random() < 0.25
    if relations == 0 and final in ("one", "combined_diff"):
        raise Retry
    target = _LEAVES[final]
    shown, fields = frame.subjects(rng, relations + 1 + two_bases)
    b = TraceBuilder(NAME, places=0)
    shown_of = {var_name(name): name for name in shown}  # subjects are distinct, so are their variable names
    order = list(shown_of)

    def fill(phrases: tuple[str, ...], **subjects: str) -> str:
        words = {key: shown_of.get(value, value) for key, value in subjects.items()}
        return cap(say(rng, phrases, **fields, **words))

    bases = order[: 1 + two_bases]
    base_sentences = []
    for name in bases:
        value = rng.randint(*frame.start)
        b.init(name, value)
        base_sentences.append(fill(frame.state, a=name, n=frame.fmt(value)))
    leaves = list(bases)
    defined = list(bases)
    sentences = []
    for new in order[len(bases) :]:
        refs = _references(rng, target, leaves, defined)
        kind, numbers, expression = _relation(rng, b, frame, refs)
        b.formula(new, expression)
        k_fmt = num if kind == "times" else frame.fmt  # "3 times as much", but "$3 more"
        shown_numbers = {"k": k_fmt(numbers["k"]), "m": num(numbers["m"])}
        sentences.append(fill(frame.relations[kind], a=new, x=refs[0], y=refs[-1], **shown_numbers))
        leaves = [v for v in leaves if v not in refs] + [new]
        defined.append(new)
    if target is not None and len(leaves) != target:
        raise Retry
    if rng.random() < 0.25 and sentences:  # the plain values stated last: the trace still starts with them
        sentences = sentences + base_sentences
    else:
        sentences = base_sentences + sentences

    if final == "one":
        answer = leaves[0]
        sentences.append(fill(frame.ask_one, a=answer))
    elif final == "total":
        answer = b.compute("add", order, "total")
        sentences.append(fill(frame.ask_total))
    elif final in ("diff", "ratio"):
        x, y = sorted(leaves, key=lambda v: b[v], reverse=True)
        if b[x] == b[y] or final == "ratio" and (b[x] % b[y] or b[x] == b[y]):
            raise Retry
        answer = b.compute("sub" if final == "diff" else "div", [x, y], "difference" if final == "diff" else "ratio")
        sentences.append(fill(frame.ask_diff if final == "diff" else frame.ask_ratio, a=x, b=y))
    else:
        rng.shuffle(leaves)
        x, y, z = leaves
        if b[x] + b[y] <= b[z]:
            raise Retry
        together = b.compute("add", [x, y], "together")
        answer = b.compute("sub", [together, z], "difference")
        sentences.append(fill(frame.ask_combined_diff, a=x, b=y, c=z))
    return b.finish(" ".join(sentences), answer, frame.template, operations)


def generate(rng: random.Random, operations: int) -> Example:
    """A comparison word problem: quantities wired to each other by formulas, then combined by computes."""
    return retrying(rng, lambda r: _make(r, r.choice(FRAMES), operations))


EXPERT = Expert(
    name=NAME,
    description="quantities defined relative to a base and to each other, then compared",
    allowed_steps=frozenset({"init", "formula", "compute", "query"}),
    generator=generate,
    templates=tuple(frame.template for frame in FRAMES),
)
