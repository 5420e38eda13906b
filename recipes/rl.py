"""Reinforcement learning (RLOO, REINFORCE leave-one-out) from the SFT checkpoint with the graduated trace reward.

    accelerate launch --config_file accelerate_configs/single_gpu.yaml recipes/rl.py \\
        --config recipes/SmolLM2-135M-Instruct/rl.yaml --model_name_or_path runs/smollm2-sft

`python recipes/rl.py ...` runs one process. Rewards come from `rewards.get_reward_funcs(--reward_funcs)` (names or
dotted import paths such as `my_lib.rewards.my_reward`, as in `trl rloo`); the
recipes list `trace parse expert correctness` with weights `1 0 0 0`, so only the graduated trace reward drives
the advantage while TRL logs every component (`rewards/<name>/mean`) and `frac_reward_zero_std`. One optimizer step
is one RL iteration: `--max_steps 20` reproduces the seed's 20 iterations.
"""

from __future__ import annotations

from collections.abc import Callable

from transformers import set_seed
from trl import ModelConfig, TrlParser, get_peft_config

from trace_recipe.configs import EMBEDDED_MODEL, RLScriptArguments, TraceRLOOConfig
from trace_recipe.nan_guards import SkipNonFiniteGradients, unmask_empty_attention_rows
from trace_recipe.pipeline import (
    final_evaluation,
    prepare_model,
    report_trainable,
    resume_checkpoint,
    run_script,
    setup_logging,
    train_and_save,
)
from trace_recipe.rloo_trainer import TraceRLOOTrainer
from trace_recipe.truncation import check_rl_lengths


def reward_funcs_by_name(names: list[str]) -> list[Callable[..., list[float]]]:
    """Resolve the recipe's rewards: `trace`, `parse`, `expert`, `correctness`, or dotted import paths."""
    from rewards import get_reward_funcs

    return get_reward_funcs(names)


def main(script_args: RLScriptArguments, training_args: TraceRLOOConfig, model_args: ModelConfig) -> TraceRLOOTrainer:
    # Seed, logging, SDPA masks without empty rows (NaN on GPUs; trace_recipe/nan_guards.py), checkpoint
    set_seed(training_args.seed)
    setup_logging(training_args)
    unmask_empty_attention_rows()
    checkpoint = resume_checkpoint(training_args)
    log = training_args.distributed_state.print  # prints on the main process only

    # Data: prompts plus the `answer`/`expert` columns the rewards read (the `completion` column is not passed)
    train_dataset, eval_dataset = script_args.load_datasets(training_args.output_dir)
    log(f"train examples: {len(train_dataset)}; final-evaluation examples: {len(eval_dataset or [])}")

    # Model (usually the SFT output folder) with the same freezing as SFT; RLOO loads its reference from the path
    model, tokenizer = prepare_model(script_args, model_args, log=log)

    # Length guard: the longest reference trace must fit max_completion_length
    check_rl_lengths(
        train_dataset,
        tokenizer,
        training_args.max_completion_length,
        context_length=getattr(model.config, "max_position_embeddings", None),
        allow_truncation=script_args.allow_truncation,
        log=log,
    )

    # Trainer
    trainer = TraceRLOOTrainer(
        model=model,
        reward_funcs=reward_funcs_by_name(script_args.reward_funcs),
        args=training_args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        # a nan/inf gradient skips its optimizer step instead of turning every trainable weight into NaN
        callbacks=[SkipNonFiniteGradients(script_args.max_nonfinite_grad_steps)],
    )
    report_trainable(trainer.model, log=log)

    # Train, then save model, tokenizer, metrics, trainer_state.json and training_curves.png
    train_and_save(trainer, checkpoint, log=log)

    # Evaluate on the held-out set (unless --do_final_eval false)
    final_evaluation(trainer, tokenizer, eval_dataset, script_args, training_args)
    return trainer


def make_parser() -> TrlParser:
    parser = TrlParser((RLScriptArguments, TraceRLOOConfig, ModelConfig))
    parser.set_defaults(model_name_or_path=EMBEDDED_MODEL)
    return parser


if __name__ == "__main__":
    run_script(main, make_parser())
