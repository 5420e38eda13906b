"""Evaluate a model on traces: generate, execute with trace_solver, score, and write the report.

`run_evaluation` is what `recipes/evaluate.py` and the end of SFT/RL call. It reports the original experiment's metrics
(overall accuracy, parse rate, valid-trace rate, correct-expert rate, accuracy per expert, reward-tier distribution)
and, for GSM-8K-format sets (no gold expert), accuracy, parse and valid rates. Outputs in `output_dir`:

    <name>.json              the metrics (small: the summary a results folder keeps)
    <name>_records.jsonl     one record per example (question, completion, value, status, code, tier ...)
    <name>.md                Markdown tables in the original experiment's format
    <name>_per_expert.png    accuracy per expert (synthetic sets)

The scoring (`score_records`, `compute_metrics`, `weighted_vote`) works on plain strings, so it is tested without a
model. Under `accelerate launch` each process generates its share of the prompts (accelerate's
`split_between_processes`), `gather_object` puts them back in order, and the main process writes the reports.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from trace_recipe.data import gold_answer
from trace_recipe.generation import GenerationOptions, generate_completions

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# Tier names in rewards.Score, best first, with the original experiment's wording for the report.
TIERS: tuple[tuple[str, float, str], ...] = (
    ("correct", 1.0, "Correct answer (trace executes to expected value)"),
    ("wrong_answer", 0.7, "Valid trace, wrong answer"),
    ("failed_trace", 0.5, "Correct expert, trace execution error"),
    ("wrong_expert", 0.3, "Parsed YAML, wrong expert"),
    ("unparsed", 0.0, "Parse failure"),
)


def question_of(row: Mapping[str, Any]) -> str:
    """The question text of a row: its `question` column, else the last user message of its `prompt`."""
    if row.get("question"):
        return str(row["question"])
    prompt = row.get("prompt")
    if isinstance(prompt, str):
        return prompt
    for message in reversed(prompt or []):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return ""


def score_record(completion: str, answer: Any, expert: str | None) -> dict[str, Any]:
    """Execute one completion and score it with the training reward (so eval tiers and RL rewards agree)."""
    from rewards import score_completion
    from trace_solver import format_number

    gold = gold_answer(answer)
    score = score_completion(completion, gold, expert)
    outcome = score.outcome
    return {
        "completion": completion,
        "value": None if outcome.value is None else format_number(outcome.value),
        "status": outcome.status.value,
        "code": outcome.code,
        "message": outcome.message,
        "predicted_expert": outcome.expert,
        "tier": score.reward(),
        "tier_name": score.tier_name,
        "correct": score.answer_right,
        "parsed": score.parsed,
        "valid": score.executes,
        "expert_right": None if expert is None else outcome.expert == expert,
    }


def score_records(
    rows: Sequence[Mapping[str, Any]],
    completions: Sequence[str],
    *,
    samples: Sequence[Sequence[str]] | None = None,
    ks: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """One record per row: gold fields, the scored greedy completion and, with `samples`, the self-consistency vote
    over the first k samples for each k in `ks` (default: all of them)."""
    records = []
    for index, (row, completion) in enumerate(zip(rows, completions, strict=True)):
        expert = row.get("expert") or None
        record = {"index": index, "question": question_of(row), "answer": gold_answer(row["answer"]), "expert": expert}
        record.update(score_record(completion, row["answer"], expert))
        if samples is not None:
            record.update(vote_record(samples[index], row["answer"], ks))
        records.append(record)
    return records


# Self-consistency: only samples whose trace executes vote, each with the weight of the reward tier it would earn if
# its value were wrong, which the solver tells without the gold answer or the gold expert. The expert most samples
# name (the consensus) stands in for the gold expert: a valid trace under it weighs as a valid trace (0.7), a valid
# trace under another expert as a wrong-expert one (0.3), so one sample that misread the kind of problem cannot tie
# two that agree on it. Failed traces never vote (they have no value), but their expert counts for the consensus.
VOTE_WEIGHTS: dict[str, Fraction] = {"consensus_expert": Fraction(7, 10), "other_expert": Fraction(3, 10)}


def majority_vote(
    values: Iterable[Fraction | None],
    weights: Iterable[Fraction] | None = None,
    ranks: Iterable[int] | None = None,
) -> Fraction | None:
    """The value with the largest total weight among executed samples (None = failed sample, never voted for).

    Without weights every sample counts 1. Ties go to the value with the best (lowest) rank among its voters, then to
    the value seen first, so with k=1 the vote is the sample itself.
    """
    values = list(values)
    weights = [Fraction(1)] * len(values) if weights is None else list(weights)
    ranks = [0] * len(values) if ranks is None else list(ranks)
    totals: dict[Fraction, Fraction] = {}
    best_rank: dict[Fraction, int] = {}
    for value, weight, rank in zip(values, weights, ranks, strict=True):
        if value is None:
            continue
        totals[value] = totals.get(value, Fraction(0)) + weight
        best_rank[value] = min(rank, best_rank.get(value, rank))
    if not totals:
        return None
    order = list(totals)  # first-seen order
    return min(order, key=lambda v: (-totals[v], best_rank[v], order.index(v)))


def consensus_expert(experts: Iterable[str | None]) -> str | None:
    """The expert most samples name (ties: the first named); None when no sample names one."""
    counts = Counter(expert for expert in experts if expert)
    return max(counts, key=counts.__getitem__) if counts else None  # max keeps the first of equal counts


def vote_tiers(outcomes: Sequence[Any]) -> list[str | None]:
    """Each sample's vote tier (a key of VOTE_WEIGHTS), or None for a sample that does not vote."""
    from trace_solver import Status

    consensus = consensus_expert(o.expert for o in outcomes if o.status is not Status.UNKNOWN_EXPERT)
    return [
        None if not o.ok or o.value is None else "consensus_expert" if o.expert == consensus else "other_expert"
        for o in outcomes
    ]


def weighted_vote(outcomes: Sequence[Any]) -> Fraction | None:
    """The self-consistency answer of executed samples (`trace_solver.Outcome`s), weighted by VOTE_WEIGHTS."""
    tiers = vote_tiers(outcomes)
    names = list(VOTE_WEIGHTS)
    voters = [(o.value, VOTE_WEIGHTS[t], names.index(t)) for o, t in zip(outcomes, tiers, strict=True) if t]
    return majority_vote(*zip(*voters, strict=True)) if voters else None


def vote_record(samples: Sequence[str], answer: Any, ks: Sequence[int] | None = None) -> dict[str, Any]:
    """Self-consistency fields of a record: execute every sample and vote over the first k of them for each k in
    `ks` (default: all). The top-level `sc_value`/`sc_correct`/`sc_any_correct` are the largest k's."""
    from trace_solver import answers_match, execute, format_number

    outcomes = [execute(text) for text in samples]
    gold = gold_answer(answer)
    by_k = {}
    for k in sorted(set(ks or [len(samples)])):
        voted = weighted_vote(outcomes[:k])
        by_k[str(k)] = {
            "value": None if voted is None else format_number(voted),
            "correct": voted is not None and answers_match(voted, gold),
            "any_correct": any(o.ok and o.value is not None and answers_match(o.value, gold) for o in outcomes[:k]),
        }
    largest = by_k[max(by_k, key=int)]
    return {
        "sc_values": [None if o.value is None or not o.ok else format_number(o.value) for o in outcomes],
        "sc_tiers": vote_tiers(outcomes),
        "sc_value": largest["value"],
        "sc_correct": largest["correct"],
        "sc_any_correct": largest["any_correct"],
        "sc_by_k": by_k,
    }


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def compute_metrics(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The metrics from scored records. Rates are fractions in [0, 1]; counts sit next to them."""
    n = len(records)
    correct = sum(bool(r["correct"]) for r in records)
    parsed = sum(bool(r["parsed"]) for r in records)
    valid = sum(bool(r["valid"]) for r in records)
    with_gold_expert = [r for r in records if r.get("expert")]
    expert_right = sum(bool(r["expert_right"]) for r in with_gold_expert)
    per_expert: dict[str, dict[str, Any]] = {}
    for expert in sorted({r["expert"] for r in with_gold_expert}):
        rows = [r for r in with_gold_expert if r["expert"] == expert]
        hits = sum(bool(r["correct"]) for r in rows)
        per_expert[expert] = {"correct": hits, "count": len(rows), "accuracy": _rate(hits, len(rows))}
    tier_counts = Counter(r["tier_name"] for r in records)
    metrics: dict[str, Any] = {
        "n": n,
        "correct": correct,
        "accuracy": _rate(correct, n),
        "parsed": parsed,
        "parse_rate": _rate(parsed, n),
        "valid": valid,
        "valid_rate": _rate(valid, n),
        # GSM-8K rows have no gold expert: the rate is then None (not reported), as in the original experiment's probe.
        "expert_count": len(with_gold_expert),
        "expert_right": expert_right,
        "correct_expert_rate": _rate(expert_right, len(with_gold_expert)),
        "per_expert": per_expert,
        "tiers": {name: tier_counts.get(name, 0) for name, _, _ in TIERS},
        "mean_reward": _rate(sum(float(r["tier"]) for r in records), n) if n else None,
        "statuses": dict(Counter(r["status"] for r in records).most_common()),
        "error_codes": dict(Counter(r["code"] for r in records if r["code"]).most_common()),
    }
    if records and "sc_by_k" in records[0]:
        by_k = {}
        for k in records[0]["sc_by_k"]:
            votes = [r["sc_by_k"][k] for r in records]
            correct, any_correct = sum(bool(v["correct"]) for v in votes), sum(bool(v["any_correct"]) for v in votes)
            by_k[k] = {
                "k": int(k),
                "correct": correct,
                "vote_accuracy": _rate(correct, n),
                "any_correct": any_correct,
                "any_of_k": _rate(any_correct, n),
            }
        largest = by_k[max(by_k, key=int)]
        metrics["self_consistency"] = {
            **largest,
            "per_expert": {
                expert: sum(bool(r["sc_correct"]) for r in with_gold_expert if r["expert"] == expert)
                for expert in per_expert
            },
            "by_k": by_k,
        }
    return metrics


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def render_markdown(metrics: Mapping[str, Any], *, title: str, header: Mapping[str, str] | None = None) -> str:
    """The report in the original experiment's format: summary table, results by expert, reward tiers, failure codes."""
    lines = [f"# {title}"]
    if header:
        lines += [""] + [f"**{key}**: {value}  " for key, value in header.items()]
    n = metrics["n"]
    lines += ["", "## Summary", "", "| Metric | Value |", "|--------|-------|"]
    lines.append(f"| Overall accuracy | **{_pct(metrics['accuracy'])}** ({metrics['correct']}/{n}) |")
    lines.append(f"| Parse rate | {_pct(metrics['parse_rate'])} ({metrics['parsed']}/{n}) |")
    lines.append(f"| Valid traces | {_pct(metrics['valid_rate'])} ({metrics['valid']}/{n}) |")
    if metrics["correct_expert_rate"] is not None:
        right, count = metrics["expert_right"], metrics["expert_count"]
        lines.append(f"| Correct expert | {_pct(metrics['correct_expert_rate'])} ({right}/{count}) |")
    if metrics.get("mean_reward") is not None:
        lines.append(f"| Mean reward | {metrics['mean_reward']:.3f} |")
    sc = metrics.get("self_consistency")
    if sc:
        for block in sorted(sc.get("by_k", {str(sc["k"]): sc}).values(), key=lambda b: b["k"]):
            k, correct, right = block["k"], block["correct"], block["any_correct"]
            lines.append(f"| Self-consistency accuracy (k={k}) | **{_pct(block['vote_accuracy'])}** ({correct}/{n}) |")
            lines.append(f"| Any of k samples correct (k={k}) | {_pct(block['any_of_k'])} ({right}/{n}) |")
    if metrics["per_expert"]:
        lines += ["", "## Results by Expert Type", ""]
        sc_head, sc_rule = (" Self-consistency |", "------------------|") if sc else ("", "")
        lines += [f"| Expert | Accuracy | Count |{sc_head}", f"|--------|----------|-------|{sc_rule}"]
        ranked = sorted(metrics["per_expert"].items(), key=lambda kv: (-(kv[1]["accuracy"] or 0), kv[0]))
        for expert, row in ranked:
            extra = f" {_pct(_rate(sc['per_expert'][expert], row['count']))} |" if sc else ""
            lines.append(f"| {expert} | {_pct(row['accuracy'])} | {row['correct']}/{row['count']} |{extra}")
    lines += ["", "## Reward Tiers", "", "| Reward | Meaning | Count | Share |", "|--------|---------|-------|-------|"]
    for name, value, meaning in TIERS:
        count = metrics["tiers"].get(name, 0)
        lines.append(f"| {value:.1f} | {meaning} | {count} | {_pct(_rate(count, n))} |")
    if metrics["error_codes"]:
        lines += ["", "## Failures", "", "| Status | Count |", "|--------|-------|"]
        lines += [f"| {status} | {count} |" for status, count in metrics["statuses"].items() if status != "ok"]
        lines += ["", "| Error code | Count |", "|------------|-------|"]
        lines += [f"| {code} | {count} |" for code, count in metrics["error_codes"].items()]
    generation = metrics.get("generation")
    if generation:
        lines += ["", "## Generation", ""]
        lines.append(
            f"{generation['new_tokens']} new tokens in {generation['seconds']:.1f} s "
            f"({generation['tokens_per_s']:.0f} tokens/s, backend `{generation['backend']}`)"
        )
    return "\n".join(lines) + "\n"


def write_reports(
    metrics: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    *,
    output_dir: str,
    name: str = "eval",
    header: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Write `<name>.json` (metrics only), `<name>_records.jsonl` (one record per example), `<name>.md` and, when
    there are experts, `<name>_per_expert.png`; return their paths."""
    from trace_recipe.plots import plot_per_expert
    from trace_solver.jsonl import write_jsonl

    os.makedirs(output_dir, exist_ok=True)
    paths = {
        "json": os.path.join(output_dir, f"{name}.json"),
        "records": os.path.join(output_dir, f"{name}_records.jsonl"),
        "md": os.path.join(output_dir, f"{name}.md"),
    }
    with open(paths["json"], "w", encoding="utf-8") as f:
        json.dump({"name": name, **dict(header or {}), "metrics": metrics}, f, indent=2)
    write_jsonl(records, paths["records"])
    with open(paths["md"], "w", encoding="utf-8") as f:
        f.write(render_markdown(metrics, title=f"Evaluation: {name}", header=header))
    if metrics["per_expert"]:
        paths["png"] = os.path.join(output_dir, f"{name}_per_expert.png")
        plot_per_expert(metrics, paths["png"], title=name)
    return paths


def _is_sharded(model: Any) -> bool:
    """True for FSDP-wrapped modules (FSDP1 wrapper or FSDP2 DTensor parameters)."""
    if "FullyShardedDataParallel" in type(model).__name__ or hasattr(model, "_fsdp_wrapped_module"):
        return True
    first = next(iter(model.parameters()), None)
    return first is not None and type(first.data).__name__ == "DTensor"


def _generate_sharded(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Any],
    options: GenerationOptions,
    used_backends: list[str] | None = None,
) -> list[str]:
    """Generate for all prompts: each process takes a contiguous share, then every process gets all of them back in
    the prompts' order (one process: no split, no gather)."""
    from accelerate import PartialState
    from accelerate.utils import gather_object

    state = PartialState()
    if state.num_processes == 1:
        return generate_completions(model, tokenizer, prompts, options, used_backends=used_backends)
    if _is_sharded(model):
        # Sharded parameters are gathered layer by layer inside forward, so every rank would have to run the same
        # forwards in lockstep; ranks decoding different prompts (and stopping at different steps) would hang.
        raise RuntimeError("the model is sharded (FSDP): evaluate the saved model with recipes/evaluate.py instead")
    with state.split_between_processes(list(prompts)) as mine:
        texts = generate_completions(model, tokenizer, mine, options, used_backends=used_backends)
    return gather_object(texts)


def run_evaluation(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    dataset: Iterable[Mapping[str, Any]],
    *,
    output_dir: str,
    batch_size: int = 64,
    max_new_tokens: int = 512,
    self_consistency: int | Sequence[int] = 0,
    temperature: float = 0.7,
    name: str = "eval",
    backend: str = "auto",
    seed: int = 0,
    header: Mapping[str, str] | None = None,
    write: bool = True,
) -> dict[str, Any]:
    """Greedy-decode every row, score it, optionally add self-consistency, write the reports; return the metrics.

    Args:
        model, tokenizer: the model to evaluate (unwrapped; any device).
        dataset: rows with `prompt` (chat messages [system, user]), `answer` (gold answer text; GSM-8K's
            ``"...#### 18"`` works) and `expert` (gold expert, or None for GSM-8K).
        output_dir, name: reports go to `<output_dir>/<name>.{json,md}`, `<name>_records.jsonl` and
            `<name>_per_expert.png`.
        batch_size, max_new_tokens, backend: generation settings (see `trace_recipe.generation`).
        self_consistency: k > 0, or several k (`[8, 16]`), also samples max(k) traces per question at `temperature`
            and, for each k, votes over the first k of them (`weighted_vote`); reported with any-of-k.
        header: extra `key: value` lines for the report (model, dataset ...).
        write: False skips the files (metrics are still returned).
    """
    rows = [dict(row) for row in dataset]
    prompts = [row["prompt"] for row in rows]
    # greedy decoding reads no random numbers: no seed, so an evaluation during RL leaves the sampling RNG alone
    options = GenerationOptions(
        max_new_tokens=max_new_tokens, batch_size=batch_size, backend=backend, seed=None, progress="evaluating"
    )
    started = time.perf_counter()
    used_backends: list[str] = []  # what actually ran: "auto" may fall back (reported per call, on this rank)
    completions = _generate_sharded(model, tokenizer, prompts, options, used_backends)
    seconds = time.perf_counter() - started
    samples = None
    ks = sorted({k for k in ([self_consistency] if isinstance(self_consistency, int) else self_consistency) if k > 0})
    if ks:
        num_samples = ks[-1]  # sampled once; smaller k vote over the first k of these
        sample_options = GenerationOptions(
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            backend=backend,
            do_sample=True,
            temperature=temperature,
            seed=seed,
            progress="sampling",
        )
        # Each prompt repeated k times: every backend batches these like distinct prompts.
        flat = _generate_sharded(model, tokenizer, [p for p in prompts for _ in range(num_samples)], sample_options)
        samples = [flat[i * num_samples : (i + 1) * num_samples] for i in range(len(rows))]
    records = score_records(rows, completions, samples=samples, ks=ks)
    metrics = compute_metrics(records)
    new_tokens = sum(len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in completions)
    metrics["generation"] = {
        "backend": ", ".join(dict.fromkeys(used_backends)) or backend,
        "backend_requested": backend,
        "batch_size": batch_size,
        "max_new_tokens": max_new_tokens,
        "seconds": seconds,
        "new_tokens": new_tokens,
        "tokens_per_s": new_tokens / seconds if seconds > 0 else 0.0,
    }
    if ks:
        metrics["self_consistency"]["temperature"] = temperature
    if write and _is_main_process():
        metrics["files"] = write_reports(metrics, records, output_dir=output_dir, name=name, header=header)
    return metrics


def _is_main_process() -> bool:
    from accelerate import PartialState

    return PartialState().is_main_process


def summary_line(metrics: Mapping[str, Any]) -> str:
    """The one-line summary: ``Correct: 90%  Parsed: 100%  Valid: 100%`` (+ expert and self-consistency)."""
    parts = [
        f"Correct: {_pct(metrics['accuracy'])} ({metrics['correct']}/{metrics['n']})",
        f"Parsed: {_pct(metrics['parse_rate'])}",
        f"Valid: {_pct(metrics['valid_rate'])}",
    ]
    if metrics.get("correct_expert_rate") is not None:
        parts.append(f"Expert: {_pct(metrics['correct_expert_rate'])}")
    sc = metrics.get("self_consistency")
    if sc:
        for block in sorted(sc.get("by_k", {str(sc["k"]): sc}).values(), key=lambda b: b["k"]):
            parts.append(
                f"Vote@{block['k']}: {_pct(block['vote_accuracy'])} (any of {block['k']}: {_pct(block['any_of_k'])})"
            )
    return "  ".join(parts)
