"""percentage: discounts, increases, decreases and percent-of, with the percent written as a number (20 for 20%)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from trace_solver.experts._phrasing import (
    SHOP_ITEMS,
    Chain,
    Frame,
    Retry,
    Stage,
    ask,
    below,
    between,
    frame_generator,
    intro,
    is_clean,
    money,
    num,
    number_stage,
    people,
    pick_divisor,
)
from trace_solver.experts.base import Expert
from trace_solver.expressions import bounded
from trace_solver.steps import Env, Field, Params, StepKind, register_step, value_of

_FIELDS = (Field("base", "operand"), Field("percent", "operand"), Field("var", "target"))


def _percent_step(name: str, factor: Callable[[Fraction], Fraction], doc: str) -> StepKind:
    def run(params: Params, env: Env) -> None:
        base = value_of(params["base"], env)  # type: ignore[arg-type]
        percent = value_of(params["percent"], env)  # type: ignore[arg-type]
        env[params["var"]] = bounded(base * factor(percent / 100))  # type: ignore[index]

    return register_step(StepKind(name, _FIELDS, run, doc=doc))


PERCENT_STEPS = (
    _percent_step("percent_off", lambda p: 1 - p, "base reduced by percent (a discount)"),
    _percent_step("percent_decrease", lambda p: 1 - p, "base decreased by percent"),
    _percent_step("percent_increase", lambda p: 1 + p, "base increased by percent"),
    _percent_step("percent_of", lambda p: p, "percent of base"),
)

NAME = "percentage"
_FACTORS = {"percent_off": -1, "percent_decrease": -1, "percent_increase": 1, "percent_of": 0}
COMMON = (5, 10, 15, 20, 25, 30, 40, 50, 60, 75)


def _percent(chain: Chain, kind: str, percents: tuple[int, ...], result: str) -> str:
    """Apply a percent step to the current quantity with a percent that keeps the result clean; return the percent."""
    options = list(percents)
    chain.rng.shuffle(options)
    sign = _FACTORS[kind]
    for percent in options:
        factor = Fraction(percent, 100) if sign == 0 else 1 + sign * Fraction(percent, 100)
        if is_clean(chain.value * factor, chain.b.places) and chain.value * factor > 0:
            chain.ctx["whole"] = chain.cur
            chain.cur = chain.b.step(kind, {"base": chain.cur, "percent": percent}, target=result.format(**chain.ctx))
            return num(percent)
    raise Retry


def percent_stage(
    name: str,
    unit_in: str,
    unit_out: str,
    kind: str,
    result: str,
    phrases: tuple[str, ...],
    percents: tuple[int, ...] = COMMON,
) -> Stage:
    """A sentence applying one percent step to the current quantity ({p} is the percent)."""
    return Stage(name, unit_in, unit_out, lambda chain: chain.say(phrases, p=_percent(chain, kind, percents, result)))


def part_stage(
    name: str, unit: str, part: str, rest: str, phrases: tuple[str, ...], percents: tuple[int, ...] = COMMON
) -> Stage:
    """percent_of a part, then compute what is left: two operations in one sentence."""

    def run(chain: Chain) -> str:
        whole = chain.cur
        p = _percent(chain, "percent_of", percents, part)
        chain.cur = chain.b.compute("sub", [whole, chain.cur], rest.format(**chain.ctx))
        return chain.say(phrases, p=p)

    return Stage(name, unit, unit, run, ops=2)


def _rest_stage(name: str, unit_in: str, unit_out: str, result: str) -> Stage:
    def run(chain: Chain) -> str:
        chain.cur = chain.b.compute("sub", [chain.ctx["whole"], chain.cur], result)
        return ""

    return Stage(name, unit_in, unit_out, run)


def _change_stage(name: str, unit_in: str) -> Stage:
    def run(chain: Chain) -> str:
        bill = next(b for b in (20, 50, 100, 200, 500, 1000, 2000, 5000) if b > chain.value)
        chain.apply("sub", "paid", bill, "change", first=True)
        return chain.say(("{name} pays with {n}.", "{pron} hands over {n}."), n=money(bill))

    return Stage(name, unit_in, "change", run)


def _setup_person(chain: Chain) -> None:
    person = people(chain.rng, 1)[0]
    chain.ctx.update(name=person.name, pron=person.subject, poss=person.possessive)


def _setup_shop(chain: Chain) -> None:
    _setup_person(chain)
    chain.ctx["item"] = chain.rng.choice(SHOP_ITEMS)


# fmt: off
SHOP = Frame(
    "percentage/0",
    NAME,
    setup=_setup_shop,
    places=2,
    intros={"price": intro("price", between(20, 400), ("{name} looks at a {item} that costs {n}.",
                                                        "The {item} {name} wants costs {n}.",
                                                        "{name} wants a {item} that costs {n}."), fmt=money)},
    stages=(
        percent_stage("sale", "price", "price", "percent_off", "sale_price",
                      ("It is on sale for {p}% off.", "The store takes {p}% off the price.")),
        percent_stage("extra_off", "price", "price", "percent_off", "member_price",
                      ("With a member card, {name} gets {p}% off.", "At the register {pron} gets {p}% off.")),
        percent_stage("raise", "price", "price", "percent_increase", "new_price",
                      ("Then the price goes up by {p}%.", "The store raises the price by {p}%.")),
        percent_stage("tax", "price", "price", "percent_increase", "price_with_tax",
                      ("Sales tax of {p}% is added.", "{pron} also pays {p}% sales tax."), (5, 8, 10, 20)),
        number_stage("coupon", "price", "price", "sub", below(2, 20), "coupon", "price_after_coupon",
                     ("{name} also uses a {n} coupon.", "A coupon takes another {n} off."), fmt=money),
        number_stage("quantity", "price", "total", "mul", between(2, 6), "quantity", "total",
                     ("{name} buys {n} of them.", "{pron} needs {n} of them for the family.")),
        number_stage("shipping", "total", "total", "add", between(4, 30), "shipping", "total_with_shipping",
                     ("Shipping costs {n}.", "Delivery adds {n}."), fmt=money),
        percent_stage("bulk", "total", "total", "percent_off", "bulk_total",
                      ("Because {pron} buys several, {pron} gets {p}% off the total.",), (5, 10, 15, 20)),
        _change_stage("change_one", "price"),
        _change_stage("change_all", "total"),
    ),
    questions={
        "price": ask(("How much does {name} pay for the {item}?", "What is the final price of the {item}?")),
        "total": ask(("How much does {name} pay in total?", "How much does {name} spend altogether?")),
        "change": ask(("How much change does {name} get?", "How much money does {name} get back?")),
    },
)
# fmt: on

# (place, whole, part noun, part phrase, not-part phrase, sub-part phrase)
_GROUPS = (
    ("A town", "residents", "children", "are children", "are adults", "go to the town school"),
    ("A school", "students", "choir members", "sing in the choir", "do not sing in the choir", "sing solos"),
    ("A company", "employees", "remote workers", "work from home", "work at the office", "live in another city"),
    ("A sports club", "members", "junior members", "are under 18", "are 18 or older", "play in the junior league"),
    ("A library", "books", "novels", "are novels", "are not novels", "are borrowed this month"),
)


def _setup_group(chain: Chain) -> None:
    place, noun, group, is_group, not_group, sub = chain.rng.choice(_GROUPS)
    chain.ctx.update(
        place=place,
        place_the="the" + place[place.index(" ") :],
        noun=noun,
        group=group,
        is_group=is_group,
        not_group=not_group,
        sub=sub,
    )


# fmt: off
POPULATION = Frame(
    "percentage/1",
    NAME,
    setup=_setup_group,
    intros={"count": intro("{noun}", between(400, 20000, 100), ("{place} has {n} {noun}.",
                                                                 "There are {n} {noun} in {place_the}."))},
    stages=(
        percent_stage("grow", "count", "count", "percent_increase", "{noun}_after_growth",
                      ("The next year the number of {noun} grows by {p}%.", "Then the number rises by {p}%.")),
        percent_stage("shrink", "count", "count", "percent_decrease", "{noun}_after_drop",
                      ("Then the number drops by {p}%.", "The following year it falls by {p}%.")),
        percent_stage("grow_again", "count", "count", "percent_increase", "{noun}_later",
                      ("Then it increases by {p}%.",)),
        percent_stage("shrink_again", "count", "count", "percent_decrease", "{noun}_now",
                      ("Later it decreases by {p}%.",)),
        number_stage("join", "count", "count", "add", between(5, 200), "joined", "{noun}_with_new",
                     ("{n} new {noun} are added.", "Then {n} more {noun} join."), fmt=num),
        number_stage("leave", "count", "count", "sub", below(5, 150), "left", "{noun}_remaining",
                     ("{n} {noun} are removed.", "Then {n} {noun} are taken off the list."), fmt=num),
        percent_stage("part", "count", "part", "percent_of", "{noun}_in_group",
                      ("{p}% of the {noun} {is_group}.", "Of these {noun}, {p}% {is_group}.")),
        _rest_stage("rest", "part", "rest", "not_in_group"),
        percent_stage("sub_part", "part", "sub_part", "percent_of", "sub_group",
                      ("{p}% of the {group} {sub}.", "Of the {group}, {p}% {sub}.")),
    ),
    questions={
        "count": ask(("How many {noun} are there now?", "How many {noun} does {place_the} have at the end?")),
        "part": ask(("How many {noun} {is_group}?", "How many {group} are there?")),
        "rest": ask(("How many {noun} {not_group}?",)),
        "sub_part": ask(("How many {group} {sub}?",)),
    },
)
# fmt: on


# fmt: off
SALARY = Frame(
    "percentage/2",
    NAME,
    setup=_setup_person,
    places=2,
    intros={"pay": intro("salary", between(1000, 8000, 100), ("{name} earns {n} a month.",
                                                              "{name}'s monthly salary is {n}."), fmt=money)},
    stages=(
        percent_stage("raise", "pay", "pay", "percent_increase", "new_salary",
                      ("{pron} gets a {p}% raise.", "{poss} pay goes up by {p}%."), (2, 4, 5, 8, 10, 12, 15, 20)),
        percent_stage("tax", "pay", "pay", "percent_decrease", "after_tax",
                      ("{p}% of the pay is taken out for taxes.", "After taxes of {p}%, the rest is paid out."),
                      (10, 12, 15, 20, 25, 30)),
        number_stage("bonus", "pay", "pay", "add", between(50, 500, 10), "bonus", "with_bonus",
                     ("{pron} also gets a {n} bonus.", "A side job adds {n}."), fmt=money),
        part_stage("rent", "pay", "rent", "after_rent",
                   ("{pron} pays {p}% of that for rent.", "Rent takes {p}% of that money."), (20, 25, 30, 35, 40)),
        part_stage("food", "pay", "food", "after_food",
                   ("{pron} spends {p}% of what is left on food.", "{p}% of the remaining money goes to groceries."),
                   (10, 15, 20, 25)),
        percent_stage("savings", "pay", "savings", "percent_of", "savings",
                      ("{pron} saves {p}% of that money.", "{pron} puts {p}% of it into savings."),
                      (10, 20, 25, 40, 50)),
        number_stage("months", "savings", "saved", "mul", between(2, 12), "months", "total_savings",
                     ("{pron} does this for {n} months.", "{pron} keeps this up for {n} months.")),
    ),
    questions={
        "pay": ask(("How much money does {name} have each month after all of this?",
                    "How much is left for {name} each month?")),
        "savings": ask(("How much does {name} save each month?",)),
        "saved": ask(("How much does {name} save in total?",)),
    },
)
# fmt: on


def _split_stage() -> Stage:
    def run(chain: Chain) -> str:
        people_count = pick_divisor(chain.rng, chain.value * 100, 2, 6)
        chain.apply("div", "people", people_count, "each_pays")
        return chain.say(
            ("They split the bill equally among {n} people.", "The {n} friends share the bill equally."),
            n=num(people_count),
        )

    return Stage("split", "bill", "share", run)


# fmt: off
RESTAURANT = Frame(
    "percentage/3",
    NAME,
    setup=_setup_person,
    places=2,
    intros={"bill": intro("meal", between(12, 160), ("{name}'s dinner with friends costs {n}.",
                                                     "The food for {name}'s table comes to {n}."), fmt=money)},
    stages=(
        number_stage("dessert", "bill", "bill", "add", between(4, 25), "dessert", "with_dessert",
                     ("They also order dessert for {n}.", "Dessert adds {n}."), fmt=money),
        number_stage("drinks", "bill", "bill", "add", between(3, 30), "drinks", "with_drinks",
                     ("Drinks cost another {n}.", "They also pay {n} for drinks."), fmt=money),
        percent_stage("discount", "bill", "bill", "percent_off", "after_discount",
                      ("They have a coupon for {p}% off.", "The restaurant gives them {p}% off."), (10, 15, 20, 25)),
        percent_stage("tax", "bill", "bill", "percent_increase", "with_tax",
                      ("Tax adds {p}%.", "A {p}% tax is added."), (5, 8, 10)),
        percent_stage("service", "bill", "bill", "percent_increase", "with_service",
                      ("A {p}% service charge is added.",), (5, 10, 12)),
        percent_stage("tip", "bill", "bill", "percent_increase", "with_tip",
                      ("They leave a {p}% tip on top.", "{name} adds a {p}% tip."), (10, 15, 18, 20, 25)),
        percent_stage("tip_only", "bill", "tip", "percent_of", "tip",
                      ("{name} wants to leave a {p}% tip.",), (10, 15, 18, 20, 25)),
        _split_stage(),
        number_stage("parking", "share", "share", "add", between(2, 10), "parking", "each_total",
                     ("Each of them also pays {n} for parking.",), fmt=money),
    ),
    questions={
        "bill": ask(("How much is the bill in the end?", "How much do they pay in total?")),
        "tip": ask(("How much is the tip?",)),
        "share": ask(("How much does each person pay?",)),
    },
)
# fmt: on


def _setup_stock(chain: Chain) -> None:
    chain.ctx["items"], chain.ctx["item"] = chain.rng.choice(
        [("shirts", "shirt"), ("toys", "toy"), ("mugs", "mug"), ("hats", "hat"), ("books", "book"), ("pens", "pen")]
    )


# fmt: off
INVENTORY = Frame(
    "percentage/4",
    NAME,
    setup=_setup_stock,
    intros={"stock": intro("{items}", between(100, 2000, 20), ("A store has {n} {items}.",
                                                               "A warehouse holds {n} {items}."))},
    stages=(
        percent_stage("monday", "stock", "stock", "percent_decrease", "after_monday",
                      ("In the first week it sells {p}% of them.", "{p}% of them are sold in the first week.")),
        part_stage("tuesday", "stock", "sold_tuesday", "after_tuesday",
                   ("Later it sells {p}% of the remaining {items}.", "Then {p}% of what is left is sold.")),
        percent_stage("restock", "stock", "stock", "percent_increase", "after_restock",
                      ("A delivery increases the stock by {p}%.", "New stock raises the number by {p}%.")),
        number_stage("damaged", "stock", "stock", "sub", below(2, 40), "damaged", "undamaged",
                     ("{n} {items} are damaged and thrown away.", "{n} {items} are returned to the maker."), fmt=num),
        number_stage("delivery", "stock", "stock", "add", between(10, 200), "delivered", "with_delivery",
                     ("{n} more {items} arrive.", "Then {n} {items} are delivered."), fmt=num),
        number_stage("price", "stock", "value", "mul", between(2, 40), "price", "stock_value",
                     ("Each {item} sells for {n}.", "The {items} are priced at {n} each."), fmt=money),
        percent_stage("clearance", "value", "value", "percent_off", "clearance_value",
                      ("At a clearance sale, all of them are sold at {p}% off.",), (10, 20, 25, 50)),
    ),
    questions={
        "stock": ask(("How many {items} are left?", "How many {items} does it have now?")),
        "value": ask(("How much money does the store get for them?", "How much are they worth in total?")),
    },
)
# fmt: on

FRAMES = (SHOP, POPULATION, SALARY, RESTAURANT, INVENTORY)
generate = frame_generator(
    FRAMES, accept=lambda example: any(_FACTORS.keys() & step.keys() for step in example.trace["trace"])
)
generate.__doc__ = "A percentage word problem whose trace has `operations` non-init steps."

EXPERT = Expert(
    name=NAME,
    description="discounts, increases, decreases and percent-of",
    allowed_steps=frozenset({"init", "compute", "formula", "query"} | {step.name for step in PERCENT_STEPS}),
    generator=generate,
    templates=tuple(frame.template for frame in FRAMES),
)
