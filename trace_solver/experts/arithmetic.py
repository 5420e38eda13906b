"""arithmetic: plain chains of operations on numbers from the question (init, compute, query)."""

from __future__ import annotations

import random

from trace_solver.experts._phrasing import (
    Chain,
    Frame,
    Stage,
    ask,
    below,
    between,
    divisor,
    frame_generator,
    intro,
    money,
    num,
    number_stage,
    people,
)
from trace_solver.experts.base import Expert

NAME = "arithmetic"


def _add_three(name: str, unit: str, result: str, phrases: tuple[str, ...], low: int, high: int, fmt=num) -> Stage:
    """Three new numbers added to the current quantity in one compute (add with four args)."""

    def run(chain: Chain) -> str:
        values = [chain.rng.randint(low, high) for _ in range(3)]
        names = [chain.b.init(f"{result}_{i}", v) for i, v in enumerate(values, 1)]
        chain.cur = chain.b.compute("add", [chain.cur, *names], f"total_{result}")
        return chain.say(phrases, a=fmt(values[0]), b=fmt(values[1]), c=fmt(values[2]))

    return Stage(name, unit, unit, run)


def _setup_bakery(chain: Chain) -> None:
    chain.ctx["items"] = chain.rng.choice(["cookies", "muffins", "bagels", "cupcakes", "rolls", "donuts"])


# fmt: off
BAKERY = Frame(
    "arithmetic/0",
    NAME,
    setup=_setup_bakery,
    intros={
        "trays": intro("trays", between(3, 15), ["A bakery bakes {n} trays of {items} in the morning.",
                                                  "In the morning, a bakery fills {n} trays with {items}."]),
        "items": intro("{items}", between(40, 300), ["A bakery bakes {n} {items} in the morning.",
                                                     "A baker makes {n} {items} before the shop opens."]),
    },
    stages=(
        number_stage("more_trays", "trays", "trays", "add", between(2, 9), "more_trays", "total_trays",
                     ["In the afternoon it bakes {n} more trays.", "Later the baker fills another {n} trays."]),
        number_stage("per_tray", "trays", "items", "mul", between(6, 24), "per_tray", "{items}",
                     ["Each tray holds {n} {items}.", "There are {n} {items} on every tray."]),
        number_stage("burnt", "items", "items", "sub", below(2, 30), "burnt", "{items}_left",
                     ["{n} of the {items} are burnt and thrown away.", "Then {n} {items} fall on the floor."]),
        _add_three("batches", "items", "batch",
                   ["Then the baker makes three small batches of {a}, {b} and {c} {items}.",
                    "Over the next hours {a}, {b} and {c} more {items} come out of the oven."], 5, 40),
        number_stage("bags", "items", "bags", "div", divisor(2, 12), "per_bag", "bags",
                     ["The {items} are packed into bags of {n}.",
                      "The baker puts the {items} in bags, {n} in each bag."]),
        number_stage("donated", "bags", "bags", "sub", below(2, 10), "donated_bags", "bags_left",
                     ["{n} bags are given to a shelter.", "The bakery donates {n} of the bags to a school."]),
        number_stage("price", "bags", "dollars", "mul", between(2, 9), "price_per_bag", "revenue",
                     ["Each bag sells for {n}.", "The bakery sells every bag for {n}."], fmt=money),
        number_stage("costs", "dollars", "dollars", "sub", below(5, 120), "costs", "profit",
                     ["The ingredients cost {n}.", "The bakery spends {n} on flour and sugar."], fmt=money),
        number_stage("tips", "dollars", "dollars", "add", between(3, 40), "tips", "total_money",
                     ["Customers also leave {n} in tips.", "It also earns {n} from selling coffee."], fmt=money),
        number_stage("share", "dollars", "share", "div", divisor(2, 8), "workers", "share",
                     ["The money is split equally among {n} workers.", "The {n} workers share the money equally."]),
    ),
    questions={
        "trays": ask(["How many trays does the bakery bake in all?", "How many trays are filled in total?"]),
        "items": ask(["How many {items} are there now?", "How many {items} does the bakery have at the end?"]),
        "bags": ask(["How many bags of {items} are there?", "How many bags does the bakery have?"]),
        "dollars": ask(["How many dollars does the bakery end up with?", "How much money does the bakery have?"]),
        "share": ask(["How many dollars does each worker get?", "How much money does each worker receive?"]),
    },
)
# fmt: on


def _setup_orchard(chain: Chain) -> None:
    chain.ctx["fruit"], chain.ctx["tree"] = chain.rng.choice(
        [("apples", "apple"), ("pears", "pear"), ("peaches", "peach"), ("plums", "plum"), ("lemons", "lemon")]
    )
    chain.ctx["farmer"] = chain.rng.choice(["A farmer", "An orchard owner", "A grower"])


# fmt: off
ORCHARD = Frame(
    "arithmetic/1",
    NAME,
    setup=_setup_orchard,
    intros={
        "rows": intro("rows", between(3, 12), ["{farmer} has {n} rows of {tree} trees.",
                                               "{farmer} plants {tree} trees in {n} rows."]),
        "trees": intro("trees", between(20, 90), ["{farmer} has {n} {tree} trees.",
                                                  "There are {n} {tree} trees in an orchard."]),
    },
    stages=(
        number_stage("per_row", "rows", "trees", "mul", between(4, 15), "trees_per_row", "trees",
                     ["Each row has {n} trees.", "There are {n} trees in every row."]),
        number_stage("planted", "trees", "trees", "add", between(2, 20), "new_trees", "total_trees",
                     ["Then {n} more trees are planted.", "The next spring {n} new trees are added."]),
        number_stage("cut", "trees", "trees", "sub", below(2, 12), "dead_trees", "healthy_trees",
                     ["{n} trees die in a storm.", "Then {n} of the trees get sick and are cut down."]),
        number_stage("per_tree", "trees", "fruit", "mul", between(10, 60), "per_tree", "{fruit}",
                     ["Each tree gives {n} {fruit}.", "Every tree produces {n} {fruit} this year."]),
        number_stage("rotten", "fruit", "fruit", "sub", below(3, 60), "rotten", "good_{fruit}",
                     ["{n} of the {fruit} are rotten.", "Birds eat {n} of the {fruit}."]),
        _add_three("extra", "fruit", "picked",
                   ["Three neighbours bring {a}, {b} and {c} more {fruit}.",
                    "Then {a}, {b} and {c} {fruit} are picked from three wild trees."], 5, 50),
        number_stage("baskets", "fruit", "baskets", "div", divisor(4, 25), "per_basket", "baskets",
                     ["The {fruit} are packed into baskets of {n}.", "Every basket holds {n} {fruit}."]),
        number_stage("kept", "baskets", "baskets", "sub", below(2, 6), "kept", "baskets_sold",
                     ["The family keeps {n} baskets.", "{n} baskets are kept for the family."]),
        number_stage("basket_price", "baskets", "dollars", "mul", between(5, 30), "basket_price", "income",
                     ["Each basket sells for {n}.", "A basket is sold for {n}."], fmt=money),
        number_stage("transport", "dollars", "dollars", "sub", below(10, 200), "transport", "income_left",
                     ["Transport to the market costs {n}.", "The market stall costs {n}."], fmt=money),
        number_stage("helpers", "dollars", "share", "div", divisor(2, 6), "helpers", "share",
                     ["The money is shared equally by {n} helpers.", "{n} helpers split the money equally."]),
    ),
    questions={
        "trees": ask(["How many trees are in the orchard now?", "How many {tree} trees are there?"]),
        "fruit": ask(["How many {fruit} are there?", "How many {fruit} does the farm have?"]),
        "baskets": ask(["How many baskets are there?", "How many baskets of {fruit} are there?"]),
        "dollars": ask(["How many dollars are left?", "How much money does the farm make?"]),
        "share": ask(["How many dollars does each helper get?", "How much does each helper receive?"]),
    },
)
# fmt: on

# fmt: off
SCHOOL_TRIP = Frame(
    "arithmetic/2",
    NAME,
    intros={
        "classes": intro("classes", between(2, 9), ["A school sends {n} classes on a trip to the museum.",
                                                    "{n} classes go on a school trip."]),
        "students": intro("students", between(30, 240), ["{n} students sign up for a school trip.",
                                                         "A school trip has {n} students on the list."]),
    },
    stages=(
        number_stage("per_class", "classes", "students", "mul", between(18, 32), "per_class", "students",
                     ["Each class has {n} students.", "There are {n} students in every class."]),
        number_stage("sick", "students", "students", "sub", below(2, 15), "sick", "students_going",
                     ["{n} students are sick and stay home.", "On the day, {n} students do not come."]),
        number_stage("late_signups", "students", "students", "add", between(2, 20), "late_signups", "all_students",
                     ["{n} more students sign up late.", "Another {n} students join from a second school."]),
        number_stage("buses", "students", "buses", "div", divisor(10, 50), "seats", "buses",
                     ["They ride in buses with {n} seats each, and every seat is taken.",
                      "Each bus carries {n} students and all buses are full."]),
        number_stage("bus_cost", "buses", "dollars", "mul", between(80, 400, 10), "bus_cost", "bus_total",
                     ["Each bus costs {n} to rent.", "Renting one bus costs {n}."], fmt=money),
        number_stage("ticket", "students", "dollars", "mul", between(3, 25), "ticket", "ticket_total",
                     ["A museum ticket costs {n} per student.", "Each student needs a {n} ticket."], fmt=money),
        number_stage("lunch", "dollars", "dollars", "add", between(20, 300), "lunch", "total_cost",
                     ["The school also pays {n} for lunch.", "Snacks for the trip cost another {n}."], fmt=money),
        number_stage("grant", "dollars", "dollars", "sub", below(10, 200), "grant", "cost_left",
                     ["A local club donates {n} toward the cost.", "The school gets a {n} grant for the trip."],
                     fmt=money),
        number_stage("months", "dollars", "share", "div", divisor(2, 12), "months", "per_month",
                     ["The school pays it off in {n} equal monthly parts.",
                      "The cost is paid in {n} equal installments."]),
    ),
    questions={
        "students": ask(["How many students go on the trip?", "How many students are on the trip?"]),
        "buses": ask(["How many buses are needed?", "How many buses do they use?"]),
        "dollars": ask(["How much money does the trip cost?", "How many dollars does the school pay?"]),
        "share": ask(["How much is each payment?", "How many dollars is each part?"]),
    },
)
# fmt: on


def _setup_shopping(chain: Chain) -> None:
    person = people(chain.rng, 1)[0]
    item, price_range = chain.rng.choice(
        [
            ("notebooks", (2, 9)),
            ("packs of pens", (3, 12)),
            ("books", (6, 25)),
            ("shirts", (8, 30)),
            ("toy cars", (3, 15)),
            ("jars of honey", (4, 12)),
            ("plants", (5, 20)),
        ]
    )
    chain.ctx.update(name=person.name, pron=person.subject, poss=person.possessive, items=item, prices=price_range)


def _price(chain: Chain) -> int:
    return chain.rng.randint(*chain.ctx["prices"])


def _change_stage() -> Stage:
    def run(chain: Chain) -> str:
        bill = next(b for b in (20, 50, 100, 200, 500, 1000) if b > chain.value)
        chain.apply("sub", "paid", bill, "change", first=True)
        return chain.say(["{pron} pays with a {n} bill.", "{name} hands the cashier {n}."], n=money(bill))

    return Stage("change", "cost", "change", run)


# fmt: off
SHOPPING = Frame(
    "arithmetic/3",
    NAME,
    setup=_setup_shopping,
    intros={
        "count": intro("{items}", between(2, 12),
                       ["{name} buys {n} {items}.", "{name} picks up {n} {items} at a store."]),
    },
    stages=(
        number_stage("more", "count", "count", "add", between(2, 6), "more_{items}", "total_{items}",
                     ["Then {pron} decides to take {n} more.", "{pron} adds {n} more {items} to the cart."]),
        number_stage("unit_price", "count", "cost", "mul", _price, "price", "cost",
                     ["Each one costs {n}.", "The {items} are {n} each."], fmt=money),
        number_stage("returned", "count", "count", "sub", below(2, 5), "returned", "{items}_kept",
                     ["At the till {pron} puts {n} of them back.", "{pron} returns {n} of them the next day."]),
        number_stage("shipping", "cost", "cost", "add", between(4, 15), "shipping", "cost_with_shipping",
                     ["Delivery costs {n}.", "{pron} pays {n} to have them delivered."], fmt=money),
        number_stage("gift_card", "cost", "cost", "sub", below(5, 25), "gift_card", "cost_after_card",
                     ["{pron} pays part of it with a {n} gift card.", "A {n} gift card covers part of the bill."],
                     fmt=money),
        number_stage("extra", "cost", "cost", "add", between(3, 40), "extra", "cost_with_extra",
                     ["{pron} also buys a bag for {n}.", "{name} also pays {n} for gift wrapping."], fmt=money),
        _add_three("small", "cost", "small_item", ["{pron} also gets three snacks for {a}, {b} and {c}.",
                                                   "At the till {pron} adds items costing {a}, {b} and {c}."], 1, 9,
                   fmt=money),
        number_stage("coupon", "cost", "cost", "sub", below(2, 15), "coupon", "cost_after_coupon",
                     ["{pron} uses a coupon worth {n}.", "A coupon takes {n} off the total."], fmt=money),
        number_stage("split", "cost", "share", "div", divisor(2, 5), "people", "each_pays",
                     ["{name} and friends, {n} people in all, split the cost equally.",
                      "The cost is shared equally by {n} roommates."]),
        _change_stage(),
    ),
    questions={
        "count": ask(["How many {items} does {name} buy?", "How many {items} are in the cart?"]),
        "cost": ask(["How much does {name} spend?", "How many dollars does {name} pay in total?"]),
        "share": ask(["How much does each person pay?", "How many dollars does each person pay?"]),
        "change": ask(["How much change does {name} get?", "How many dollars does {name} get back?"]),
    },
)
# fmt: on


def _setup_factory(chain: Chain) -> None:
    chain.ctx["items"] = chain.rng.choice(["bottles", "cans", "jars", "lamps", "candles", "toys"])


# fmt: off
FACTORY = Frame(
    "arithmetic/4",
    NAME,
    setup=_setup_factory,
    intros={
        "crates": intro("crates", between(4, 40), ["A warehouse receives {n} crates of {items}.",
                                                   "A truck delivers {n} crates of {items} to a shop."]),
        "items": intro("{items}", between(100, 900), ["A warehouse has {n} {items}.",
                                                      "There are {n} {items} in a storeroom."]),
    },
    stages=(
        number_stage("more_crates", "crates", "crates", "add", between(2, 15), "more_crates", "all_crates",
                     ["A second truck brings {n} more crates.", "The next day {n} more crates arrive."]),
        number_stage("returned", "crates", "crates", "sub", below(2, 6), "returned", "crates_kept",
                     ["{n} crates are sent back because they are damaged.", "{n} crates go back to the supplier."]),
        number_stage("per_crate", "crates", "items", "mul", between(6, 48), "per_crate", "{items}",
                     ["Each crate holds {n} {items}.", "There are {n} {items} in every crate."]),
        number_stage("broken", "items", "items", "sub", below(2, 40), "broken", "good_{items}",
                     ["{n} {items} are broken.", "When unpacking, {n} {items} are found cracked and thrown away."]),
        number_stage("stock", "items", "items", "add", between(10, 150), "old_stock", "all_{items}",
                     ["There were already {n} {items} on the shelves.", "The shop also has {n} {items} in stock."]),
        number_stage("packs", "items", "packs", "div", divisor(2, 12), "per_pack", "packs",
                     ["The {items} are sold in packs of {n}.", "They are bundled into packs of {n}."]),
        number_stage("pack_price", "packs", "dollars", "mul", between(3, 20), "pack_price", "sales",
                     ["Each pack sells for {n}.", "A pack costs {n}."], fmt=money),
        number_stage("rent", "dollars", "dollars", "sub", below(20, 500), "rent", "money_left",
                     ["The shop pays {n} in rent.", "Then {n} goes to pay the electricity bill."], fmt=money),
        number_stage("owners", "dollars", "share", "div", divisor(2, 5), "owners", "share",
                     ["The {n} owners share the money equally.", "The money is split equally between {n} owners."]),
    ),
    questions={
        "crates": ask(["How many crates are there?", "How many crates does the shop keep?"]),
        "items": ask(["How many {items} are there?", "How many {items} are ready to sell?"]),
        "packs": ask(["How many packs are there?", "How many packs of {items} can be sold?"]),
        "dollars": ask(["How many dollars are left?", "How much money is there?"]),
        "share": ask(["How much does each owner get?", "How many dollars does each owner receive?"]),
    },
)
# fmt: on

FRAMES = (BAKERY, ORCHARD, SCHOOL_TRIP, SHOPPING, FACTORY)


def generate(rng: random.Random, operations: int):
    """An arithmetic word problem whose trace has `operations` compute steps."""
    return _generate(rng, operations)


_generate = frame_generator(FRAMES)

EXPERT = Expert(
    name=NAME,
    description="chains of operations on the question's numbers",
    allowed_steps=frozenset({"init", "compute", "query"}),
    generator=generate,
    templates=tuple(frame.template for frame in FRAMES),
)
