"""SFT recipe: a few steps on the tiny random Llama, in process, through the script's own parser and main()."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from conftest import NUM_LAYERS, load_script, trace_rows

from trace_recipe.errors import RecipeError
from trace_recipe.truncation import TruncationError

sft = load_script("recipes/sft.py")

pytestmark = pytest.mark.slow


def run_sft(model_dir: Path, output_dir: Path, *flags: str):
    """Parse flags like the command line does and run the recipe's main()."""
    args = [
        "--model_name_or_path", str(model_dir),
        "--output_dir", str(output_dir),
        "--dataset_path", "rows.jsonl",
        "--max_steps", "3",
        "--per_device_train_batch_size", "4",
        "--learning_rate", "1e-2",
        "--logging_steps", "1",
        "--save_strategy", "no",
        "--report_to", "none",
        "--num_unfrozen_layers", "2",
        "--do_final_eval", "false",
        "--disable_tqdm", "true",
        *flags,
    ]  # fmt: skip
    return sft.main(*sft.make_parser().parse_args_and_config(args=args))


def initial_weights(model_dir: Path) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM

    return {k: v.clone() for k, v in AutoModelForCausalLM.from_pretrained(model_dir).state_dict().items()}


def test_frozen_parameters_stay_and_unfrozen_ones_move(tiny_model_dir, stub_data, tmp_path):
    """After SFT the embeddings, first layers and final norm are unchanged; the last 2 layers and lm_head moved."""
    before = initial_weights(tiny_model_dir)
    after = {k: v.detach().cpu() for k, v in run_sft(tiny_model_dir, tmp_path).model.state_dict().items()}
    for name, weight in after.items():
        layer = re.search(r"layers\.(\d+)\.", name)
        if name == "lm_head.weight":
            assert not torch.equal(weight, before["model.embed_tokens.weight"]), name
        elif layer and int(layer[1]) >= NUM_LAYERS - 2:
            assert not torch.equal(weight, before[name]), name
        else:
            assert torch.equal(weight, before[name]), name


def test_losses_are_finite(tiny_model_dir, stub_data, tmp_path):
    """Every logged training loss is a finite number."""
    trainer = run_sft(tiny_model_dir, tmp_path)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses)


def test_loss_covers_the_completion_only(tiny_model_dir, stub_data, tmp_path):
    """Prompt tokens are masked out of the labels (TRL's completion-only loss for prompt/completion data)."""
    trainer = run_sft(tiny_model_dir, tmp_path, "--max_steps", "1")
    labels = trainer.data_collator([trainer.train_dataset[0]])["labels"][0]
    prompt = trace_rows()[0]["prompt"]
    prompt_ids = trainer.processing_class.apply_chat_template(prompt, add_generation_prompt=True, return_dict=True)
    prompt_len = len(prompt_ids["input_ids"])
    assert prompt_len > 10
    assert (labels[:prompt_len] == -100).all() and (labels[prompt_len:] != -100).all()


def test_saved_model_reloads_untied(tiny_model_dir, stub_data, tmp_path):
    """The saved checkpoint keeps lm_head separate from the frozen input embeddings."""
    from transformers import AutoModelForCausalLM

    run_sft(tiny_model_dir, tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert not model.config.tie_word_embeddings
    assert not torch.equal(model.lm_head.weight, model.model.embed_tokens.weight)


def test_training_curves_are_plotted_from_the_trainer_log(tiny_model_dir, stub_data, tmp_path):
    """After training, training_curves.png holds the logged loss (one point per step at logging_steps 1)."""
    trainer = run_sft(tiny_model_dir, tmp_path)
    assert [entry["step"] for entry in trainer.state.log_history if "loss" in entry] == [1, 2, 3]
    assert (tmp_path / "training_curves.png").stat().st_size > 1000


def test_truncation_guard_stops_training(tiny_model_dir, stub_data, tmp_path):
    """A max_length shorter than the examples stops SFT before training, with a count of the truncated examples."""
    with pytest.raises(TruncationError, match=r"16 of 16 examples exceed max_length=20"):
        run_sft(tiny_model_dir, tmp_path, "--max_length", "20")


def test_allow_truncation_trains_anyway(tiny_model_dir, stub_data, tmp_path):
    """--allow_truncation lets SFT train on cut examples."""
    trainer = run_sft(tiny_model_dir, tmp_path, "--max_length", "96", "--allow_truncation", "--max_steps", "1")
    assert trainer.state.global_step == 1


def test_final_evaluation_gets_the_trained_model(tiny_model_dir, stub_data, tmp_path, monkeypatch):
    """With do_final_eval, run_evaluation receives the model, the tokenizer, the eval set and the report settings."""
    import sys
    import types

    calls = []
    module = types.ModuleType("trace_recipe.evaluation")
    module.run_evaluation = lambda *args, **kwargs: calls.append((args, kwargs)) or {}  # type: ignore[attr-defined]
    module.summary_line = lambda metrics: "summary"  # type: ignore[attr-defined]  # the run's last lines use it
    monkeypatch.setitem(sys.modules, "trace_recipe.evaluation", module)
    trainer = run_sft(
        tiny_model_dir, tmp_path, "--do_final_eval", "true", "--eval_dataset_path", "eval.jsonl",
        "--per_device_eval_batch_size", "5", "--eval_max_new_tokens", "33", "--max_steps", "1",
    )  # fmt: skip
    (model, tokenizer, dataset), kwargs = calls[0]
    assert model is trainer.model and tokenizer is trainer.processing_class and len(dataset) == 16
    assert kwargs == {"output_dir": str(tmp_path), "batch_size": 5, "max_new_tokens": 33}
    assert stub_data == ["rows.jsonl", "eval.jsonl"]


def test_gradient_checkpointing_still_trains_the_unfrozen_layers(tiny_model_dir, stub_data, tmp_path):
    """With checkpointing on (the GPU default) and frozen inputs to the last layers, those layers still get updates."""
    before = initial_weights(tiny_model_dir)
    trainer = run_sft(tiny_model_dir, tmp_path, "--gradient_checkpointing", "true", "--max_steps", "1")
    assert trainer.args.gradient_checkpointing
    after = trainer.model.state_dict()
    name = f"model.layers.{NUM_LAYERS - 1}.self_attn.q_proj.weight"
    assert not torch.equal(after[name], before[name])


def test_resume_from_checkpoint_continues_the_run(tiny_model_dir, stub_data, tmp_path):
    """`--resume_from_checkpoint true` picks the newest checkpoint in output_dir and trains on from its step."""
    run_sft(tiny_model_dir, tmp_path, "--max_steps", "2", "--save_strategy", "steps", "--save_steps", "2")
    assert (tmp_path / "checkpoint-2").is_dir()
    trainer = run_sft(tiny_model_dir, tmp_path, "--max_steps", "3", "--resume_from_checkpoint", "true")
    steps = [entry["step"] for entry in trainer.state.log_history if "loss" in entry]
    assert steps == [1, 2, 3] and trainer.state.global_step == 3


def test_resume_without_a_checkpoint_fails_in_one_line(tiny_model_dir, stub_data, tmp_path):
    """Asking to resume where no checkpoint exists is a one-line RecipeError, not a traceback from the trainer."""
    with pytest.raises(RecipeError, match="no checkpoint-\\* folder"):
        run_sft(tiny_model_dir, tmp_path, "--resume_from_checkpoint", "true")


def test_lora_trains_adapters_through_the_script(tiny_model_dir, stub_data, tmp_path):
    """--use_peft goes through SFTTrainer's PEFT path: only LoRA weights are trainable and training runs."""
    trainer = run_sft(tiny_model_dir, tmp_path, "--use_peft", "--lora_r", "4", "--max_steps", "1")
    trainable = [name for name, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable) and trainer.state.global_step == 1


def test_final_evaluation_is_skipped_with_a_hint_when_parameters_are_sharded(monkeypatch):
    """Under FSDP/DeepSpeed the final evaluation is skipped with the command that evaluates the saved model."""
    import sys
    import types
    from types import SimpleNamespace

    from trace_recipe.pipeline import final_evaluation

    calls, printed = [], []
    module = types.ModuleType("trace_recipe.evaluation")
    module.run_evaluation = lambda *args, **kwargs: calls.append(args)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "trace_recipe.evaluation", module)
    args = SimpleNamespace(output_dir="runs/x", distributed_state=SimpleNamespace(print=printed.append))
    for sharding in ("is_fsdp_enabled", "is_deepspeed_enabled"):
        trainer = SimpleNamespace(**{sharding: True})
        assert final_evaluation(trainer, None, ["row"], SimpleNamespace(), args) is None
    assert not calls and len(printed) == 2
    assert "recipes/evaluate.py --model_name_or_path runs/x" in printed[0]


def test_missing_dataset_file_exits_with_one_line(tmp_path, capsys):
    """`recipes/sft.py --dataset_path` naming no file stops before the model loads, with one line naming the file."""
    from trace_recipe.script import run_script

    missing = tmp_path / "absent.jsonl"
    flags = ["--dataset_path", str(missing), "--output_dir", str(tmp_path / "run"), "--report_to", "none"]
    with pytest.raises(SystemExit) as stop:
        run_script(sft.main, sft.make_parser(), args=flags)
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: {missing}: no such file; expected JSONL, one JSON object a line"
    )
