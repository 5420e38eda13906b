"""rate_equation: rates, speeds, prices per unit and work, through formulas."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from trace_solver.experts._phrasing import (
    Chain,
    Frame,
    Pick,
    Retry,
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

NAME = "rate_equation"


def formula_stage(
    name: str,
    unit_in: str,
    unit_out: str,
    var: str,
    pick: Pick,
    result: str,
    expression: str,
    phrases: tuple[str, ...],
    fmt: Callable[[int], str] = num,
) -> Stage:
    """A sentence bringing one number: init it as `var`, then a formula over it ({v}) and the current value ({cur})."""

    def run(chain: Chain) -> str:
        value = pick(chain)
        new = chain.b.init(var.format(**chain.ctx), value)
        chain.cur = chain.b.formula(result.format(**chain.ctx), expression.format(cur=chain.cur, v=new))
        return chain.say(phrases, n=fmt(value))

    return Stage(name, unit_in, unit_out, run)


def _product_leg(
    name: str,
    unit: str,
    first: str,
    second: str,
    part: str,
    total: str,
    phrases: tuple[str, ...],
    a_range: tuple[int, int],
    b_range: tuple[int, int],
    fmt_a=num,
    fmt_b=num,
) -> Stage:
    """Two new numbers multiplied by a formula, then added to the current quantity: two operations."""

    def run(chain: Chain) -> str:
        a, b = chain.rng.randint(*a_range), chain.rng.randint(*b_range)
        va, vb = chain.b.init(first, a), chain.b.init(second, b)
        leg = chain.b.formula(part, f"{va} * {vb}")
        chain.cur = chain.b.compute("add", [chain.cur, leg], total)
        return chain.say(phrases, a=fmt_a(a), b=fmt_b(b))

    return Stage(name, unit, unit, run, ops=2)


def _above(step: int, low: int, high: int) -> Pick:
    """A round number above the current quantity (a whole trip, a bill)."""

    def pick(chain: Chain) -> int:
        start = (int(chain.value) // step + 1) * step
        return chain.rng.randrange(start + low, start + high, step)

    return pick


def _setup_travel(chain: Chain) -> None:
    chain.ctx["vehicle"], chain.ctx["unit"], chain.ctx["fuel"] = chain.rng.choice(
        [
            ("a car", "miles", "gallon"),
            ("a truck", "miles", "gallon"),
            ("a bus", "kilometers", "liter"),
            ("a van", "kilometers", "liter"),
            ("a motorbike", "miles", "gallon"),
        ]
    )
    chain.ctx["kind"] = chain.ctx["vehicle"].split()[-1]


# fmt: off
TRAVEL = Frame(
    "rate_equation/0",
    NAME,
    setup=_setup_travel,
    intros={
        "speed": intro("speed", between(30, 80, 5), ("{vehicle} travels at {n} {unit} per hour.",
                                                     "{vehicle} drives at a steady {n} {unit} per hour.")),
        "time": intro("hours", between(2, 9), ("{vehicle} is on the road for {n} hours.",
                                               "{vehicle} drives for {n} hours.")),
    },
    stages=(
        formula_stage("speed_up", "speed", "speed", "increase", between(5, 20, 5), "new_speed", "{cur} + {v}",
                      ("On the highway it goes {n} {unit} per hour faster.",)),
        formula_stage("hours", "speed", "distance", "hours", between(2, 9), "distance", "{cur} * {v}",
                      ("It drives for {n} hours.", "The trip takes {n} hours.")),
        formula_stage("at_speed", "time", "distance", "speed", between(30, 80, 5), "distance", "{v} * {cur}",
                      ("Its speed is {n} {unit} per hour.", "It keeps a speed of {n} {unit} per hour.")),
        _product_leg("second_leg", "distance", "speed_2", "hours_2", "second_leg", "total_distance",
                     ("Then it drives at {a} {unit} per hour for {b} more hours.",), (20, 70), (1, 5)),
        number_stage("extra", "distance", "distance", "add", between(5, 60), "extra_distance", "total_distance",
                     ("Then it goes another {n} {unit} in town.", "A detour adds {n} {unit}.")),
        number_stage("remaining", "distance", "remaining", "sub", _above(50, 0, 300), "trip_length", "remaining",
                     ("The whole trip is {n} {unit} long.", "The destination is {n} {unit} away from the start."),
                     first=True),
        formula_stage("fuel", "distance", "fuel", "per_unit_fuel", divisor(8, 40), "fuel", "{cur} / {v}",
                      ("It uses 1 {fuel} of fuel for every {n} {unit}.",)),
        formula_stage("fuel_cost", "fuel", "cost", "fuel_price", between(2, 6), "fuel_cost", "{cur} * {v}",
                      ("Fuel costs {n} per {fuel}.", "One {fuel} of fuel costs {n}."), fmt=money),
        number_stage("tolls", "cost", "cost", "add", between(3, 30), "tolls", "trip_cost",
                     ("Tolls cost another {n}.", "Parking adds {n}."), fmt=money),
        formula_stage("share", "cost", "share", "people", divisor(2, 5), "each_pays", "{cur} / {v}",
                      ("The {n} people on board share the cost equally.",)),
    ),
    questions={
        "distance": ask(("How many {unit} does it travel?", "How far does the {kind} go, in {unit}?")),
        "remaining": ask(("How many {unit} are left to go?", "How many more {unit} must it travel?")),
        "fuel": ask(("How many {fuel}s of fuel does it use?",)),
        "cost": ask(("How much does the trip cost?", "How many dollars are spent on the trip?")),
        "share": ask(("How much does each person pay?",)),
    },
)
# fmt: on


def _setup_buyer(chain: Chain) -> None:
    person = people(chain.rng, 1)[0]
    (chain.ctx["items"], chain.ctx["item"]), (chain.ctx["others"], chain.ctx["other"]) = chain.rng.sample(
        [
            ("notebooks", "notebook"),
            ("pens", "pen"),
            ("apples", "apple"),
            ("tickets", "ticket"),
            ("candles", "candle"),
            ("mugs", "mug"),
            ("towels", "towel"),
            ("batteries", "battery"),
        ],
        2,
    )
    chain.ctx.update(name=person.name, pron=person.subject, poss=person.possessive)


def _lot(chain: Chain) -> str:
    count, price = chain.rng.randint(2, 12), chain.rng.choice([1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 2.5, 1.5, 0.5])
    cost = Fraction(str(price)) * count
    chain.ctx["count"] = chain.b.init("{items}".format(**chain.ctx), count)
    chain.cur = chain.b.init("cost", cost)
    return chain.say(("{c} {items} cost {m}.", "A pack of {c} {items} costs {m}."), c=num(count), m=money(cost))


def _unit_price(chain: Chain) -> str:
    chain.cur = chain.b.formula("unit_price", f"{chain.cur} / {chain.ctx['count']}")
    return ""


def _afford(chain: Chain) -> str:
    amount = chain.value * chain.rng.randint(2, 20)
    budget = chain.b.init("budget", amount)
    chain.cur = chain.b.formula("can_buy", f"{budget} / {chain.cur}")
    return chain.say(("{name} has {m} to spend.", "{name} brings {m}."), m=money(amount))


# fmt: off
UNIT_PRICE = Frame(
    "rate_equation/1",
    NAME,
    setup=_setup_buyer,
    places=2,
    intros={
        "lot": _lot,
        "unit": intro("unit_price", between(2, 30), ("Each {item} costs {n}.", "One {item} sells for {n}."), fmt=money),
    },
    stages=(
        Stage("unit_price", "lot", "unit", _unit_price),
        formula_stage("price_up", "unit", "unit", "increase", between(1, 5), "new_price", "{cur} + {v}",
                      ("Then the price of each {item} goes up by {n}.",), fmt=money),
        formula_stage("buy", "unit", "total", "quantity", between(2, 15), "total", "{cur} * {v}",
                      ("{name} buys {n} {items}.", "{name} needs {n} {items} for a party.")),
        _product_leg("other", "total", "other_count", "other_price", "other_cost",
                     "total_cost", ("{pron} also buys {a} {others} at {b} each.",), (2, 9), (1, 9), fmt_b=money),
        number_stage("delivery", "total", "total", "add", between(3, 15), "delivery", "with_delivery",
                     ("Delivery costs {n}.", "{pron} pays {n} for delivery."), fmt=money),
        number_stage("coupon", "total", "total", "sub", below(2, 10), "coupon", "after_coupon",
                     ("{pron} has a coupon for {n} off.",), fmt=money),
        number_stage("change", "total", "change", "sub", _above(10, 0, 50), "paid", "change",
                     ("{pron} pays with {n}.", "{name} hands over {n}."), fmt=money, first=True),
        formula_stage("split", "total", "share", "people", between(2, 5), "each_pays", "{cur} / {v}",
                      ("{name} and friends, {n} people in all, split the cost equally.",)),
        Stage("afford", "unit", "afford", _afford),
    ),
    questions={
        "unit": ask(("How much does one {item} cost?", "What is the price of each {item}?")),
        "total": ask(("How much does {name} pay?", "How much does {name} spend in all?")),
        "change": ask(("How much change does {name} get?",)),
        "share": ask(("How much does each person pay?",)),
        "afford": ask(("How many {items} can {pron} buy?",)),
    },
)
# fmt: on


def _setup_machine(chain: Chain) -> None:
    chain.ctx["machine"], chain.ctx["items"] = chain.rng.choice(
        [
            ("a machine", "bottles"),
            ("a printer", "pages"),
            ("an oven", "loaves"),
            ("a robot", "parts"),
            ("a loom", "scarves"),
            ("a press", "books"),
        ]
    )


def _time_needed(chain: Chain) -> str:
    amount = chain.value * chain.rng.randint(2, 12)
    order = chain.b.init("order", amount)
    chain.cur = chain.b.formula("hours_needed", f"{order} / {chain.cur}")
    return chain.say(("An order needs {n} {items}.", "A customer orders {n} {items}."), n=num(amount))


# fmt: off
PRODUCTION = Frame(
    "rate_equation/2",
    NAME,
    setup=_setup_machine,
    intros={"rate": intro("rate", between(10, 120, 5), ("{machine} makes {n} {items} per hour.",
                                                        "{machine} produces {n} {items} every hour."))},
    stages=(
        formula_stage("second", "rate", "rate", "second_rate", between(10, 100, 5), "combined_rate", "{cur} + {v}",
                      ("A second one makes {n} {items} per hour, and both run together.",)),
        formula_stage("upgrade", "rate", "rate", "speedup", between(5, 30, 5), "faster_rate", "{cur} + {v}",
                      ("After an upgrade, the output grows by {n} {items} per hour.",)),
        formula_stage("hours", "rate", "daily", "hours", between(3, 12), "per_day", "{cur} * {v}",
                      ("It runs {n} hours a day.", "It works {n} hours each day.")),
        number_stage("night_shift", "daily", "daily", "add", between(10, 200, 10), "night_shift", "daily_total",
                     ("A night shift adds {n} more {items} each day.",)),
        formula_stage("days", "daily", "total", "days", between(2, 14), "total", "{cur} * {v}",
                      ("This goes on for {n} days.", "It works like this for {n} days.")),
        number_stage("defective", "total", "total", "sub", below(2, 50), "defective", "good",
                     ("{n} of the {items} are defective.", "{n} {items} fail the quality check.")),
        formula_stage("boxes", "total", "boxes", "box_size", divisor(4, 50), "boxes", "{cur} / {v}",
                      ("The {items} are packed in boxes of {n}.",)),
        formula_stage("box_price", "boxes", "money", "box_price", between(5, 40), "revenue", "{cur} * {v}",
                      ("Each box sells for {n}.",), fmt=money),
        Stage("time_needed", "rate", "hours_needed", _time_needed),
    ),
    questions={
        "rate": ask(("How many {items} are made per hour?",)),
        "daily": ask(("How many {items} are made each day?",)),
        "total": ask(("How many {items} are made in all?", "How many {items} are there at the end?")),
        "boxes": ask(("How many boxes are filled?",)),
        "money": ask(("How much money do the boxes bring in?",)),
        "hours_needed": ask(("How many hours will the order take?",)),
    },
)
# fmt: on


def _setup_worker(chain: Chain) -> None:
    person = people(chain.rng, 1)[0]
    chain.ctx.update(name=person.name, pron=person.subject, poss=person.possessive)


def _goal(chain: Chain) -> str:
    amount = chain.value * chain.rng.randint(2, 10)
    goal = chain.b.init("goal", amount)
    chain.cur = chain.b.formula("weeks_needed", f"{goal} / {chain.cur}")
    return chain.say(("{name} wants to save {m} and keeps all of it.",), m=money(amount))


# fmt: off
WAGES = Frame(
    "rate_equation/3",
    NAME,
    setup=_setup_worker,
    intros={"wage": intro("wage", between(8, 40), ("{name} earns {n} per hour.", "{name} is paid {n} an hour."),
                          fmt=money)},
    stages=(
        formula_stage("raise", "wage", "wage", "raise", between(1, 5), "new_wage", "{cur} + {v}",
                      ("{pron} gets a raise of {n} per hour.",), fmt=money),
        formula_stage("hours", "wage", "daily", "hours", between(3, 10), "daily_pay", "{cur} * {v}",
                      ("{pron} works {n} hours a day.",)),
        _product_leg("overtime", "daily", "overtime_hours", "overtime_wage", "overtime_pay", "daily_total",
                     ("{pron} also works {a} hours of overtime a day at {b} per hour.",), (1, 3), (10, 50),
                     fmt_b=money),
        formula_stage("days", "daily", "weekly", "days", between(2, 6), "weekly_pay", "{cur} * {v}",
                      ("{pron} works {n} days a week.",)),
        number_stage("tips", "weekly", "weekly", "add", between(10, 120), "tips", "weekly_total",
                     ("{pron} also gets {n} in tips each week.",), fmt=money),
        number_stage("travel", "weekly", "weekly", "sub", below(5, 60), "travel", "weekly_left",
                     ("{pron} spends {n} a week on the bus.",), fmt=money),
        formula_stage("weeks", "weekly", "total", "weeks", between(2, 12), "total_pay", "{cur} * {v}",
                      ("{pron} works like this for {n} weeks.",)),
        Stage("goal", "weekly", "weeks_needed", _goal),
    ),
    questions={
        "daily": ask(("How much does {name} earn per day?",)),
        "weekly": ask(("How much does {name} have each week?", "How much money does {name} get per week?")),
        "total": ask(("How much does {name} earn in all?",)),
        "weeks_needed": ask(("How many weeks does {name} need?",)),
    },
)
# fmt: on


def _setup_tank(chain: Chain) -> None:
    chain.ctx["tank"], chain.ctx["unit"] = chain.rng.choice(
        [("a tank", "liters"), ("a pool", "gallons"), ("a water tower", "liters"), ("a pond", "gallons")]
    )


def _fill(kind: str) -> Stage:
    """Minutes to fill the current amount: one pump (1 op), a pump and a leak (2 ops) or two pumps (2 ops)."""

    def run(chain: Chain) -> str:
        net = divisor(5, 60)(chain)
        if kind == "one":
            pump = chain.b.init("pump_rate", net)
            chain.cur = chain.b.formula("minutes", f"{chain.cur} / {pump}")
            return chain.say(("A pump fills it at {n} {unit} per minute.",), n=num(net))
        if kind == "leak":
            leak = chain.rng.randint(1, 10)
            pump, lost = chain.b.init("pump_rate", net + leak), chain.b.init("leak_rate", leak)
            rate = chain.b.formula("net_rate", f"{pump} - {lost}")
            text = ("A pump adds {a} {unit} per minute, but a leak loses {b} {unit} per minute.",)
            chain.cur = chain.b.formula("minutes", f"{chain.cur} / {rate}")
            return chain.say(text, a=num(net + leak), b=num(leak))
        if net < 2:
            raise Retry
        first = chain.rng.randint(1, net - 1)
        one, two = chain.b.init("pump_1", first), chain.b.init("pump_2", net - first)
        rate = chain.b.formula("combined_rate", f"{one} + {two}")
        chain.cur = chain.b.formula("minutes", f"{chain.cur} / {rate}")
        return chain.say(
            ("Two pumps fill it together, one at {a} and one at {b} {unit} per minute.",),
            a=num(first),
            b=num(net - first),
        )

    return Stage(f"fill_{kind}", "amount", "minutes", run, ops=1 if kind == "one" else 2)


# fmt: off
TANK = Frame(
    "rate_equation/4",
    NAME,
    setup=_setup_tank,
    places=2,
    intros={"amount": intro("capacity", between(100, 3000, 20), ("{tank} holds {n} {unit}.",
                                                                  "{tank} can hold {n} {unit} of water."))},
    stages=(
        number_stage("already", "amount", "amount", "sub", below(10, 500), "already_in", "to_fill",
                     ("It already has {n} {unit} in it.", "There are already {n} {unit} inside.")),
        number_stage("second", "amount", "amount", "add", between(20, 400, 10), "second_tank", "total_to_fill",
                     ("A smaller one next to it needs {n} {unit} too, filled by the same pumps.",)),
        _fill("one"),
        _fill("leak"),
        _fill("two"),
        formula_stage("times", "minutes", "monthly", "fills", between(2, 6), "monthly_minutes", "{cur} * {v}",
                      ("It is filled from this level {n} times a month.",)),
        formula_stage("cost", "monthly", "cost", "price_per_minute", between(1, 3), "cost", "{cur} * {v}",
                      ("Running the pumps costs {n} per minute.",), fmt=money),
        number_stage("fee", "cost", "cost", "add", between(5, 40), "fee", "total_cost",
                     ("There is also a monthly fee of {n}.",), fmt=money),
        formula_stage("share", "cost", "share", "families", divisor(2, 6), "each_pays", "{cur} / {v}",
                      ("{n} families share the cost equally.",)),
    ),
    questions={
        "minutes": ask(("How many minutes does it take to fill?", "How long does filling take, in minutes?")),
        "monthly": ask(("How many minutes do the pumps run each month?",)),
        "cost": ask(("How much does it cost per month?",)),
        "share": ask(("How much does each family pay?",)),
    },
)
# fmt: on

FRAMES = (TRAVEL, UNIT_PRICE, PRODUCTION, WAGES, TANK)
generate = frame_generator(FRAMES)
generate.__doc__ = "A rate_equation word problem whose trace has `operations` formula/compute steps."

EXPERT = Expert(
    name=NAME,
    description="rates, speeds, unit prices and work, through formulas",
    allowed_steps=frozenset({"init", "formula", "compute", "query"}),
    generator=generate,
    templates=tuple(frame.template for frame in FRAMES),
)
