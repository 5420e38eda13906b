"""`accelerate launch` with two CPU processes (gloo, through accelerate_configs/ddp.yaml): the SFT recipe trains,
freezes alike on both ranks, and saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_sft_under_accelerate_with_two_cpu_processes(tiny_model_dir, dataset_jsonl, tmp_path):
    """Two gloo ranks share 2 SFT steps on the tiny model; the table prints once and the model is saved untied."""
    output_dir = tmp_path / "run"
    command = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(ROOT / "accelerate_configs" / "ddp.yaml"),
        "--num_processes", "2",
        "--main_process_port", str(29500 + os.getpid() % 1000),
        str(ROOT / "recipes" / "sft.py"),
        "--model_name_or_path", str(tiny_model_dir),
        "--dataset_path", str(dataset_jsonl),
        "--output_dir", str(output_dir),
        "--max_steps", "2",
        "--per_device_train_batch_size", "2",
        "--num_unfrozen_layers", "1",
        "--learning_rate", "1e-2",
        "--logging_steps", "1",
        "--save_strategy", "no",
        "--report_to", "none",
        "--do_final_eval", "false",
        "--disable_tqdm", "true",
    ]  # fmt: skip
    # PYTHONPATH: trace_solver/ and rewards/ as `pip install -e .` would provide them (pytest's pythonpath does here)
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=85)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("module group") == 1  # the main process alone prints the table
    assert "model.layers.3" in result.stdout and "model.layers.0-2" in result.stdout

    state = json.loads((output_dir / "trainer_state.json").read_text())
    assert state["global_step"] == 2 and state["epoch"] == 0.5  # 2 steps x 2 ranks x 2 examples = 8 of 16

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(output_dir)
    assert not model.config.tie_word_embeddings
