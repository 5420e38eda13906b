"""Evaluate a model on traces: generate, execute with trace_solver, score, and write the seed's report.

`run_evaluation` is what `recipes/evaluate.py` and the end of SFT/RL call. It reports the seed's metrics (overall
accuracy, parse rate, valid-trace rate, correct-expert rate, accuracy per expert, reward-tier distribution) and, for
GSM-8K-format sets (no gold expert), accuracy, parse and valid rates. Outputs in `output_dir`:

    <name>.json              the metrics (small: the summary a results folder keeps)
    <name>_records.jsonl     one record per example (question, completion, value, status, code, tier ...)
    <name>.md                Markdown tables in the seed's format
    <name>_per_expert.png    accuracy per expert (synthetic sets)

The scoring (`score_records`, `compute_metrics`, `majority_vote`) works on plain strings, so it is tested without a
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

# Tier names in rewards.Score, best first, with the seed's wording for the report.
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
    rows: Sequence[Mapping[str, Any]], completions: Sequence[str], *, samples: Sequence[Sequence[str]] | None = None
) -> list[dict[str, Any]]:
    """One record per row: gold fields, the scored greedy completion and, with `samples`, the self-consistency vote."""
    records = []
    for index, (row, completion) in enumerate(zip(rows, completions, strict=True)):
        expert = row.get("expert") or None
        record = {"index": index, "question": question_of(row), "answer": gold_answer(row["answer"]), "expert": expert}
        record.update(score_record(completion, row["answer"], expert))
        if samples is not None:
            record.update(vote_record(samples[index], row["answer"]))
        records.append(record)
    return records


def majority_vote(values: Iterable[Fraction | None]) -> Fraction | None:
    """The most common value among executed samples (None = failed sample, never voted for).

    Ties go to the value seen first, so with k=1 the vote is the sample itself.
    """
    counts: Counter[Fraction] = Counter()
    first_seen: list[Fraction] = []
    for value in values:
        if value is None:
            continue
        if value not in counts:
            first_seen.append(value)
        counts[value] += 1
    if not counts:
        return None
    best = max(counts.values())
    return next(value for value in first_seen if counts[value] == best)


def vote_record(samples: Sequence[str], answer: Any) -> dict[str, Any]:
    """Self-consistency fields of a record: execute every sample, vote on the values, check the vote."""
    from trace_solver import answers_match, execute, format_number

    values = [execute(text).value for text in samples]
    voted = majority_vote(values)
    gold = gold_answer(answer)
    return {
        "sc_values": [None if v is None else format_number(v) for v in values],
        "sc_value": None if voted is None else format_number(voted),
        "sc_correct": voted is not None and answers_match(voted, gold),
        "sc_any_correct": any(v is not None and answers_match(v, gold) for v in values),
    }


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def compute_metrics(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The seed's metrics from scored records. Rates are fractions in [0, 1]; counts sit next to them."""
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
        # GSM-8K rows have no gold expert: the rate is then None (not reported), as in the seed's probe.
        "expert_count": len(with_gold_expert),
        "expert_right": expert_right,
        "correct_expert_rate": _rate(expert_right, len(with_gold_expert)),
        "per_expert": per_expert,
        "tiers": {name: tier_counts.get(name, 0) for name, _, _ in TIERS},
        "mean_reward": _rate(sum(float(r["tier"]) for r in records), n) if n else None,
        "statuses": dict(Counter(r["status"] for r in records).most_common()),
        "error_codes": dict(Counter(r["code"] for r in records if r["code"]).most_common()),
    }
    if records and "sc_correct" in records[0]:
        sc_correct = sum(bool(r["sc_correct"]) for r in records)
        metrics["self_consistency"] = {
            "k": len(records[0]["sc_values"]),
            "correct": sc_correct,
            "accuracy": _rate(sc_correct, n),
            "any_correct": sum(bool(r["sc_any_correct"]) for r in records),
            "per_expert": {
                expert: sum(bool(r["sc_correct"]) for r in with_gold_expert if r["expert"] == expert)
                for expert in per_expert
            },
        }
    return metrics


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def render_markdown(metrics: Mapping[str, Any], *, title: str, header: Mapping[str, str] | None = None) -> str:
    """The report in the seed's format: summary table, results by expert, reward tiers, failure codes."""
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
        lines.append(f"| Self-consistency accuracy (k={sc['k']}) | **{_pct(sc['accuracy'])}** ({sc['correct']}/{n}) |")
        lines.append(f"| Any of k samples correct (k={sc['k']}) | {_pct(_rate(sc['any_correct'], n))} |")
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
    self_consistency: int = 0,
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
        self_consistency: k > 0 also samples k traces per question at `temperature` and majority-votes the values.
        header: extra `key: value` lines for the report (model, dataset ...).
        write: False skips the files (metrics are still returned).
    """
    rows = [dict(row) for row in dataset]
    prompts = [row["prompt"] for row in rows]
    options = GenerationOptions(max_new_tokens=max_new_tokens, batch_size=batch_size, backend=backend, seed=seed)
    started = time.perf_counter()
    used_backends: list[str] = []  # what actually ran: "auto" may fall back (reported per call, on this rank)
    completions = _generate_sharded(model, tokenizer, prompts, options, used_backends)
    seconds = time.perf_counter() - started
    samples = None
    if self_consistency > 0:
        sample_options = GenerationOptions(
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            backend=backend,
            do_sample=True,
            temperature=temperature,
            seed=seed,
        )
        # Each prompt repeated k times: every backend batches these like distinct prompts.
        flat = _generate_sharded(
            model, tokenizer, [p for p in prompts for _ in range(self_consistency)], sample_options
        )
        samples = [flat[i * self_consistency : (i + 1) * self_consistency] for i in range(len(rows))]
    records = score_records(rows, completions, samples=samples)
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
    if self_consistency > 0:
        metrics["self_consistency"]["temperature"] = temperature
    if write and _is_main_process():
        metrics["files"] = write_reports(metrics, records, output_dir=output_dir, name=name, header=header)
    return metrics


def _is_main_process() -> bool:
    from accelerate import PartialState

    return PartialState().is_main_process


def summary_line(metrics: Mapping[str, Any]) -> str:
    """The seed's one-line summary: ``Correct: 90%  Parsed: 100%  Valid: 100%`` (+ expert and self-consistency)."""
    parts = [
        f"Correct: {_pct(metrics['accuracy'])} ({metrics['correct']}/{metrics['n']})",
        f"Parsed: {_pct(metrics['parse_rate'])}",
        f"Valid: {_pct(metrics['valid_rate'])}",
    ]
    if metrics.get("correct_expert_rate") is not None:
        parts.append(f"Expert: {_pct(metrics['correct_expert_rate'])}")
    sc = metrics.get("self_consistency")
    if sc:
        parts.append(f"Self-consistency@{sc['k']}: {_pct(sc['accuracy'])}")
    return "  ".join(parts)
