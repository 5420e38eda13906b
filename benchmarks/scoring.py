"""Scoring throughput: rewards.trace_reward over a batch of realistic completions, against bare YAML parsing.

    python benchmarks/scoring.py [--n 6000] [--repeats 5] [--seed 0]

Builds two batches of N unique completions each, from valid traces of every expert with varied names and numbers
(half from trace_solver.generate, the training data's generators, half from small builders here), about a quarter
broken (truncated, wrong expert, undefined variable, unknown op, division by zero, bad indentation, plain chatter):

    model output  the traces bare, the form a fine-tuned model emits: the evaluation records of the trained models
                  are bare YAML starting with `expert:`
    wrapped       every trace inside a code fence or chatter, the form an untuned chat model may write

Pins itself to one core, then times, side by side and best of --repeats, per batch:

    score      rewards.trace_reward over all completions; outcome and expression caches cleared before every pass
    parse      yaml.load(text, Loader=yaml.CSafeLoader) of the same completion texts (failures caught)
    parse-yaml the same bare parse of the YAML part of each text (trace_solver.extract_yaml), i.e. of what the
               scorer itself parses

and prints completions per second and the ratios score / parse. Targets: >= 3,000 completions/s and
<= 1.5x the bare parse of the same texts, on the model-output batch. On the wrapped batch the bare parse of a whole
text stops at the chatter, before the trace, so only the ratio to its YAML part compares like with like.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from fractions import Fraction

import yaml

import rewards
from rewards.trace import _execute_text
from trace_solver import execute, expert_names, extract_yaml
from trace_solver.expressions import _compile
from trace_solver.numbers import format_number
from trace_solver.serialize import dump_trace

NOUNS = [
    "apples", "books", "cookies", "marbles", "stickers", "pencils", "tickets", "coins", "eggs", "cards", "shells",
    "boxes", "bottles", "candies", "flowers", "stamps", "toys", "rocks", "beads", "cupcakes",
]  # fmt: skip
PEOPLE = ["tom", "mia", "liam", "ava", "noah", "emma", "zoe", "omar", "lena", "raj", "sara", "ben"]
CHATTER_BEFORE = [
    "Here is the trace:\n", "Let me structure this problem.\n\n", "", "Sure! The solver trace is below.\n",
    "I'll break the problem into steps.\n",
]  # fmt: skip
CHATTER_AFTER = ["", "\nThe solver will compute the answer.", "\n\nHope this helps!", "\nDone."]


def _num(rng: random.Random) -> Fraction:
    if rng.random() < 0.2:
        return Fraction(rng.randint(1, 999), 100) + rng.randint(0, 50)
    return Fraction(rng.randint(2, 500))


def _name(rng: random.Random, used: set[str]) -> str:
    while True:
        name = f"{rng.choice(PEOPLE)}_{rng.choice(NOUNS)}" if rng.random() < 0.6 else rng.choice(NOUNS)
        name = name if name not in used else f"{name}_{len(used)}"
        if name not in used:
            used.add(name)
            return name


def _inits(rng: random.Random, used: set[str], k: int) -> tuple[list[dict], list[str]]:
    names = [_name(rng, used) for _ in range(k)]
    return [{"init": n, "value": _num(rng)} for n in names], names


def _arithmetic(rng: random.Random, used: set[str]) -> list[dict]:
    steps, names = _inits(rng, used, rng.randint(2, 4))
    for _ in range(rng.randint(1, 4)):
        var = _name(rng, used)
        op = rng.choice(["add", "sub", "mul", "add", "div"])
        args = rng.sample(names, 2) if rng.random() < 0.7 else [rng.choice(names), rng.randint(2, 12)]
        steps.append({"compute": {"op": op, "args": args, "var": var}})
        names.append(var)
    return steps + [{"query": names[-1]}]


def _entity_track(rng: random.Random, used: set[str]) -> list[dict]:
    people = [f"{p}_{rng.choice(NOUNS)}" for p in rng.sample(PEOPLE, 3)]
    used.update(people)
    steps = [{"init": p, "value": rng.randint(50, 400)} for p in people]
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.5:
            src, dst = rng.sample(people, 2)
            steps.append({"transfer": {"from": src, "to": dst, "amount": rng.randint(1, 20)}})
        else:
            steps.append({"consume": {"from": rng.choice(people), "amount": rng.randint(1, 20)}})
    if rng.random() < 0.5:
        total = _name(rng, used)
        steps.append({"compute": {"op": "add", "args": people, "var": total}})
        return steps + [{"query": total}]
    return steps + [{"query": rng.choice(people)}]


def _rate_equation(rng: random.Random, used: set[str]) -> list[dict]:
    rate, time_, extra = (_name(rng, used) for _ in range(3))
    steps = [{"init": rate, "value": _num(rng)}, {"init": time_, "value": rng.randint(2, 12)}]
    steps.append({"init": extra, "value": rng.randint(1, 30)})
    dist = _name(rng, used)
    space = " " if rng.random() < 0.8 else ""
    steps.append({"formula": {"var": dist, "expression": f"{rate}{space}*{space}{time_}"}})
    total = _name(rng, used)
    steps.append({"formula": {"var": total, "expression": f"({dist} + {extra}) / 2"}})
    return steps + [{"query": rng.choice([dist, total])}]


def _comparison(rng: random.Random, used: set[str]) -> list[dict]:
    base, a, b, diff = (_name(rng, used) for _ in range(4))
    steps = [{"init": base, "value": rng.randint(10, 300)}]
    steps.append({"formula": {"var": a, "expression": f"{base} * {rng.randint(2, 6)}"}})
    steps.append({"formula": {"var": b, "expression": f"{base} + {rng.randint(5, 90)}"}})
    steps.append({"compute": {"op": "sub", "args": [a, b], "var": diff}})
    return steps + [{"query": diff}]


def _percentage(rng: random.Random, used: set[str]) -> list[dict]:
    price, pct, out = (_name(rng, used) for _ in range(3))
    kind = rng.choice(["percent_off", "percent_increase", "percent_decrease", "percent_of"])
    steps = [{"init": price, "value": _num(rng)}, {"init": pct, "value": rng.choice([5, 10, 15, 20, 25, 30, 50])}]
    steps.append({kind: {"base": price, "percent": pct, "var": out}})
    if rng.random() < 0.4:
        final = _name(rng, used)
        steps.append({"compute": {"op": "mul", "args": [out, rng.randint(2, 5)], "var": final}})
        out = final
    return steps + [{"query": out}]


BUILDERS = {
    "arithmetic": _arithmetic,
    "entity_track": _entity_track,
    "rate_equation": _rate_equation,
    "comparison": _comparison,
    "percentage": _percentage,
}


def _break(rng: random.Random, text: str, expert: str) -> str:
    how = rng.randrange(8)
    if how == 0:
        return text[: rng.randint(10, max(11, len(text) - 5))]  # truncated generation
    if how == 1:
        other = rng.choice([e for e in expert_names() if e != expert])
        return text.replace(f"expert: {expert}", f"expert: {other}", 1)
    if how == 2:
        return text.replace("{query: ", "{query: missing_", 1)
    if how == 3:
        return text.replace("op: ", "op: multiply_", 1) if "op: " in text else text + "- {bogus: 1}\n"
    if how == 4:  # division by zero (a compute step, allowed for every expert) just before the query
        lines = text.rstrip("\n").split("\n")
        zero = f"- {{init: zero_{rng.randint(0, 10**6)}, value: 0}}"
        div = f"- compute: {{op: div, args: [{rng.randint(1, 99)}, {zero[9:].split(',')[0]}], var: broken}}"
        return "\n".join(lines[:2] + [zero] + lines[2:-1] + [div, lines[-1]]) + "\n"
    if how == 5:
        return text.replace("- ", "  - ", 2)  # bad indentation
    if how == 6:
        return f"The answer is {rng.randint(1, 10**6)}."
    return text.replace("expert:", "expertise:", 1)


def _base_traces(n: int, rng: random.Random, seed: int) -> list[tuple[str, str, str]]:
    """(trace text, answer, expert): half from trace_solver.generate (the training data's generators) when it exists,
    the rest from the builders above."""
    traces: list[tuple[str, str, str]] = []
    try:
        from trace_solver.generate import generate_examples

        rows = generate_examples(n // 2, seed=seed, min_steps=1, max_steps=5)
    except (ImportError, ValueError):  # no generate module, or experts without generators yet
        rows = []
    traces += [(row["trace"], row["answer"], row["expert"]) for row in rows]
    experts = sorted(BUILDERS)
    while len(traces) < n:
        expert = experts[len(traces) % len(experts)]
        document = {"expert": expert, "trace": BUILDERS[expert](rng, set())}
        outcome = execute(document)
        answer = format_number(outcome.value) if outcome.ok else str(rng.randint(1, 100))
        traces.append((dump_trace(document), answer, expert))
    rng.shuffle(traces)
    return traces


def build_completions(n: int, seed: int, wrapped: bool = False) -> list[tuple[str, str, str]]:
    """N unique (completion, gold answer, gold expert) triples: bare traces, or each wrapped in a fence or chatter."""
    rng = random.Random(seed)
    out: dict[str, tuple[str, str, str]] = {}
    while len(out) < n:
        for text, gold, expert in _base_traces(n, rng, seed + len(out)):
            if rng.random() < 0.2:
                gold = str(rng.randint(1, 1000))  # a valid trace with the wrong answer
            if rng.random() < 0.25:
                text = _break(rng, text, expert)
            if wrapped and rng.random() < 0.75:
                text = f"{rng.choice(CHATTER_BEFORE)}```yaml\n{text}```{rng.choice(CHATTER_AFTER)}"
            elif wrapped:
                text = f"{rng.choice(CHATTER_BEFORE[1:])}{text}{rng.choice(CHATTER_AFTER)}"
            out.setdefault(text, (text, gold, expert))
            if len(out) == n:
                break
    return list(out.values())


def _time_score(texts: list[str], answers: list[str], experts: list[str]) -> float:
    _execute_text.cache_clear()
    _compile.cache_clear()
    start = time.perf_counter()
    rewards.trace_reward(texts, answer=answers, expert=experts)
    return time.perf_counter() - start


def _time_parse(texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        try:
            yaml.load(text, Loader=yaml.CSafeLoader)
        except yaml.YAMLError:
            pass
    return time.perf_counter() - start


def _measure(label: str, rows: list[tuple[str, str, str]], repeats: int) -> None:
    texts, answers, experts = (list(column) for column in zip(*rows))
    rewards_ = rewards.trace_reward(texts, answer=answers, expert=experts)
    tiers = {tier: rewards_.count(tier) for tier in sorted(set(rewards_), reverse=True)}
    n = len(texts)
    print(f"{label}: {n} unique completions, {sum(map(len, texts)) // n} chars on average; tiers {tiers}")
    yaml_parts = [extract_yaml(text) for text in texts]
    score_best = parse_best = part_best = float("inf")
    text_ratios, part_ratios = [], []
    for repeat in range(repeats):
        score_s, parse_s, part_s = _time_score(texts, answers, experts), _time_parse(texts), _time_parse(yaml_parts)
        score_best, parse_best, part_best = min(score_best, score_s), min(parse_best, parse_s), min(part_best, part_s)
        text_ratios.append(score_s / parse_s)
        part_ratios.append(score_s / part_s)
        print(
            f"  run {repeat + 1}: score {n / score_s:,.0f}/s   bare parse of texts {n / parse_s:,.0f}/s"
            f" ({score_s / parse_s:.2f}x)   of their YAML parts {n / part_s:,.0f}/s ({score_s / part_s:.2f}x)"
        )
    print(
        f"  best of {repeats} (one core): trace_reward {n / score_best:,.0f} completions/s; "
        f"bare yaml.load(CSafeLoader) of the same texts {n / parse_best:,.0f}/s -> {score_best / parse_best:.2f}x; "
        f"of their YAML parts {n / part_best:,.0f}/s -> {score_best / part_best:.2f}x"
    )
    print(
        f"  median of the per-run ratios (each run times both side by side): {statistics.median(text_ratios):.2f}x "
        f"the same texts, {statistics.median(part_ratios):.2f}x their YAML parts"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print("targets (model-output batch): >= 3,000 completions/s, <= 1.5x the bare parse of the same texts")
    _measure("model output (bare traces)", build_completions(args.n, args.seed), args.repeats)
    _measure("wrapped (code fence or chatter)", build_completions(args.n, args.seed, wrapped=True), args.repeats)


if __name__ == "__main__":
    main()
