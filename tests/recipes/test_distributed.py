"""`accelerate launch` with two CPU processes (gloo, through accelerate_configs/ddp.yaml): the SFT and RL recipes train,
freeze alike on both ranks, score each completion once, and save.

On a host without GPUs accelerate runs every multi-GPU config, fsdp.yaml included, as plain data parallelism over
gloo, so the sharded strategy can only be exercised on GPUs (docs/results.md)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


TRAINING_FLAGS = ("--logging_steps", "1", "--save_strategy", "no", "--report_to", "none", "--do_final_eval", "false",
                  "--disable_tqdm", "true")  # fmt: skip


def launch(script: str, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a recipe under `accelerate launch` with 2 CPU processes and the DDP config; fail with its stderr."""
    command = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(ROOT / "accelerate_configs" / "ddp.yaml"),
        "--num_processes", "2",
        "--main_process_port", str(29500 + os.getpid() % 1000),
        str(ROOT / "recipes" / script),
        *(TRAINING_FLAGS if script != "evaluate.py" else ()),
        *flags,
    ]  # fmt: skip
    # The packages come from `pip install -e .`; PYTHONPATH adds only this folder, for the test reward's dotted path
    paths = [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, paths)),
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **(env or {}),
    }
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def assert_only_unfrozen_layers_changed(before_dir: Path, after_dir: Path, first_unfrozen: int) -> None:
    """Embeddings and layers below `first_unfrozen` are as they were; the last layer and lm_head are not."""
    from transformers import AutoModelForCausalLM

    before = AutoModelForCausalLM.from_pretrained(before_dir).state_dict()
    after = AutoModelForCausalLM.from_pretrained(after_dir)
    assert not after.config.tie_word_embeddings  # lm_head was untied into its own trained copy
    after = after.state_dict()
    for name, weight in after.items():
        layer = re.search(r"layers\.(\d+)\.", name)
        if layer and int(layer[1]) < first_unfrozen or "embed_tokens" in name:
            assert torch.equal(weight, before[name]), name
    assert not torch.equal(after["model.layers.3.mlp.down_proj.weight"], before["model.layers.3.mlp.down_proj.weight"])
    assert not torch.equal(after["lm_head.weight"], before["model.embed_tokens.weight"])


def test_sft_under_accelerate_with_two_cpu_processes(tiny_model_dir, dataset_jsonl, tmp_path):
    """Two gloo ranks share 2 SFT steps on the tiny model; the table prints once, only the last layer and lm_head
    change, and the model is saved untied."""
    output_dir = tmp_path / "run"
    result = launch(
        "sft.py",
        "--model_name_or_path", str(tiny_model_dir),
        "--dataset_path", str(dataset_jsonl),
        "--output_dir", str(output_dir),
        "--max_steps", "2",
        "--per_device_train_batch_size", "2",
        "--num_unfrozen_layers", "1",
        "--learning_rate", "1e-2",
    )  # fmt: skip
    assert result.stdout.count("module group") == 1  # the main process alone prints the table
    assert "model.layers.3" in result.stdout and "model.layers.0-2" in result.stdout

    state = json.loads((output_dir / "trainer_state.json").read_text())
    assert state["global_step"] == 2 and state["epoch"] == 0.5  # 2 steps x 2 ranks x 2 examples = 8 of 16
    # the non-finite-gradient check all-reduced its flag over gloo every step and found nothing to skip
    assert [entry["nonfinite_steps_skipped"] for entry in state["log_history"]] == [0, 0, 0]
    assert_only_unfrozen_layers_changed(tiny_model_dir, output_dir, first_unfrozen=3)


def test_rl_under_accelerate_with_two_cpu_processes(tiny_model_dir, dataset_jsonl, tmp_path):
    """Two gloo ranks run 2 RLOO iterations: each rank scores only the completions it generated (16 in all, none
    twice), and only the unfrozen layers change."""
    output_dir, counter_dir = tmp_path / "run", tmp_path / "reward_calls"
    counter_dir.mkdir()
    launch(
        "rl.py",
        "--model_name_or_path", str(tiny_model_dir),
        "--dataset_path", str(dataset_jsonl),
        "--output_dir", str(output_dir),
        "--reward_funcs", "reward_counter.counted_reward",
        "--reward_weights", "1.0",
        "--max_steps", "2",
        "--per_device_train_batch_size", "4",
        "--gradient_accumulation_steps", "1",
        "--num_generations", "4",
        "--max_completion_length", "64",
        "--num_unfrozen_layers", "1",
        "--learning_rate", "1e-2",
        "--beta", "0.0",
        env={"REWARD_COUNTER_DIR": str(counter_dir)},
    )  # fmt: skip
    scored = {path.name: [json.loads(line) for line in path.read_text().splitlines()] for path in counter_dir.iterdir()}
    assert sorted(scored) == ["rank-0.jsonl", "rank-1.jsonl"]
    for calls in scored.values():  # 2 iterations x 4 completions per rank, with their answers alongside
        assert [call["completions"] for call in calls] == [4, 4]
        assert all(call["answers"] == call["completions"] for call in calls)
    assert_only_unfrozen_layers_changed(tiny_model_dir, output_dir, first_unfrozen=3)


def test_evaluation_under_accelerate_with_two_cpu_processes(tiny_model_dir, dataset_jsonl, tmp_path):
    """Two gloo ranks each decode part of the set; the main process reports every row once, in the file's order."""
    from trace_solver.jsonl import read_jsonl

    result = launch(
        "evaluate.py",
        "--model_name_or_path", str(tiny_model_dir),
        "--dataset_path", str(dataset_jsonl),
        "--output_dir", str(tmp_path),
        "--max_examples", "7",
        "--max_new_tokens", "4",
        "--batch_size", "2",
    )  # fmt: skip
    questions = [row["question"] for _, row in read_jsonl(dataset_jsonl)][:7]
    records = [row for _, row in read_jsonl(tmp_path / "train_records.jsonl")]
    assert [record["question"] for record in records] == questions
    assert json.loads((tmp_path / "train.json").read_text())["metrics"]["n"] == 7
    assert result.stdout.count("Correct:") == 1  # the summary line, from the main process only
