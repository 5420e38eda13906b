"""Reinforcement learning (RLOO, REINFORCE leave-one-out) from the SFT checkpoint with the graduated trace reward.

    accelerate launch --config_file accelerate_configs/single_gpu.yaml recipes/rl.py \\
        --config recipes/SmolLM2-135M-Instruct/rl.yaml --model_name_or_path runs/smollm2-sft

`python recipes/rl.py ...` runs one process. Rewards come from `rewards.get_reward_funcs(--reward_funcs)` (names or
dotted import paths such as `my_lib.rewards.my_reward`, as in `trl rloo`); the
recipes list `trace parse expert correctness` with weights `1 0 0 0`, so only the graduated trace reward drives
the advantage while TRL logs every component (`rewards/<name>/mean`) and `frac_reward_zero_std`. One optimizer step
is one RL iteration: `--max_steps 20` runs the original experiment's 20 iterations.

RLOO learns only from prompts whose sampled completions earn different rewards. `--filter_num_samples 8` samples 8
completions per candidate prompt before training (as RL samples them) and keeps only those prompts
(trace_recipe/prompt_filter.py; counts in `<output_dir>/prompt_filter.json`). `--dev_eval_steps N` with
`--dev_eval_set gsm8k_dev` (any named evaluation set) logs the greedy `dev/accuracy` of its first
`--dev_eval_examples` rows before training, every N steps and at the end (trace_recipe/dev_eval.py);
training_curves.png plots it beside reward, frac_reward_zero_std and KL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transformers import set_seed
from trl import ModelConfig, TrlParser, get_peft_config

from trace_recipe.checkpoints import TimedCheckpoints, save_minutes
from trace_recipe.configs import EMBEDDED_MODEL, RLScriptArguments, TraceRLOOConfig
from trace_recipe.dev_eval import DevAccuracyCallback
from trace_recipe.eval_sets import evaluate_after_training
from trace_recipe.nan_guards import SkipNonFiniteGradients, unmask_empty_attention_rows
from trace_recipe.pipeline import (
    check_inputs,
    final_evaluation,
    prepare_model,
    report_trainable,
    resume_checkpoint,
    setup_logging,
    train_and_save,
    write_card,
)
from trace_recipe.rloo_trainer import TraceRLOOTrainer
from trace_recipe.script import RecipeParser, run_script
from trace_recipe.throughput import ThroughputCallback, set_cudnn_attention
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
    set_cudnn_attention(training_args.cudnn_attention)  # off: cuDNN plans each new length on the host
    checkpoint = resume_checkpoint(training_args)
    log = training_args.distributed_state.print  # prints on the main process only

    # Data: prompts plus the `answer`/`expert` columns the rewards read (the `completion` column is not passed)
    train_dataset, eval_dataset = script_args.load_datasets(training_args.output_dir)
    eval_sets = script_args.load_eval_sets()  # named dev sets (eval_sets:), loaded now so a missing file stops here
    log(f"train examples: {len(train_dataset)}; final-evaluation examples: {len(eval_dataset or [])}")
    dev_dataset = script_args.load_dev_dataset()  # None unless --dev_eval_steps: dev/accuracy during training

    # Model (usually the SFT output folder) with the same freezing as SFT; RLOO loads its reference from the path
    base_model = model_args.model_name_or_path  # as given: prepare_model replaces it with the resolved folder
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

    # Prompt filter: keep prompts whose sampled rewards vary (the others give RLOO no advantage)
    reward_funcs = reward_funcs_by_name(script_args.reward_funcs)
    if script_args.filter_num_samples > 0:
        train_dataset = filter_rl_prompts(model, tokenizer, train_dataset, reward_funcs, script_args, training_args)

    # Trainer
    trainer = TraceRLOOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=training_args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        # a nan/inf gradient skips its optimizer step instead of turning every trainable weight into NaN
        callbacks=[
            SkipNonFiniteGradients(script_args.max_nonfinite_grad_steps),
            ThroughputCallback(),  # train_seconds_per_step: one RL iteration, sampling included
            TimedCheckpoints(save_minutes(script_args.save_every_minutes)),  # a stopped CPU run loses minutes
        ],
    )
    report_trainable(trainer.model, log=log)
    if dev_dataset is not None:  # dev/accuracy at step 0, every dev_eval_steps and at the end
        trainer.add_callback(
            DevAccuracyCallback(
                trainer,
                dev_dataset,
                every_steps=script_args.dev_eval_steps,
                batch_size=training_args.per_device_eval_batch_size,
                max_new_tokens=script_args.eval_max_new_tokens,
            )
        )

    # Train, then save model, tokenizer, metrics, trainer_state.json and training_curves.png
    train_and_save(trainer, checkpoint, log=log)

    # Evaluate on the held-out set and on the named eval_sets (unless --do_final_eval false)
    metrics = final_evaluation(trainer, tokenizer, eval_dataset, script_args, training_args)
    set_results = evaluate_after_training(trainer, tokenizer, eval_sets, script_args, training_args)
    # Model card: base model, data and the evaluation tables (TRL's names no base model for a local folder)
    write_card(trainer, base_model, script_args, train_dataset, eval_dataset, metrics, set_results)
    return trainer


# What a missing model folder means here: usually the SFT output the YAML starts from does not exist yet.
SFT_FIRST = "rl.py starts from the SFT output: run recipes/sft.py first (or pass --model_name_or_path)"


def check_rl_inputs(*arguments: Any) -> None:
    """Refuse a missing model (naming sft.py) and mismatched reward weights before anything loads."""
    check_inputs(*arguments, missing_model_hint=SFT_FIRST)


def filter_rl_prompts(
    model: Any,
    tokenizer: Any,
    dataset: Any,
    reward_funcs: list[Callable[..., list[float]]],
    script_args: RLScriptArguments,
    training_args: TraceRLOOConfig,
) -> Any:
    """The training prompts whose `filter_num_samples` samples, drawn as RL draws them, earn different rewards."""
    from trace_recipe.generation import free_graph_decoder
    from trace_recipe.prompt_filter import filter_prompts, rl_sampling_options

    model.to(training_args.device)  # sample where RL will (the trainer would move it there anyway)
    kept = filter_prompts(
        model,
        tokenizer,
        dataset,
        reward_funcs,
        num_samples=script_args.filter_num_samples,
        options=rl_sampling_options(training_args, script_args.filter_batch_size),
        reward_weights=training_args.reward_weights,
        max_prompts=script_args.filter_max_prompts,
        seed=training_args.seed,
        output_dir=training_args.output_dir,
        log=training_args.distributed_state.print,
    )
    free_graph_decoder(model)  # the filter's static cache; RL sampling builds its own
    return kept


def make_parser() -> TrlParser:
    parser = RecipeParser(
        (RLScriptArguments, TraceRLOOConfig, ModelConfig), own_types=(RLScriptArguments, TraceRLOOConfig)
    )
    parser.set_defaults(model_name_or_path=EMBEDDED_MODEL)
    return parser


if __name__ == "__main__":
    run_script(main, make_parser(), check=check_rl_inputs)
