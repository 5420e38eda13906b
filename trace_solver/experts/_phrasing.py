"""Shared pieces of the synthetic generators: names, objects, number helpers and a chain planner.

Each expert module keeps its own templates and generator; this module only holds what several of them use.
A generator draws numbers with `rng`, builds the trace with `trace_solver.builder.TraceBuilder` (which mirrors the
values as it goes, so later numbers can be chosen to keep answers clean) and ends with `TraceBuilder.finish`, which
executes the trace with `trace_solver.execute` and raises `GenerationError` when it does not reach the answer. Draws
that turn out ugly (a fraction, a negative count) raise `Retry`; `retrying` then draws again from the same `rng`, so
output stays a pure function of the seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

# The experts import the builder's names from here, with the rest of their shared pieces.
from trace_solver.builder import MAX_VALUE, GenerationError, Retry, TraceBuilder, is_clean, var_name  # noqa: F401
from trace_solver.experts.base import Example
from trace_solver.numbers import format_number

MAX_ATTEMPTS = 500  # draws per example before a generator is declared broken


@dataclass(frozen=True)
class Person:
    name: str
    subject: str  # she / he
    object: str  # her / him
    possessive: str  # her / his

    @property
    def var(self) -> str:
        return var_name(self.name)


_FEMALE = (
    "Maya Emma Olivia Sofia Ava Mia Amara Chloe Priya Lena Hana Nora Zoe Ruby Isla Fatima Grace Aisha Julia Rosa "
    "Elena Keiko Ines Tara Leah Nadia Clara Yara Mei Alice"
).split()
_MALE = (
    "Liam Noah Omar Lucas Ethan Mateo Ravi Felix Jamal Hugo Kenji Samuel Diego Arjun Leo Theo Marco Tomas Ben Yusuf "
    "Oscar Ivan Kofi Daniel Adam Jonas Pablo Wei Carlos Tariq"
).split()
PEOPLE = tuple(Person(n, "she", "her", "her") for n in _FEMALE) + tuple(Person(n, "he", "him", "his") for n in _MALE)

# Countable things people hold: (plural, consume phrases with {n} and {items}); consume phrases are present tense.
COLLECTIBLES = {
    "marbles": ("loses {n} {items}", "loses {n} {items} at the park"),
    "stickers": ("uses {n} {items} on a poster", "puts {n} {items} on a notebook"),
    "trading cards": ("loses {n} {items}", "throws away {n} torn {items}"),
    "seashells": ("breaks {n} {items}", "loses {n} {items} on the way home"),
    "stamps": ("uses {n} {items} on letters", "loses {n} {items}"),
    "beads": ("uses {n} {items} to make a bracelet", "drops {n} {items} and cannot find them"),
    "pencils": ("breaks {n} {items}", "loses {n} {items} at school"),
    "comic books": ("sells {n} {items} at a yard sale", "donates {n} {items} to the library"),
}
FOODS = {
    "cookies": ("eats {n} {items}", "eats {n} of the {items}"),
    "apples": ("eats {n} {items}", "uses {n} {items} in a pie"),
    "candies": ("eats {n} {items}", "eats {n} of the {items} after dinner"),
    "cupcakes": ("eats {n} {items}", "drops {n} {items} on the floor"),
    "strawberries": ("eats {n} {items}", "uses {n} {items} in a smoothie"),
    "oranges": ("eats {n} {items}", "squeezes {n} {items} for juice"),
    "muffins": ("eats {n} {items}", "eats {n} {items} for breakfast"),
}
SHOP_ITEMS = (
    "jacket",
    "bike",
    "lamp",
    "backpack",
    "pair of shoes",
    "watch",
    "guitar",
    "tablet",
    "coat",
    "desk chair",
    "camera",
    "blender",
    "tent",
    "skateboard",
    "suitcase",
)


def people(rng: random.Random, k: int) -> list[Person]:
    return rng.sample(PEOPLE, k)


def num(value: Fraction | int) -> str:
    """A number as the question writes it (exactly as the trace does: no thousands separators)."""
    return format_number(Fraction(value))


def money(value: Fraction | int) -> str:
    """``$12``, ``$12.50``: the question's spelling of an amount; the trace holds 12.5 (contained in "12.50")."""
    value = Fraction(value)
    if value.denominator == 1:
        return f"${value.numerator}"
    return f"${float(value):.2f}"


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def say(rng: random.Random, options: Sequence[str], **fields: Any) -> str:
    """One of several phrasings, filled in."""
    return rng.choice(options).format(**fields)


def divisors(value: Fraction, low: int, high: int) -> list[int]:
    """Divisors d of an integral `value` with low <= d <= high (empty for a non-integer)."""
    if value.denominator != 1 or value <= 0:
        return []
    return [d for d in range(low, high + 1) if value.numerator % d == 0]


def pick_divisor(rng: random.Random, value: Fraction, low: int, high: int) -> int:
    options = divisors(value, low, high)
    if not options:
        raise Retry
    return rng.choice(options)


def retrying(rng: random.Random, make: Callable[[random.Random], Example]) -> Example:
    """Call `make` until it does not raise Retry (same rng, so the result is still determined by the seed)."""
    for _ in range(MAX_ATTEMPTS):
        try:
            return make(rng)
        except Retry:
            continue
    raise GenerationError(f"no clean example after {MAX_ATTEMPTS} draws")


# --- chain planner: a story as a walk over units ------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """One sentence of a story that adds `ops` operations, moving the current quantity from unit_in to unit_out.

    `run(chain)` adds the steps through chain.b, sets chain.cur to the new variable and returns the sentence.
    """

    name: str
    unit_in: str
    unit_out: str
    run: Callable[[Chain], str]
    ops: int = 1


@dataclass(frozen=True)
class Frame:
    """A story template: intros (unit -> init steps + opening sentence), stages, questions (unit -> question)."""

    template: str
    expert: str
    intros: dict[str, Callable[[Chain], str]]
    stages: tuple[Stage, ...]
    questions: dict[str, Callable[[Chain], str]]
    setup: Callable[[Chain], None] = lambda chain: None
    places: int = 0


@dataclass
class Chain:
    rng: random.Random
    b: TraceBuilder
    cur: str = ""
    ctx: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> Fraction:
        return self.b[self.cur]

    def say(self, options: Sequence[str], **fields: Any) -> str:
        return cap(say(self.rng, options, **{**self.ctx, **fields}))

    def apply(self, op: str, base: str, number: Fraction | int, result: str, *, first: bool = False) -> str:
        """init `base` = number, then compute `op` over [cur, base] (or [base, cur] with first=True) into `result`."""
        var = self.b.init(base, number)
        self.cur = self.b.compute(op, [var, self.cur] if first else [self.cur, var], result)
        return var


_PLAN_BUDGET = 400  # nodes a planning search may visit before giving up on this draw


def plan(rng: random.Random, frame: Frame, operations: int) -> tuple[str, list[Stage]]:
    """A random start unit and stage sequence with exactly `operations` operations that ends on a unit with a
    question. Each stage is used at most once. Raises Retry if none is found."""
    by_unit: dict[str, list[Stage]] = {}
    for stage in frame.stages:
        by_unit.setdefault(stage.unit_in, []).append(stage)
    budget = [_PLAN_BUDGET]

    def search(unit: str, remaining: int, used: frozenset[str]) -> list[Stage] | None:
        if remaining == 0:
            return [] if unit in frame.questions else None
        options = [s for s in by_unit.get(unit, ()) if s.name not in used and s.ops <= remaining]
        rng.shuffle(options)
        for stage in options:
            budget[0] -= 1
            if budget[0] < 0:
                return None
            rest = search(stage.unit_out, remaining - stage.ops, used | {stage.name})
            if rest is not None:
                return [stage, *rest]
        return None

    starts = sorted(frame.intros)
    rng.shuffle(starts)
    for start in starts:
        path = search(start, operations, frozenset())
        if path is not None:
            return start, _story_order(frame, path)
    raise Retry


def _story_order(frame: Frame, path: list[Stage]) -> list[Stage]:
    """Sentences that stay on one unit are told in the order the frame declares them (Monday before Tuesday)."""
    rank = {stage.name: index for index, stage in enumerate(frame.stages)}
    ordered: list[Stage] = []
    run: list[Stage] = []
    for stage in [*path, None]:
        if stage is not None and stage.unit_in == stage.unit_out and (not run or run[0].unit_in == stage.unit_in):
            run.append(stage)
            continue
        ordered.extend(sorted(run, key=lambda s: rank[s.name]))
        run = []
        if stage is not None and stage.unit_in == stage.unit_out:
            run.append(stage)
        elif stage is not None:
            ordered.append(stage)
    return ordered


def run_frame(rng: random.Random, frame: Frame, operations: int) -> Example:
    """One example of `frame` with exactly `operations` operations (raises Retry on an unclean draw)."""
    start, path = plan(rng, frame, operations)
    chain = Chain(rng, TraceBuilder(frame.expert, places=frame.places))
    frame.setup(chain)
    sentences = [frame.intros[start](chain)]
    unit = start
    for stage in path:
        sentences.append(stage.run(chain))
        unit = stage.unit_out
    sentences.append(frame.questions[unit](chain))
    return chain.b.finish(" ".join(sentences), chain.cur, frame.template, operations)


def frame_generator(
    frames: Sequence[Frame], accept: Callable[[Example], bool] | None = None
) -> Callable[[random.Random, int], Example]:
    """A generator (rng, operations) -> Example drawing one of `frames` per attempt; `accept` can refuse a draw
    (percentage wants at least one percent step)."""

    def attempt(rng: random.Random, operations: int) -> Example:
        example = run_frame(rng, rng.choice(frames), operations)
        if accept is not None and not accept(example):
            raise Retry
        return example

    def generate(rng: random.Random, operations: int) -> Example:
        return retrying(rng, lambda r: attempt(r, operations))

    return generate


# --- stage building blocks ----------------------------------------------------------------------------------------

Pick = Callable[[Chain], int]


def between(low: int, high: int, step: int = 1) -> Pick:
    """A number in [low, high] of the form low + k * step."""
    return lambda chain: chain.rng.randrange(low, high + 1, step)


def below(low: int, high: int) -> Pick:
    """A number in [low, min(high, current - 1)]: something taken away leaves some over."""

    def pick(chain: Chain) -> int:
        top = min(high, int(chain.value) - 1)
        if top < low:
            raise Retry
        return chain.rng.randint(low, top)

    return pick


def divisor(low: int, high: int) -> Pick:
    """A divisor of the current value: sharing or packing comes out even."""
    return lambda chain: pick_divisor(chain.rng, chain.value, low, high)


def intro(var: str, pick: Pick, phrases: Sequence[str], fmt: Callable[[int], str] = num) -> Callable[[Chain], str]:
    """An opening sentence that introduces the starting quantity as an init step."""

    def run(chain: Chain) -> str:
        value = pick(chain)
        chain.cur = chain.b.init(var.format(**chain.ctx), value)
        return chain.say(phrases, n=fmt(value))

    return run


def number_stage(
    name: str,
    unit_in: str,
    unit_out: str,
    op: str,
    pick: Pick,
    var: str,
    result: str,
    phrases: Sequence[str],
    *,
    fmt: Callable[[int], str] = num,
    first: bool = False,
) -> Stage:
    """A sentence bringing one new number: init it, then compute `op` over the current quantity and it."""

    def run(chain: Chain) -> str:
        value = pick(chain)
        chain.apply(op, var.format(**chain.ctx), value, result.format(**chain.ctx), first=first)
        return chain.say(phrases, n=fmt(value))

    return Stage(name, unit_in, unit_out, run)


def ask(phrases: Sequence[str]) -> Callable[[Chain], str]:
    return lambda chain: chain.say(phrases)
