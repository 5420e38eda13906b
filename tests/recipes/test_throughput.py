"""Throughput figures: real tokens/s and seconds per step after the warm-up, MFU only on a known card, and the SFT
recipe writing them to all_results.json."""

from __future__ import annotations

import json
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import load_script
from test_sft import run_sft

from trace_recipe import throughput
from trace_recipe.throughput import ThroughputCallback, model_flops_per_token

ARGS = types.SimpleNamespace(per_device_train_batch_size=4, gradient_accumulation_steps=2, world_size=1)


def _steps(callback: ThroughputCallback, clock: list[float], tokens_per_step: int, count: int) -> types.SimpleNamespace:
    """Run `count` optimizer steps of one second and `tokens_per_step` tokens each through the callback."""
    state = types.SimpleNamespace(global_step=0, num_input_tokens_seen=0)
    for _ in range(count):
        clock[0] += 1.0
        state.global_step += 1
        state.num_input_tokens_seen += tokens_per_step
        callback.on_step_end(ARGS, state, None)
    return state


def test_rates_count_only_the_steps_after_the_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Warm-up steps are left out: 4 timed steps of 1 s and 800 tokens give 800 tokens/s and 1 s a step."""
    clock = [0.0]
    monkeypatch.setattr(throughput.time, "perf_counter", lambda: clock[0])
    callback = ThroughputCallback(warmup_steps=2)
    state = _steps(callback, clock, tokens_per_step=800, count=6)
    logs: dict = {}
    callback.on_log(ARGS, state, None, logs=logs)
    assert logs["train_real_tokens_per_second"] == pytest.approx(800.0)
    assert logs["train_seconds_per_step"] == pytest.approx(1.0)
    assert "train_mfu" not in logs  # no CUDA card, no peak to divide by
    assert callback.summary == logs


def test_no_figures_before_the_warm_up_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run shorter than its warm-up reports nothing rather than a rate over compilation time."""
    clock = [0.0]
    monkeypatch.setattr(throughput.time, "perf_counter", lambda: clock[0])
    callback = ThroughputCallback(warmup_steps=5)
    state = _steps(callback, clock, tokens_per_step=800, count=4)
    logs: dict = {}
    callback.on_log(ARGS, state, None, logs=logs)
    assert logs == {} and callback.summary == {}


def test_trainers_that_count_no_tokens_still_get_seconds_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """RLOO counts no input tokens: only train_seconds_per_step (one RL iteration) is reported."""
    clock = [0.0]
    monkeypatch.setattr(throughput.time, "perf_counter", lambda: clock[0])
    callback = ThroughputCallback(warmup_steps=1)
    state = _steps(callback, clock, tokens_per_step=0, count=4)
    callback.on_train_end(ARGS, state, None)
    assert callback.summary == {"train_seconds_per_step": pytest.approx(1.0)}


def test_mfu_uses_the_cards_bf16_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a known card, MFU = model FLOPs per token x tokens/s / the card's dense bf16 peak."""
    clock = [0.0]
    monkeypatch.setattr(throughput.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(throughput, "bf16_peak_flops", lambda processes=1: 1e12)
    config = types.SimpleNamespace(
        hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
        vocab_size=32,
    )  # fmt: skip
    callback = ThroughputCallback(warmup_steps=1)
    callback._flops_config = (config, 1)
    state = _steps(callback, clock, tokens_per_step=80, count=3)
    callback.on_train_end(ARGS, state, None)
    expected = model_flops_per_token(config, 1, seq_len=80 / 8) * 80 / 1e12  # 8 sequences a step
    assert callback.summary["train_mfu"] == pytest.approx(expected)


def test_flops_count_the_backward_pass_only_down_to_the_first_trained_layer() -> None:
    """Freezing layers removes their backward FLOPs, not their forward ones."""
    config = types.SimpleNamespace(
        hidden_size=8, intermediate_size=16, num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=1,
        vocab_size=32,
    )  # fmt: skip
    layer = 8 * 8 * 2 + 8 * 4 * 2 + 3 * 8 * 16
    attention = 4 * 10 * 8
    one_layer, all_layers = model_flops_per_token(config, 1, 10), model_flops_per_token(config, 4, 10)
    assert all_layers - one_layer == 3 * (4 * layer + 2 * attention)


def test_sft_writes_the_figures_to_all_results(tiny_model_dir, stub_data, tmp_path) -> None:
    """A recipe run longer than the warm-up records real tokens/s and seconds per step in all_results.json."""
    run_sft(tiny_model_dir, tmp_path, "--max_steps", "7")
    results = json.loads((tmp_path / "all_results.json").read_text())
    assert results["train_real_tokens_per_second"] > 0 and results["train_seconds_per_step"] > 0
    assert results["num_input_tokens_seen"] > 0


def test_a_resumed_run_counts_its_own_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resumed at step 100, seconds per step divide by the steps timed in this process, not by the global step."""
    clock = [0.0]
    monkeypatch.setattr(throughput.time, "perf_counter", lambda: clock[0])
    callback = ThroughputCallback(warmup_steps=2)
    state = types.SimpleNamespace(global_step=100, num_input_tokens_seen=50_000)
    for _ in range(5):
        clock[0] += 2.0
        state.global_step += 1
        state.num_input_tokens_seen += 100
        callback.on_step_end(ARGS, state, None)
    callback.on_train_end(ARGS, state, None)
    assert callback.summary["train_seconds_per_step"] == pytest.approx(2.0)
    assert callback.summary["train_real_tokens_per_second"] == pytest.approx(50.0)


def test_benchmark_times_as_many_steps_in_every_row_with_steps(monkeypatch, tmp_path) -> None:
    """`benchmarks/sft_throughput.py --steps N` gives each row N timed steps after warm-up whatever its batch, and
    reports the sequences that makes; without it, rows time `--examples` sequences."""
    from trace_recipe.throughput import WARMUP_STEPS

    benchmark = load_script("benchmarks/sft_throughput.py")
    commands: list[list[str]] = []

    def fake_run(command, **kwargs):
        commands.append(command)
        output_dir = Path(command[command.index("--output_dir") + 1])
        output_dir.mkdir(parents=True)
        (output_dir / "all_results.json").write_text('{"train_real_tokens_per_second": 10.0}', encoding="utf-8")
        return SimpleNamespace(returncode=0, stdout="", stderr="")

    monkeypatch.setattr(benchmark.subprocess, "run", fake_run)
    args, extra = benchmark.parse_args(["--steps", "40", "--rows", "before,batch_64"])
    rows = [
        benchmark.run_row(name, flags, args, extra, tmp_path) for name, flags in benchmark.row_flags(args.rows).items()
    ]
    assert [row["steps"] for row in rows] == [WARMUP_STEPS + 40] * 2
    assert [row["timed_sequences"] for row in rows] == [40 * 8, 40 * 64]
    assert all(command[command.index("--max_steps") + 1] == str(WARMUP_STEPS + 40) for command in commands)
    args, extra = benchmark.parse_args(["--examples", "640", "--rows", "batch_64"])
    (row,) = [benchmark.run_row(n, f, args, extra, tmp_path / "b") for n, f in benchmark.row_flags(args.rows).items()]
    assert row["steps"] == WARMUP_STEPS + 10 and row["timed_sequences"] == 640


def test_benchmark_rows_take_flags_after_a_plus() -> None:
    """`after+flag=value` is the YAML with that flag on top; `before+...` the old settings with it; a malformed row is
    refused naming the syntax."""
    benchmark = load_script("benchmarks/sft_throughput.py")
    rows = benchmark.row_flags("after,after+per_device_train_batch_size=128+learning_rate=1e-3,before+tf32=true")
    assert rows["after"] == {}
    assert rows["after+per_device_train_batch_size=128+learning_rate=1e-3"] == {
        "per_device_train_batch_size": "128",
        "learning_rate": "1e-3",
    }
    assert rows["before+tf32=true"] == {**benchmark.BEFORE, "tf32": "true"}
    with pytest.raises(SystemExit, match="flag=value"):
        benchmark.row_flags("after+tf32")


def test_profile_writes_timings_and_tables(tiny_model_dir, stub_data, tmp_path) -> None:
    """`benchmarks/sft_profile.py` runs the recipe, times a plain window, profiles one window with torch.profiler and
    one with cProfile, writes the tables and stops the run after them."""
    profile = load_script("benchmarks/sft_profile.py")
    out = tmp_path / "profile"
    summary = profile.main(
        [
            "--config", str(Path(__file__).parents[2] / "recipes/SmolLM2-135M-Instruct/sft_cpu.yaml"),
            "--model_name_or_path", str(tiny_model_dir),
            "--warmup", "1", "--steps", "2", "--out", str(out), "--",
            "--dataset_path", "rows.jsonl", "--per_device_train_batch_size", "2", "--num_unfrozen_layers", "2",
            "--eval_sets", "synthetic", "--disable_tqdm", "true",
        ]
    )  # fmt: skip
    assert summary["seconds_per_step"] > 0 and summary["seconds_per_step_cprofile"] > 0
    assert summary["item_calls_per_step"] >= 1  # at least the trainer's loss and metrics `.item()`s
    assert summary["host_syncs_per_step"] == 0  # no GPU to wait for
    assert "aten::mm" in (out / "ops_by_host.txt").read_text()
    assert "training_step" in (out / "python.txt").read_text()
    assert json.loads((out / "summary.json").read_text())["seconds_per_step"] == summary["seconds_per_step"]
    state = json.loads((out / "run" / "trainer_state.json").read_text())
    assert state["global_step"] == 1 + 3 * 2  # stopped right after the cProfile window, before max_steps


def test_sft_keeps_attention_off_cudnn_unless_asked(tiny_model_dir, stub_data, tmp_path) -> None:
    """The recipe turns cuDNN's SDPA kernels off for the process (they plan each new sequence length on the host);
    `--cudnn_attention true` leaves them on."""
    import torch

    try:
        run_sft(tiny_model_dir, tmp_path / "default", "--max_steps", "1")
        assert not torch.backends.cuda.cudnn_sdp_enabled()
        run_sft(tiny_model_dir, tmp_path / "on", "--max_steps", "1", "--cudnn_attention", "true")
        assert torch.backends.cuda.cudnn_sdp_enabled()
    finally:
        torch.backends.cuda.enable_cudnn_sdp(True)


def test_profile_counts_each_kernel_once() -> None:
    """GPU busy time sums the kernels' own rows: the op that launched a kernel repeats its time as self device time,
    and a user annotation spans other work, so neither is added again."""
    from torch.autograd import DeviceType

    profile = load_script("benchmarks/sft_profile.py")

    def event(device: DeviceType, microseconds: float, annotation: bool = False) -> SimpleNamespace:
        return SimpleNamespace(device_type=device, self_device_time_total=microseconds, is_user_annotation=annotation)

    events = [
        event(DeviceType.CPU, 300.0),  # aten::mul, self device time = its kernel's
        event(DeviceType.CUDA, 300.0),  # the kernel
        event(DeviceType.CUDA, 200.0),  # a copy
        event(DeviceType.CUDA, 500.0, annotation=True),  # Optimizer.step#AdamW.step on the GPU timeline
    ]
    assert profile.device_seconds(events) == pytest.approx(500e-6)
