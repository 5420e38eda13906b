"""Supervised fine-tuning: teach a small chat model to answer word problems with YAML traces.

    accelerate launch --config_file accelerate_configs/single_gpu.yaml recipes/sft.py \\
        --config recipes/SmolLM2-135M-Instruct/sft.yaml

Any flag overrides the YAML (`--learning_rate 1e-4 --output_dir runs/x`). `python recipes/sft.py ...` runs one
process; `accelerate launch --config_file accelerate_configs/ddp.yaml --num_processes 2 recipes/sft.py ...` runs
data-parallel on 2 GPUs, or on 2 CPU processes (gloo) on a host without GPUs.
Without `--model_name_or_path` the embedded SmolLM2-135M-Instruct is used. Data: a `datasets:` mixture in the YAML
(TRL's DatasetMixtureConfig), `--dataset_name` (hub id such as openai/gsm8k, or a local .jsonl/.csv/.parquet file,
converted by its columns: trace_recipe/mixture.py), `--dataset_path` (a trace JSONL), else 250 generated examples.
`--eval_sets gsm8k_dev mawps_dev ...` ends the run with those dev sets (trace_recipe/eval_sets.py). The loss covers
the completion (the trace) only, TRL's default for prompt/completion data.
"""

from __future__ import annotations

from transformers import set_seed
from trl import ModelConfig, SFTTrainer, TrlParser, get_peft_config

from trace_recipe.checkpoints import TimedCheckpoints, save_minutes
from trace_recipe.configs import EMBEDDED_MODEL, SFTScriptArguments, TraceSFTConfig
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
from trace_recipe.script import RecipeParser, run_script
from trace_recipe.throughput import ThroughputCallback, set_cudnn_attention
from trace_recipe.truncation import check_sft_lengths


def main(script_args: SFTScriptArguments, training_args: TraceSFTConfig, model_args: ModelConfig) -> SFTTrainer:
    # Seed, logging, SDPA masks without empty rows (NaN on GPUs; trace_recipe/nan_guards.py), checkpoint
    set_seed(training_args.seed)
    setup_logging(training_args)
    unmask_empty_attention_rows()
    set_cudnn_attention(training_args.cudnn_attention)  # off: cuDNN plans each new length on the host
    checkpoint = resume_checkpoint(training_args)
    log = training_args.distributed_state.print  # prints on the main process only

    # Data: prompt = [system, user] messages, completion = [assistant] trace, plus answer/expert columns
    train_dataset, eval_dataset = script_args.load_datasets(training_args.output_dir)
    eval_sets = script_args.load_eval_sets()  # named dev sets (eval_sets:), loaded now so a missing file stops here
    log(f"train examples: {len(train_dataset)}; final-evaluation examples: {len(eval_dataset or [])}")

    # Model and tokenizer; all but the last layers and lm_head frozen before the trainer wraps the model
    base_model = model_args.model_name_or_path  # as given: prepare_model replaces it with the resolved folder
    model, tokenizer = prepare_model(script_args, model_args, log=log)

    # Truncation guard: TRL would cut long examples silently (the original experiment's 0%-correct failure)
    if not training_args.packing:
        check_sft_lengths(
            train_dataset,
            tokenizer,
            training_args.max_length,
            allow_truncation=script_args.allow_truncation,
            log=log,
        )

    # Trainer
    trainer = SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        # a nan/inf gradient skips its optimizer step instead of turning every trainable weight into NaN
        # ... and real tokens/s, MFU and peak memory are logged (train_real_tokens_per_second, train_mfu)
        callbacks=[
            SkipNonFiniteGradients(script_args.max_nonfinite_grad_steps),
            ThroughputCallback(),
            TimedCheckpoints(save_minutes(script_args.save_every_minutes)),  # a stopped CPU run loses minutes
        ],
    )
    report_trainable(trainer.model, log=log)

    # Train, then save model, tokenizer, metrics, trainer_state.json and training_curves.png
    train_and_save(trainer, checkpoint, log=log)

    # Evaluate on the held-out set and on the named eval_sets (unless --do_final_eval false)
    metrics = final_evaluation(trainer, tokenizer, eval_dataset, script_args, training_args)
    set_results = evaluate_after_training(trainer, tokenizer, eval_sets, script_args, training_args)
    # Model card: base model, data and the evaluation tables (TRL's names no base model for a local folder)
    write_card(trainer, base_model, script_args, train_dataset, eval_dataset, metrics, set_results)
    return trainer


def make_parser() -> TrlParser:
    parser = RecipeParser(
        (SFTScriptArguments, TraceSFTConfig, ModelConfig), own_types=(SFTScriptArguments, TraceSFTConfig)
    )
    parser.set_defaults(model_name_or_path=EMBEDDED_MODEL)
    return parser


if __name__ == "__main__":
    run_script(main, make_parser(), check=check_inputs)
