"""Synthetic data sets from the experts' generators, as rows in the dataset line format.

Each row is ``{"question", "expert", "trace" (YAML text from dump_trace), "answer", "steps", "source": "synthetic",
"template", "id"}``; `steps` counts the operation steps (every step but init and query). Every row's trace has been
executed, as YAML text, to its answer before it is returned.

    trace-solver generate --n 1000 --seed 0 --out train.jsonl --eval-n 248 --eval-out eval.jsonl --holdout-templates 1

Output is a pure function of the arguments: one `random.Random` per data set, experts in sorted order, no hash-order
dependence. Questions are normalised (numbers.normalize_question) and unique within a data set; train and eval sets
made by `generate_splits` never share a question, and with held-out templates the eval set uses only templates that
the train set never saw, which measures generalisation to new phrasings rather than memorisation.
"""

from __future__ import annotations

import argparse
import hashlib
import random
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from trace_solver.executor import execute
from trace_solver.experts import EXPERTS, Expert
from trace_solver.jsonl import write_jsonl
from trace_solver.numbers import answers_match, normalize_question
from trace_solver.serialize import dump_trace

MAX_DRAWS_PER_ROW = 200  # draws for one row (duplicates and filtered templates are redrawn) before giving up
DEFAULT_STEPS = (1, 3)  # the original experiment's distribution: chains of 1-3 operations

HoldoutSpec = int | Collection[str] | None


class GenerationError(RuntimeError):
    """Rows could not be generated: a generator's trace does not execute to its answer, or too few new questions."""


def _experts(names: Sequence[str] | None) -> list[Expert]:
    chosen = sorted(EXPERTS) if not names else sorted(set(names))
    unknown = [name for name in chosen if name not in EXPERTS]
    if unknown:
        raise ValueError(f"unknown expert {unknown[0]!r}; known: {', '.join(sorted(EXPERTS))}")
    missing = [name for name in chosen if EXPERTS[name].generator is None]
    if missing:
        raise ValueError(f"expert {missing[0]!r} has no generator")
    return [EXPERTS[name] for name in chosen]


def holdout_templates_for(spec: HoldoutSpec, seed: int, experts: Sequence[str] | None = None) -> list[str]:
    """The template ids a holdout spec names: a list of ids as given (checked), or for an int k, k templates of
    every chosen expert, picked with the seed. Each expert keeps at least one template for training."""
    chosen = _experts(experts)
    if spec is None:
        return []
    if isinstance(spec, int):
        rng = random.Random(f"holdout:{seed}")
        held: list[str] = []
        for expert in chosen:
            if not 0 <= spec < len(expert.templates):
                raise ValueError(f"cannot hold out {spec} of {expert.name}'s {len(expert.templates)} templates")
            held += rng.sample(sorted(expert.templates), spec)
        return sorted(held)
    known = {template for expert in EXPERTS.values() for template in expert.templates}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f"unknown template {unknown[0]!r}")
    return sorted(spec)


def _quotas(n: int, names: list[str], weights: Mapping[str, float] | None) -> dict[str, int]:
    """Rows per expert in proportion to the weights (uniform by default), rounding by largest remainder."""
    unknown = sorted(set(weights or {}) - set(names))
    if unknown:
        raise ValueError(f"weight for {unknown[0]!r}, which is not among the experts generated: {', '.join(names)}")
    raw = {name: float((weights or {}).get(name, 1.0 if not weights else 0.0)) for name in names}
    if any(w < 0 for w in raw.values()) or not sum(raw.values()):
        raise ValueError("expert weights must be non-negative and not all zero")
    total = sum(raw.values())
    exact = {name: n * w / total for name, w in raw.items()}
    counts = {name: int(value) for name, value in exact.items()}
    by_remainder = sorted(names, key=lambda name: (-(exact[name] - counts[name]), name))
    for name in by_remainder[: n - sum(counts.values())]:
        counts[name] += 1
    return counts


def _row(question: str, expert: str, document: dict[str, Any], answer: str, template: str) -> dict[str, Any]:
    text = dump_trace(document)
    outcome = execute(text, extract=False)
    if not outcome.ok or not answers_match(outcome.value, answer):
        raise GenerationError(f"{template}: trace text gives {outcome.value} ({outcome.code}), expected {answer}")
    steps = sum(1 for step in document["trace"] if not ({"init", "query"} & step.keys()))
    digest = hashlib.sha1(question.encode("utf-8")).hexdigest()[:12]
    return {
        "question": question,
        "expert": expert,
        "trace": text,
        "answer": answer,
        "steps": steps,
        "source": "synthetic",
        "template": template,
        "id": f"syn-{digest}",
    }


def _generate(
    n: int,
    rng: random.Random,
    experts: Sequence[str] | None,
    min_steps: int,
    max_steps: int,
    exclude_templates: Collection[str],
    only_templates: Collection[str] | None,
    exclude_questions: Collection[str],
    weights: Mapping[str, float] | None,
) -> list[dict[str, Any]]:
    if n < 0:
        raise ValueError("n must be >= 0")
    if not 1 <= min_steps <= max_steps:
        raise ValueError(f"need 1 <= min_steps <= max_steps, got {min_steps}..{max_steps}")
    allowed: dict[str, set[str]] = {}
    for expert in _experts(experts):
        templates = set(expert.templates) - set(exclude_templates)
        if only_templates is not None:
            templates &= set(only_templates)
        if templates and max(min_steps, expert.min_operations) <= min(max_steps, expert.max_operations):
            allowed[expert.name] = templates
    if not allowed:
        raise ValueError("no expert has a template and an operation count left to generate from")
    names = sorted(allowed)
    order = [name for name, count in _quotas(n, names, weights).items() for _ in range(count)]
    rng.shuffle(order)
    seen = set(exclude_questions)
    rows = []
    for name in order:
        expert = EXPERTS[name]
        low, high = max(min_steps, expert.min_operations), min(max_steps, expert.max_operations)
        operations = rng.randint(low, high)
        for _ in range(MAX_DRAWS_PER_ROW):
            example = expert.generator(rng, operations)
            question = normalize_question(example.question)
            if example.template in allowed[name] and question not in seen:
                break
        else:
            raise GenerationError(f"{name}: no new question after {MAX_DRAWS_PER_ROW} draws ({len(rows)} rows so far)")
        seen.add(question)
        rows.append(_row(question, name, example.trace, example.answer, example.template))
    return rows


def generate_examples(
    n: int,
    seed: int,
    experts: Sequence[str] | None = None,
    min_steps: int = 1,
    max_steps: int = 3,
    holdout_templates: HoldoutSpec = None,
    exclude_questions: Collection[str] | None = None,
    *,
    only_templates: Collection[str] | None = None,
    weights: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """`n` verified synthetic rows.

    Args:
        n: number of rows.
        seed: the same seed gives the same rows.
        experts: expert names to draw from (all registered experts with a generator when None).
        min_steps, max_steps: range of operation steps per trace (init and query not counted), drawn uniformly.
        holdout_templates: template ids never to use (or an int k: k templates per expert, see holdout_templates_for).
        exclude_questions: normalised questions not to produce (e.g. an eval set's).
        only_templates: use only these template ids (an eval set of held-out templates).
        weights: relative share per expert name; uniform when None (experts missing from a mapping get 0).

    Returns:
        Rows in the dataset line format, unique by question.

    >>> rows = generate_examples(5, seed=0, experts=["comparison"])
    >>> sorted(rows[0])
    ['answer', 'expert', 'id', 'question', 'source', 'steps', 'template', 'trace']
    """
    held = holdout_templates_for(holdout_templates, seed, experts)
    return _generate(
        n, random.Random(seed), experts, min_steps, max_steps, held, only_templates, exclude_questions or (), weights
    )


def generate_splits(
    n_train: int,
    n_eval: int,
    seed: int,
    experts: Sequence[str] | None = None,
    min_steps: int = 1,
    max_steps: int = 3,
    holdout_templates: HoldoutSpec = None,
    *,
    weights: Mapping[str, float] | None = None,
    eval_steps: tuple[int, int] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A train set and an eval set that never share a question.

    With `holdout_templates` (ids, or k per expert) the eval set uses only the held-out templates and the train set
    none of them. `eval_steps` = (min, max) gives the eval set its own chain lengths (default: the train range).
    """
    held = holdout_templates_for(holdout_templates, seed, experts)
    low, high = eval_steps or (min_steps, max_steps)
    eval_rows = _generate(n_eval, random.Random(f"eval:{seed}"), experts, low, high, (), held or None, (), weights)
    train_rows = _generate(
        n_train,
        random.Random(seed),
        experts,
        min_steps,
        max_steps,
        held,
        None,
        {row["question"] for row in eval_rows},
        weights,
    )
    return train_rows, eval_rows


def summary(rows: Sequence[dict[str, Any]]) -> str:
    """``1000 rows: arithmetic 200, comparison 200, ...; steps 1:334 2:333 3:333``"""
    experts = Counter(row["expert"] for row in rows)
    steps = Counter(row["steps"] for row in rows)
    return (
        f"{len(rows)} rows: "
        + ", ".join(f"{name} {experts[name]}" for name in sorted(experts))
        + "; steps "
        + " ".join(f"{k}:{steps[k]}" for k in sorted(steps))
    )


# --- command line -------------------------------------------------------------------------------------------------


def _holdout_arg(text: str | None) -> HoldoutSpec:
    if text is None:
        return None
    return int(text) if text.strip().isdigit() else [t.strip() for t in text.split(",") if t.strip()]


def _weights_arg(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    weights = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        weights[name.strip()] = float(value)
    return weights


def _run_cli(args: argparse.Namespace) -> int:
    experts = [e.strip() for e in args.experts.split(",") if e.strip()] if args.experts else None
    if args.eval_n and not args.eval_out:
        raise SystemExit("trace-solver generate: --eval-n needs --eval-out")
    try:
        holdout = _holdout_arg(args.holdout_templates)
        held = holdout_templates_for(holdout, args.seed, experts)
        train, evaluation = generate_splits(
            args.n,
            args.eval_n or 0,
            args.seed,
            experts,
            args.min_steps,
            args.max_steps,
            holdout,
            weights=_weights_arg(args.weights),
        )
    except (ValueError, GenerationError) as exc:
        raise SystemExit(f"trace-solver generate: {exc}") from None
    write_jsonl(train, args.out)
    held_text = f"; held out: {', '.join(held)}" if held else ""
    print(f"wrote {args.out}: {summary(train)}{held_text}")
    if args.eval_n:
        write_jsonl(evaluation, args.eval_out)
        print(f"wrote {args.eval_out}: {summary(evaluation)}")
    return 0


def add_cli(subparsers: Any) -> None:
    """Register `trace-solver generate`."""
    parser = subparsers.add_parser(
        "generate",
        help="write verified synthetic examples as JSONL",
        description="Write verified synthetic examples (one JSON object per line) from the experts' generators.",
    )
    parser.add_argument("--n", type=int, required=True, help="number of training rows")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same file)")
    parser.add_argument("--experts", default=None, help="comma-separated expert names (default: all)")
    parser.add_argument("--min-steps", type=int, default=DEFAULT_STEPS[0], help="fewest operation steps (1)")
    parser.add_argument("--max-steps", type=int, default=DEFAULT_STEPS[1], help="most operation steps (3; up to 8)")
    parser.add_argument(
        "--holdout-templates",
        default=None,
        help="K (hold out K templates per expert) or comma-separated ids like comparison/3; "
        "the train file never uses them, the eval file uses only them",
    )
    parser.add_argument("--weights", default=None, help="expert shares, e.g. comparison=2,arithmetic=1")
    parser.add_argument("--out", required=True, help="output JSONL for the training rows")
    parser.add_argument("--eval-n", type=int, default=0, help="also write this many eval rows (disjoint questions)")
    parser.add_argument("--eval-out", default=None, help="output JSONL for the eval rows")
    parser.set_defaults(handler=_run_cli)
