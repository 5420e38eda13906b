"""entity_track: quantities held by named entities that are moved (transfer) or used up (consume)."""

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
)
from trace_solver.experts.base import Example, Expert
from trace_solver.expressions import bounded
from trace_solver.steps import Env, Field, Params, StepFailure, StepKind, register_step, value_of


def _take(env: Env, source: str, amount_operand: object) -> None:
    amount = value_of(amount_operand, env)  # type: ignore[arg-type]
    if amount < 0:
        raise StepFailure("negative_quantity", f"amount {amount} is negative")
    if amount > env[source]:
        raise StepFailure("negative_quantity", f"{source} has {env[source]}, cannot give up {amount}")
    env[source] -= amount


def _run_transfer(params: Params, env: Env) -> None:
    amount = value_of(params["amount"], env)  # type: ignore[arg-type]  # read before `from` changes (amount: from)
    _take(env, params["from"], amount)  # type: ignore[arg-type]
    env[params["to"]] = bounded(env[params["to"]] + amount)  # type: ignore[index]


def _run_consume(params: Params, env: Env) -> None:
    _take(env, params["from"], params["amount"])  # type: ignore[arg-type]


register_step(
    StepKind(
        "transfer",
        (Field("from", "variable"), Field("to", "variable"), Field("amount", "operand")),
        _run_transfer,
        doc="move an amount from one entity's quantity to another's",
    )
)
register_step(
    StepKind(
        "consume",
        (Field("from", "variable"), Field("amount", "operand")),
        _run_consume,
        doc="use up (eat, spend, lose) an amount of an entity's quantity",
    )
)

NAME = "entity_track"


@dataclass(frozen=True)
class _Story:
    """A template: who holds what, and how the question says holding, giving, using up and asking.

    Phrases use {a}/{b}/{c} (entity names as written), {poss} (a's possessive), {n} (amount) and {items}.
    """

    template: str
    setup: Callable[[random.Random], dict]  # -> {"entities": [(name, possessive)], "items": ..., "consume": [...]}
    has: tuple[str, ...]
    transfer: tuple[str, ...]
    half: tuple[str, ...]
    each: tuple[str, ...]
    more: tuple[str, ...]
    fewer: tuple[str, ...]
    times: tuple[str, ...]
    ask_one: tuple[str, ...]
    ask_total: tuple[str, ...]
    ask_diff: tuple[str, ...]
    start: tuple[int, int] = (10, 80)
    fmt: Callable[[int], str] = num


def _people_setup(table: dict[str, tuple[str, ...]]) -> Callable[[random.Random], dict]:
    def setup(rng: random.Random) -> dict:
        items = rng.choice(sorted(table))
        consume = tuple("{a} " + phrase + "." for phrase in table[items])
        return {"entities": [(p.name, p.possessive) for p in people(rng, 4)], "items": items, "consume": consume}

    return setup


_PEOPLE_PHRASES = {
    "has": ("{a} has {n} {items}.", "{a} starts with {n} {items}.", "{a} owns {n} {items}."),
    "transfer": (
        "{a} gives {n} {items} to {b}.",
        "{a} gives {b} {n} of {poss} {items}.",
        "{b} gets {n} {items} from {a}.",
        "{a} hands {n} {items} to {b}.",
    ),
    "half": ("{a} gives half of {poss} {items} to {b}.", "{a} gives {b} half of {poss} {items}."),
    "each": ("{a} gives {n} {items} to each of {b} and {c}.", "{a} gives {b} and {c} {n} {items} each."),
    "more": ("{b} has {n} more {items} than {a}.",),
    "fewer": ("{b} has {n} fewer {items} than {a}.",),
    "times": ("{b} has {n} times as many {items} as {a}.",),
    "ask_one": ("How many {items} does {a} have now?", "How many {items} does {a} end up with?"),
    "ask_total": (
        "How many {items} do they have altogether now?",
        "How many {items} do they have in total at the end?",
    ),
    "ask_diff": (
        "How many more {items} does {a} have than {b} now?",
        "At the end, how many more {items} does {a} have than {b}?",
    ),
}

COLLECTING = _Story("entity_track/0", _people_setup(COLLECTIBLES), **_PEOPLE_PHRASES)
SNACKS = _Story("entity_track/1", _people_setup(FOODS), **_PEOPLE_PHRASES)


def _money_setup(rng: random.Random) -> dict:
    spend = ("{a} spends {n} on lunch.", "{a} buys a book for {n}.", "{a} pays {n} for a movie ticket.")
    return {"entities": [(p.name, p.possessive) for p in people(rng, 4)], "items": "dollars", "consume": spend}


POCKET_MONEY = _Story(
    "entity_track/2",
    _money_setup,
    has=("{a} has {n}.", "{a} has {n} in {poss} wallet.", "{a} saved {n}."),
    transfer=(
        "{a} gives {b} {n}.",
        "{a} pays {b} {n} for a used game.",
        "{a} lends {b} {n}.",
        "{b} borrows {n} from {a}.",
    ),
    half=("{a} gives half of {poss} money to {b}.",),
    each=("{a} gives {n} to each of {b} and {c}.",),
    more=("{b} has {n} more than {a}.",),
    fewer=("{b} has {n} less than {a}.",),
    times=("{b} has {n} times as much money as {a}.",),
    ask_one=("How much money does {a} have now?", "How many dollars does {a} have left?"),
    ask_total=("How much money do they have together now?",),
    ask_diff=("How much more money does {a} have than {b} now?",),
    start=(20, 150),
    fmt=money,
)


def _store_setup(rng: random.Random) -> dict:
    places = rng.sample(
        [
            "the north warehouse",
            "the south warehouse",
            "the east store",
            "the west store",
            "the city shop",
            "the airport shop",
            "the main depot",
        ],
        4,
    )
    items = rng.choice(["boxes of paper", "bags of rice", "crates of juice", "cases of water", "rolls of fabric"])
    sell = ("{a} sells {n} {items}.", "{a} ships {n} {items} to customers.", "{a} throws out {n} damaged {items}.")
    return {"entities": [(p, "its") for p in places], "items": items, "consume": sell}


STORES = _Story(
    "entity_track/3",
    _store_setup,
    has=("{a} has {n} {items}.", "{a} holds {n} {items}.", "There are {n} {items} at {a}."),
    transfer=(
        "{a} sends {n} {items} to {b}.",
        "a truck moves {n} {items} from {a} to {b}.",
        "{b} receives {n} {items} from {a}.",
    ),
    half=("{a} sends half of {poss} {items} to {b}.",),
    each=("{a} sends {n} {items} to each of {b} and {c}.",),
    more=("{b} has {n} more {items} than {a}.",),
    fewer=("{b} has {n} fewer {items} than {a}.",),
    times=("{b} has {n} times as many {items} as {a}.",),
    ask_one=("How many {items} does {a} have now?", "How many {items} are left at {a}?"),
    ask_total=("How many {items} do the stores have in total now?",),
    ask_diff=("How many more {items} does {a} have than {b} now?",),
    start=(50, 400),
)


def _bus_setup(rng: random.Random) -> dict:
    colours = rng.sample(["red", "blue", "green", "yellow", "white", "orange"], 4)
    off = ("at a stop, {n} passengers get off {a}.", "{n} passengers leave {a} at the station.")
    return {"entities": [(f"the {c} bus", "its") for c in colours], "items": "passengers", "consume": off}


BUSES = _Story(
    "entity_track/4",
    _bus_setup,
    has=("{a} carries {n} {items}.", "There are {n} {items} on {a}."),
    transfer=("{n} {items} move from {a} to {b}.", "{n} {items} switch from {a} to {b}."),
    half=("half of the {items} on {a} move to {b}.",),
    each=("{n} {items} from {a} move to {b} and {n} more move to {c}.",),
    more=("{b} carries {n} more {items} than {a}.",),
    fewer=("{b} carries {n} fewer {items} than {a}.",),
    times=("{b} carries {n} times as many {items} as {a}.",),
    ask_one=("How many {items} are on {a} now?",),
    ask_total=("How many {items} are on the buses now?",),
    ask_diff=("How many more {items} are on {a} than on {b} now?",),
    start=(10, 60),
)

STORIES = (COLLECTING, SNACKS, POCKET_MONEY, STORES, BUSES)
_CONNECTORS = ("", "", "Then ", "Later, ", "After that, ", "Next, ")


def _make(rng: random.Random, story: _Story, operations: int) -> Example:
    ctx = story.setup(rng)
    b = TraceBuilder(NAME, places=0)
    entities = ctx["entities"][: rng.randint(2, min(4, operations + 1))]
    names = {var: (shown, poss) for shown, poss in entities for var in [b.fresh(shown)]}
    order = list(names)
    final = rng.choice([0, 1]) if operations >= 2 else 0
    derived = rng.randint(0, min(len(order) - 1, operations - final - 1, 2))
    budget = operations - final - derived

    def fill(phrases: tuple[str, ...], **fields: object) -> str:
        words = {k: names[v][0] for k, v in fields.items() if isinstance(v, str) and v in names}
        extra = {k: v for k, v in fields.items() if k not in words}
        poss = names[fields["a"]][1] if fields.get("a") in names else ""
        return say(rng, phrases, items=ctx["items"], poss=poss, **{**extra, **words})

    sentences = []
    low, high = story.start
    for index, var in enumerate(order):
        if 0 < index <= derived:
            ref = rng.choice(order[:index])
            kind = rng.choice(["more", "fewer", "times"])
            k = rng.randint(2, 4) if kind == "times" else rng.randint(2, 20)
            op = {"more": "add", "fewer": "sub", "times": "mul"}[kind]
            b.compute(op, [ref, k], var)
            if b[var] < 2:
                raise Retry
            sentences.append(fill(getattr(story, kind), a=ref, b=var, n=story.fmt(k)))
        else:
            value = rng.randint(low, high)
            b.init(var, value)
            sentences.append(fill(story.has, a=var, n=story.fmt(value)))
    if derived and rng.random() < 0.3:  # sometimes the relations come before the holding they refer to
        sentences = sentences[1 : derived + 1] + sentences[:1] + sentences[derived + 1 :]

    touched = order[0]
    while budget > 0:
        kinds = ["transfer", "transfer", "consume"]
        if budget >= 2:
            kinds += ["half"] + (["each"] if len(order) >= 3 else [])
        kind = rng.choice(kinds)
        givers = [v for v in order if b[v] >= 2]
        if not givers:
            raise Retry
        giver = rng.choice(givers)
        others = [v for v in order if v != giver]
        connector = rng.choice(_CONNECTORS)
        if kind == "consume":
            n = rng.randint(2, max(2, b[giver] * 3 // 4))
            b.step("consume", {"from": giver, "amount": n})
            sentences.append(connector + fill(ctx["consume"], a=giver, n=story.fmt(n)))
            touched, budget = giver, budget - 1
            continue
        receiver = rng.choice(others)
        if kind == "transfer":
            n = rng.randint(2, max(2, b[giver] * 3 // 4))
            b.step("transfer", {"from": giver, "to": receiver, "amount": n})
            sentences.append(connector + fill(story.transfer, a=giver, b=receiver, n=story.fmt(n)))
            budget -= 1
        elif kind == "half":
            if b[giver] % 2:
                raise Retry
            half = b.compute("div", [giver, 2], f"half_{giver}")
            b.step("transfer", {"from": giver, "to": receiver, "amount": half})
            sentences.append(connector + fill(story.half, a=giver, b=receiver))
            budget -= 2
        else:
            third = rng.choice([v for v in others if v != receiver])
            n = rng.randint(2, max(2, b[giver] // 2 - 1))
            b.step("transfer", {"from": giver, "to": receiver, "amount": n})
            b.step("transfer", {"from": giver, "to": third, "amount": n})
            sentences.append(connector + fill(story.each, a=giver, b=receiver, c=third, n=story.fmt(n)))
            budget -= 2
        touched = receiver if rng.random() < 0.6 else giver

    if final == 0:
        answer = touched
        sentences.append(fill(story.ask_one, a=touched))
    elif rng.random() < 0.5:
        answer = b.compute("add", list(order), "total")
        sentences.append(fill(story.ask_total))
    else:
        x, y = rng.sample(order, 2)
        if b[x] == b[y]:
            raise Retry
        x, y = (x, y) if b[x] > b[y] else (y, x)
        answer = b.compute("sub", [x, y], "difference")
        sentences.append(fill(story.ask_diff, a=x, b=y))
    return b.finish(" ".join(cap(text) for text in sentences), answer, story.template, operations)


def generate(rng: random.Random, operations: int) -> Example:
    """An entity_track word problem: named holders, transfers and consumption; `operations` non-init steps."""
    return retrying(rng, lambda r: _make(r, r.choice(STORIES), operations))


EXPERT = Expert(
    name=NAME,
    description="quantities held by named entities, moved between them or used up",
    allowed_steps=frozenset({"init", "compute", "transfer", "consume", "query"}),
    generator=generate,
    templates=tuple(story.template for story in STORIES),
)
