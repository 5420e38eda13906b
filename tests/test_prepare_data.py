"""recipes/reproduce/prepare_data.py regenerates the data behind docs/results.md: it must be deterministic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "recipes" / "reproduce" / "prepare_data.py"
GSM8K_SAMPLE = ROOT / "tests" / "fixtures" / "gsm8k_sample.jsonl"


def _prepare(out: Path, hash_seed: str) -> dict[str, bytes]:
    command = [sys.executable, str(SCRIPT), "--out", str(out), "--gsm8k", str(GSM8K_SAMPLE)]
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": hash_seed})
    return {path.name: path.read_bytes() for path in sorted(out.glob("*.jsonl"))}


def test_two_runs_write_identical_bytes(tmp_path: Path) -> None:
    """Two runs in processes with different hash seeds write the same files, byte for byte."""
    first = _prepare(tmp_path / "first", "1")
    second = _prepare(tmp_path / "second", "2")
    assert "mix_gsm8k.jsonl" in first and "train4000.jsonl" in first
    assert first == second
