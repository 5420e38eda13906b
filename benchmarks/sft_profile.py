"""Where the time of an SFT step goes: torch.profiler and cProfile over a few steps of `recipes/sft.py` itself.

    python benchmarks/sft_profile.py --config recipes/SmolLM2-135M-Instruct/sft.yaml --out profile/
    python benchmarks/sft_profile.py --out profile/ -- --per_device_train_batch_size 8   # flags after -- go to sft.py

The recipe runs in this process on its own data. After `--warmup` steps it times `--steps` steps without any profiler
(seconds per step), then `--steps` steps under torch.profiler (time per op on the host and on the GPU, kernel launches,
host syncs), then `--steps` steps under cProfile (Python functions), and stops. `--out` receives summary.json,
ops_by_device.txt, ops_by_host.txt, python.txt and, with `--trace`, trace.json for chrome://tracing or Perfetto.
A step whose GPU busy time is a small part of its wall time is bound by the host: python.txt says by what.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from trace_recipe.throughput import synchronize

ROOT = Path(__file__).resolve().parents[1]
# Host calls that wait for the GPU (`.item()` and device-to-host copies end in one), and the op behind `.item()`
SYNC_EVENTS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize")
ITEM_EVENT = "aten::_local_scalar_dense"
LAUNCH_EVENTS = ("cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel", "cuLaunchKernelEx")


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(ROOT / "recipes/SmolLM2-135M-Instruct/sft.yaml"))
    parser.add_argument("--model_name_or_path", default=None, help="override the YAML's model")
    parser.add_argument("--warmup", type=int, default=10, help="steps before anything is timed (compilation, caches)")
    parser.add_argument("--steps", type=int, default=5, help="steps in each window: plain, torch.profiler, cProfile")
    parser.add_argument("--out", required=True, help="folder for the summary and the tables")
    parser.add_argument("--trace", action="store_true", help="also write the torch.profiler trace (trace.json)")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    args = parser.parse_args(argv)
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be at least 1")
    return args, extra


def device_seconds(events: Any) -> float:
    """GPU time of profiler events: the kernels' and copies' own rows only, as torch's table totals it (the op that
    launched a kernel shows the same time again as its self device time, and user annotations span others)."""
    from torch.autograd import DeviceType

    return (
        sum(
            event.self_device_time_total
            for event in events
            if event.device_type == DeviceType.CUDA and not event.is_user_annotation
        )
        / 1e6
    )


class StepProfiler(TrainerCallback):
    """Three windows of `steps` optimizer steps after `warmup`: plain timing, torch.profiler, cProfile; then stop."""

    def __init__(self, warmup: int, steps: int, out: Path, trace: bool = False) -> None:
        self.warmup, self.steps, self.out, self.trace = warmup, steps, out, trace
        self.summary: dict[str, Any] = {}
        self._start = 0.0
        self._torch: Any = None
        self._python: cProfile.Profile | None = None

    def _window_start(self, step: int) -> int | None:
        """Which window (0 plain, 1 torch.profiler, 2 cProfile) starts at `step` finished steps, if any."""
        offset = step - self.warmup
        return offset // self.steps if offset >= 0 and offset % self.steps == 0 and offset < 3 * self.steps else None

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        window = self._window_start(state.global_step)
        if window is None:
            return
        synchronize()
        if window == 1:
            import torch

            activities = [torch.profiler.ProfilerActivity.CPU]
            if torch.cuda.is_available():
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            self._torch = torch.profiler.profile(activities=activities)
            self._torch.__enter__()
        elif window == 2:
            self._python = cProfile.Profile()
            self._python.enable()
        self._start = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        window = self._window_start(state.global_step - self.steps)
        if window is None:
            return
        synchronize()
        seconds = (time.perf_counter() - self._start) / self.steps
        if window == 0:
            self.summary["seconds_per_step"] = seconds
        elif window == 1:
            self._torch.__exit__(None, None, None)
            self.summary["seconds_per_step_torch_profiler"] = seconds
            self.summary.update(self._write_torch_tables())
        else:
            assert self._python is not None
            self._python.disable()
            self.summary["seconds_per_step_cprofile"] = seconds
            self._write_python_table()
            control.should_training_stop = True

    def _write_torch_tables(self) -> dict[str, Any]:
        averages = self._torch.key_averages()
        on_gpu = any(event.self_device_time_total > 0 for event in averages)
        if on_gpu:
            table = averages.table(sort_by="self_device_time_total", row_limit=40, max_name_column_width=70)
            (self.out / "ops_by_device.txt").write_text(table, encoding="utf-8")
        table = averages.table(sort_by="self_cpu_time_total", row_limit=40, max_name_column_width=70)
        (self.out / "ops_by_host.txt").write_text(table, encoding="utf-8")
        if self.trace:
            self._torch.export_chrome_trace(str(self.out / "trace.json"))

        def per_step(names: tuple[str, ...]) -> float:
            return sum(event.count for event in averages if event.key in names) / self.steps

        figures: dict[str, Any] = {
            "kernel_launches_per_step": per_step(LAUNCH_EVENTS),
            "host_syncs_per_step": per_step(SYNC_EVENTS),
            "item_calls_per_step": per_step((ITEM_EVENT,)),
            "sync_calls": {event.key: event.count for event in averages if event.key in (*SYNC_EVENTS, ITEM_EVENT)},
        }
        if on_gpu:
            figures["gpu_busy_seconds_per_step"] = device_seconds(averages) / self.steps
        return figures

    def _write_python_table(self) -> None:
        assert self._python is not None
        stream = io.StringIO()
        stats = pstats.Stats(self._python, stream=stream).strip_dirs()  # file names without the install folders
        stream.write(f"cProfile over {self.steps} steps, by own time\n")
        stats.sort_stats("tottime").print_stats(40)
        stream.write("\nby cumulative time\n")
        stats.sort_stats("cumulative").print_stats(60)
        (self.out / "python.txt").write_text(stream.getvalue(), encoding="utf-8")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args, extra = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "recipes"))
    import sft

    profiler = StepProfiler(args.warmup, args.steps, out, trace=args.trace)

    class ProfiledSFTTrainer(sft.SFTTrainer):
        def __init__(self, *positional: Any, callbacks: list | None = None, **kwargs: Any) -> None:
            super().__init__(*positional, callbacks=[*(callbacks or []), profiler], **kwargs)

    sft.SFTTrainer = ProfiledSFTTrainer  # main() builds its trainer from the module's name
    steps = args.warmup + 3 * args.steps + 1  # one spare: the profiler stops the run after its last window
    flags = ["--config", args.config]
    if args.model_name_or_path:
        flags += ["--model_name_or_path", args.model_name_or_path]
    flags += [*extra, "--max_steps", str(steps), "--do_final_eval", "false", "--save_strategy", "no"]
    flags += ["--logging_steps", str(steps), "--output_dir", str(out / "run"), "--report_to", "none"]
    sft.run_script(sft.main, sft.make_parser(), check=sft.check_inputs, args=flags)

    summary = {"command": " ".join(["benchmarks/sft_profile.py", *(argv or sys.argv[1:])]), **profiler.summary}
    if "gpu_busy_seconds_per_step" in summary and summary.get("seconds_per_step_torch_profiler"):
        summary["gpu_busy_fraction"] = summary["gpu_busy_seconds_per_step"] / summary["seconds_per_step_torch_profiler"]
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    for key, value in summary.items():
        if key != "command":
            print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return summary


if __name__ == "__main__":
    main()
