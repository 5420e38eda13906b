"""The steps `recipes/sft.py` and `recipes/rl.py` run the same way: logging, resuming, loading and freezing the
model, training and saving, the final evaluation (ending with its summary line), and the input checks that run
before any model loads (`check_inputs`; `trace_recipe.script.run_script` runs them).

Heavy imports (transformers, datasets, accelerate, matplotlib) stay inside the functions, so importing this module
costs little.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from trace_recipe.errors import RecipeError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainingArguments
    from trl import ModelConfig

    from trace_recipe.configs import TraceScriptArguments

logger = logging.getLogger("trace_recipe")


def setup_logging(training_args: TrainingArguments) -> None:
    """Route Python, transformers and datasets logging to stderr at the trainer's log level (main process)."""
    import datasets
    import transformers

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=[logging.StreamHandler()])
    level = training_args.get_process_log_level()
    logger.setLevel(level)
    datasets.utils.logging.set_verbosity(level)
    transformers.utils.logging.set_verbosity(level)


def resume_checkpoint(training_args: TrainingArguments) -> str | None:
    """The checkpoint to resume from: `--resume_from_checkpoint PATH`, or `true`/`last` for the newest in output_dir.

    A checkpoint found without the flag is only reported: resuming silently from a stale run would surprise.
    """
    from transformers.trainer_utils import get_last_checkpoint

    value = training_args.resume_from_checkpoint
    last = get_last_checkpoint(training_args.output_dir) if os.path.isdir(training_args.output_dir) else None
    if value is None or str(value).lower() in ("false", "no", "none", ""):
        if last is not None:
            logger.warning("found %s: pass --resume_from_checkpoint true to resume from it", last)
        return None
    if str(value).lower() in ("true", "yes", "last"):
        if last is None:
            raise RecipeError(f"--resume_from_checkpoint: no checkpoint-* folder in {training_args.output_dir}")
        return last
    if not os.path.isdir(value):
        raise RecipeError(f"--resume_from_checkpoint: {value} is not a folder")
    return value


def prepare_model(
    script_args: TraceScriptArguments, model_args: ModelConfig, log: Any = print
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Resolve and load the model and tokenizer, then freeze all but the last layers (unless LoRA is used).

    `model_args.model_name_or_path` is replaced by the resolved folder, so everything after (RLOO's reference
    model, the saved config) points at real files rather than at `embedded:` or a `.gguf`.
    """
    from trace_recipe.freezing import freeze_all_but_last_layers
    from trace_recipe.model import load_model_and_tokenizer, resolve_model_path

    path = resolve_model_path(model_args.model_name_or_path)
    model_args.model_name_or_path = path
    model, tokenizer = load_model_and_tokenizer(
        path,
        dtype=model_args.dtype,
        attn_implementation=model_args.attn_implementation,
        revision=model_args.model_revision,
    )
    if model_args.use_peft:
        log("use_peft: LoRA adapters train and the base model stays frozen; num_unfrozen_layers is ignored")
    else:
        freeze_all_but_last_layers(
            model,
            script_args.num_unfrozen_layers,
            train_lm_head=script_args.train_lm_head,
            untie=script_args.untie_lm_head,
        )
    return model, tokenizer


def report_trainable(model: PreTrainedModel, log: Any = print) -> None:
    """Print the trainable-parameter table and refuse to go on when nothing would train."""
    from trace_recipe.freezing import require_trainable, trainable_table

    log(trainable_table(model))
    require_trainable(model)


def train_and_save(trainer: Any, checkpoint: str | None, log: Any = print) -> None:
    """Train (resuming from `checkpoint` if given), then save model, tokenizer, metrics and trainer_state.json, and
    plot the logged curves (loss; for RL reward, its components and frac_reward_zero_std) to training_curves.png."""
    from trace_recipe.throughput import ThroughputCallback

    result = trainer.train(resume_from_checkpoint=checkpoint)
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, ThroughputCallback):  # real tokens/s, MFU, peak memory of the timed steps
            result.metrics.update(callback.summary)
    trainer.log_metrics("train", result.metrics)
    trainer.save_metrics("train", result.metrics)
    trainer.save_state()
    trainer.save_model(trainer.args.output_dir)
    log(f"model saved to {trainer.args.output_dir}")
    from accelerate.utils import release_memory

    # The allocator keeps the training activations' blocks reserved: give them back to the device before the
    # evaluation allocates its static caches (and to other runs sharing the GPU)
    release_memory()
    if trainer.is_world_process_zero():
        from trace_recipe.plots import plot_training_curves  # lazy: matplotlib

        output_dir = trainer.args.output_dir
        plot = plot_training_curves(output_dir, os.path.join(output_dir, "training_curves.png"))
        log(f"training curves: {plot}" if plot else "training curves: nothing was logged")


_AUTOCAST_ATTRIBUTES = ("forward", "_original_forward")  # what accelerate's prepare_model sets for native AMP


@contextmanager
def model_for_generation(trainer: Any) -> Iterator[PreTrainedModel]:
    """The trainer's bare model without accelerate's mixed-precision forward wrapper, which is put back on exit.

    Under bf16 autocast an fp32 model writes bf16 keys into the fp32 static cache of the fast generation backends,
    which fail (seen on an H100). `unwrap_model(..., keep_fp32_wrapper=False)` strips the wrapper for
    good, which would leave the rest of training without autocast, so the wrapper's attributes are restored here.
    """
    accelerator = trainer.accelerator
    model = accelerator.unwrap_model(trainer.model_wrapped)  # the same object, wrapper still on
    saved = {key: model.__dict__[key] for key in _AUTOCAST_ATTRIBUTES if key in model.__dict__}
    try:
        yield accelerator.unwrap_model(trainer.model_wrapped, keep_fp32_wrapper=False)
    finally:
        for key in _AUTOCAST_ATTRIBUTES:
            model.__dict__.pop(key, None)
        model.__dict__.update(saved)


def final_evaluation(
    trainer: Any,
    tokenizer: PreTrainedTokenizerBase,
    eval_dataset: Any,
    script_args: TraceScriptArguments,
    training_args: TrainingArguments,
) -> dict[str, Any] | None:
    """Evaluate the trained model on the held-out set (every rank takes part; reports go to output_dir)."""
    if eval_dataset is None:
        return None
    if getattr(trainer, "is_fsdp_enabled", False) or getattr(trainer, "is_deepspeed_enabled", False):
        # Sharded ranks would have to decode in lockstep; the saved model is whole, so evaluate that instead.
        training_args.distributed_state.print(
            "final evaluation skipped: parameters are sharded; run `python recipes/evaluate.py --model_name_or_path "
            f"{training_args.output_dir} --dataset_path EVAL.jsonl` on one GPU"
        )
        return None
    from trace_recipe.evaluation import run_evaluation  # lazy: pulls in generation and plotting

    with model_for_generation(trainer) as model:
        metrics = run_evaluation(
            model,
            tokenizer,
            eval_dataset,
            output_dir=training_args.output_dir,
            batch_size=training_args.per_device_eval_batch_size,
            max_new_tokens=script_args.eval_max_new_tokens,
        )
    training_args.distributed_state.print(final_report(metrics, training_args.output_dir))
    return metrics


def write_card(
    trainer: Any,
    base_model: str | None,
    script_args: TraceScriptArguments,
    train_dataset: Any,
    eval_dataset: Any,
    metrics: dict[str, Any] | None,
    set_results: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Write the model card README.md (base model, data, evaluation tables) to output_dir on the main process."""
    if not trainer.is_world_process_zero():
        return
    from trace_recipe.model_card import write_model_card

    name = "sft" if "SFT" in type(trainer).__name__ else "rloo"
    write_model_card(
        trainer.args.output_dir,
        trainer_name=name,
        base_model=base_model,
        script_args=script_args,
        train_size=len(train_dataset),
        eval_size=None if eval_dataset is None else len(eval_dataset),
        metrics=metrics,
        set_results=set_results,
    )


def final_report(metrics: dict[str, Any], output_dir: str, report: str = "eval") -> str:
    """What a run prints last: the summary line, accuracy per expert, and where the model and reports are."""
    from trace_recipe.evaluation import summary_line

    lines = [f"final evaluation: {summary_line(metrics)}"]
    per_expert = metrics.get("per_expert") or {}
    if per_expert:
        lines.append("per expert: " + "  ".join(f"{name} {_percent(row)}" for name, row in per_expert.items()))
    lines.append(
        f"model and its card (README.md) in {output_dir}; "
        f"reports in {os.path.join(output_dir, report)}.{{json,md}} and {report}_records.jsonl"
    )
    return "\n".join(lines)


def _percent(row: Any) -> str:
    accuracy = row.get("accuracy") if isinstance(row, dict) else row
    return "n/a" if accuracy is None else f"{100 * accuracy:.1f}%"


def check_inputs(
    script_args: TraceScriptArguments,
    training_args: TrainingArguments,
    model_args: ModelConfig,
    *,
    missing_model_hint: str = "",
) -> None:
    """The checks that need no model, run before any data or model is loaded: the model reference (a missing
    local folder is refused at once instead of being tried as a hub id) and, for RL, rewards against their weights."""
    from trace_recipe.model import check_model_reference

    check_model_reference(model_args.model_name_or_path, missing_model_hint)
    reward_funcs = getattr(script_args, "reward_funcs", None)
    weights = getattr(training_args, "reward_weights", None)
    if reward_funcs is not None and weights is not None and len(weights) != len(reward_funcs):
        raise RecipeError(
            f"--reward_weights has {len(weights)} values for {len(reward_funcs)} --reward_funcs "
            f"({' '.join(reward_funcs)}): give one weight per reward"
        )
