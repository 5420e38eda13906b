"""The named evaluation sets, and one table over several of them.

    gsm8k_dev            the last 500 problems of GSM-8K train (a local file or the hub id openai/gsm8k); answers only
    mawps_dev            the last 300 rows of the MAWPS/ASDiv-A CSV; answers only
    synthetic            the recipes' generated held-out set (the same `generate_splits` call as training makes)
    synthetic_templates  generated questions from one template per expert that `trace-solver generate
                         --holdout-templates 1` keeps out of its training file (the recipes' own generated
                         training sets use every template, so for them these are seen templates)
    long_chains          generated 5-8 operation chains (training uses 1-3)

"Answers only": the gold expert is unknown, so any expert may solve the problem and only the answer is scored.
`recipes/evaluate.py --eval_sets ...` and the recipes' `eval_sets:` evaluate several and write `eval_sets.md` (the
table) and `eval_sets.json` (the headline metrics per set) beside each set's own reports.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trace_recipe.errors import RecipeError

if TYPE_CHECKING:
    from datasets import Dataset

EVAL_SETS = ("gsm8k_dev", "mawps_dev", "synthetic", "synthetic_templates", "long_chains")
HOLDOUT_TEMPLATES = 1  # templates held out per expert for synthetic_templates
LONG_CHAIN_STEPS = (5, 8)
TABLE_METRICS = (("accuracy", "Accuracy"), ("parse_rate", "Parsed"), ("valid_rate", "Valid"))


class EvalSetError(RecipeError, ValueError):
    """An unknown eval set, or one without the file it needs; the message names the fix."""


def check_eval_sets(names: Sequence[str], gsm8k_path: str | None, mawps_path: str | None) -> None:
    """Refuse an unknown set name, or a real-data set without the file it needs, in one line."""
    unknown = [name for name in names if name not in EVAL_SETS]
    if unknown:
        raise EvalSetError(f"unknown eval set {unknown[0]!r}; choose from {', '.join(EVAL_SETS)}")
    if "gsm8k_dev" in names and not gsm8k_path:
        raise EvalSetError("eval set gsm8k_dev needs --gsm8k_path: GSM-8K's train.jsonl or the hub id openai/gsm8k")
    if "mawps_dev" in names and not mawps_path:
        raise EvalSetError("eval set mawps_dev needs --mawps_path: the MAWPS/ASDiv-A train.csv")


def load_eval_set(
    name: str,
    *,
    gsm8k_path: str | None = None,
    mawps_path: str | None = None,
    num_examples: int = 248,
    seed: int = 0,
    experts: Sequence[str] | None = None,
    min_steps: int = 1,
    max_steps: int = 3,
) -> Dataset:
    """One named set as prompt/answer/expert rows (generated sets have completions too, unused by evaluation)."""
    check_eval_sets([name], gsm8k_path, mawps_path)
    if name == "gsm8k_dev":
        return _gsm8k_dev(str(gsm8k_path))
    if name == "mawps_dev":
        return _mawps_dev(str(mawps_path))
    from trace_solver.generate import generate_splits

    options: dict[str, Any] = {"experts": experts, "min_steps": min_steps, "max_steps": max_steps}
    if name == "synthetic_templates":
        options["holdout_templates"] = HOLDOUT_TEMPLATES
    if name == "long_chains":
        options["eval_steps"] = LONG_CHAIN_STEPS
    from trace_recipe.data import rows_to_dataset

    # The eval rows depend only on n_eval, seed, experts and steps: the same call as training makes gives the same set
    return rows_to_dataset(generate_splits(0, num_examples, seed, **options)[1])


def load_eval_set_for(name: str, args: Any) -> Dataset:
    """`load_eval_set` with the options a run was given: `gsm8k_path`, `mawps_path`, `num_eval_examples`,
    `generator_seed`, `experts`, `min_trace_steps`, `max_trace_steps` (the recipes' script arguments and
    `recipes/evaluate.py`'s all have them), so that every caller builds a named set the same way."""
    return load_eval_set(
        name,
        gsm8k_path=args.gsm8k_path,
        mawps_path=args.mawps_path,
        num_examples=args.num_eval_examples,
        seed=args.generator_seed,
        experts=args.experts,
        min_steps=args.min_trace_steps,
        max_steps=args.max_trace_steps,
    )


def _whole_train_split(path: str) -> list[dict[str, Any]]:
    from trl.scripts.utils import DatasetConfig

    from trace_recipe.mixture import load_split

    return load_split(DatasetConfig(path=path), "train").to_list()


def _gsm8k_dev(path: str) -> Dataset:
    from trace_recipe.data import gsm8k_example
    from trace_solver import gsm8k

    rows = _whole_train_split(path)
    bounds = gsm8k.split_bounds(len(rows), "dev")
    examples = [
        gsm8k_example(row, f"{path} (train row {index})") for index, row in enumerate(rows) if bounds.start <= index
    ]
    return _answers_only(examples)


def _mawps_dev(path: str) -> Dataset:
    from trace_recipe.data import gsm8k_example
    from trace_recipe.mixture import _text
    from trace_solver import mawps
    from trace_solver.gsm8k import ConversionSkip
    from trace_solver.numbers import NumberError

    rows = [{key: _text(value) for key, value in row.items()} for row in _whole_train_split(path)]
    examples = []
    for index in range(len(rows))[mawps.split_bounds(len(rows), "dev", mawps.DEV_SIZE)]:
        row = rows[index]
        try:  # the converter's question and exact answer when it verifies the row ...
            converted = mawps.convert_row(row, f"mawps-dev-{index:05d}")
            question, answer = converted["question"], converted["answer"]
        except ConversionSkip:  # ... else the restored question and the CSV's answer
            try:
                numbers = [mawps.written_number(raw) for raw in row.get("Numbers", "").split()]
                question = mawps.restore_question(row.get("Question", ""), numbers)[0]
            except (ConversionSkip, NumberError):
                question = mawps.detokenize(row.get("Question", ""))
            answer = row.get("Answer", "")
        examples.append(gsm8k_example({"question": question, "answer": f"#### {answer}"}, f"{path} (row {index})"))
    return _answers_only(examples)


def _answers_only(examples: list[dict[str, Any]]) -> Dataset:
    from datasets import Dataset

    from trace_recipe.data import DataError

    if not examples:
        raise DataError("the dev split is empty")
    return Dataset.from_list(examples)


def combined_table(results: Mapping[str, Mapping[str, Any]], header: Mapping[str, str] | None = None) -> str:
    """Markdown: one row per set with accuracy (correct/n), parse and valid rates, and correct-expert rate."""
    lines = ["# Evaluation", ""]
    lines += [f"**{key}**: {value}  " for key, value in (header or {}).items()]
    lines += ["", "| Set | n | " + " | ".join(title for _, title in TABLE_METRICS) + " | Correct expert |"]
    lines.append("|" + "---|" * (len(TABLE_METRICS) + 3))
    for name, metrics in results.items():
        cells = [_percent(metrics.get(key)) for key, _ in TABLE_METRICS]
        cells[0] += f" ({metrics['correct']}/{metrics['n']})"
        expert = _percent(metrics.get("correct_expert_rate"))
        lines.append(f"| {name} | {metrics['n']} | " + " | ".join(cells) + f" | {expert} |")
    return "\n".join(lines) + "\n"


def write_table(
    results: Mapping[str, Mapping[str, Any]], output_dir: str, header: Mapping[str, str] | None = None
) -> str:
    """Write `eval_sets.md` (the table) and `eval_sets.json` (headline metrics per set); return the table."""
    table = combined_table(results, header)
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "eval_sets.md"), "w", encoding="utf-8") as handle:
        handle.write(table)
    keys = ("n", "correct", "accuracy", "parse_rate", "valid_rate", "correct_expert_rate", "mean_reward")
    summary = {name: {key: metrics.get(key) for key in keys} for name, metrics in results.items()}
    with open(os.path.join(output_dir, "eval_sets.json"), "w", encoding="utf-8") as handle:
        json.dump({**dict(header or {}), "sets": summary}, handle, indent=2)
    return table


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def evaluate_after_training(
    trainer: Any, tokenizer: Any, sets: Mapping[str, Dataset], script_args: Any, training_args: Any
) -> dict[str, dict[str, Any]]:
    """The recipes' final evaluation on the named `eval_sets` (every rank takes part): each set's reports, then the
    table in `<output_dir>/eval_sets.{md,json}`, printed."""
    if not sets:
        return {}
    if getattr(trainer, "is_fsdp_enabled", False) or getattr(trainer, "is_deepspeed_enabled", False):
        training_args.distributed_state.print(
            "eval_sets skipped: parameters are sharded; run `python recipes/evaluate.py --model_name_or_path "
            f"{training_args.output_dir} --eval_sets {' '.join(sets)}` on one GPU"
        )
        return {}
    from trace_recipe.evaluation import run_evaluation
    from trace_recipe.pipeline import model_for_generation

    output_dir = training_args.output_dir
    results = {}
    with model_for_generation(trainer) as model:
        for name, dataset in sets.items():
            results[name] = run_evaluation(
                model,
                tokenizer,
                dataset,
                output_dir=output_dir,
                batch_size=training_args.per_device_eval_batch_size,
                max_new_tokens=script_args.eval_max_new_tokens,
                name=name,
            )
    if training_args.distributed_state.is_main_process:
        print(write_table(results, output_dir, {"Model": output_dir}), end="")
    return results
