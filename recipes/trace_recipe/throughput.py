"""Training throughput: real (non-padding) tokens per second and model-FLOPs utilisation, logged by a callback.

    trainer = SFTTrainer(..., callbacks=[ThroughputCallback()])   # logs train_real_tokens_per_second, train_mfu

Tokens come from the trainer's own count (`include_num_input_tokens_seen="non_padding"`, which the recipes' configs
set), so padding never counts. Timing starts after WARMUP_STEPS optimizer steps; transformers' own
`train_tokens_per_second` divides by the whole run time, warm-up included.

Model FLOPs per token: forward 2 per weight in every matmul; backward 4 per weight (activations and weights) but only
from the lm_head down to the first trainable layer, because no gradient flows below it; plus attention's score and
value products (4 * seq_len * hidden per layer forward, twice that backward where gradients flow). MFU divides the
achieved rate by the accelerator's dense bf16 peak, whatever precision the run uses.
"""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback

WARMUP_STEPS = 5  # optimizer steps left out of the timing: compilation, kernel selection, allocator growth

# Dense bf16 tensor-core peaks (vendor datasheets, FLOP/s), matched against torch.cuda.get_device_name().
BF16_PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12, "L4": 121e12}

SHAPES: dict[str, dict[str, Any]] = {
    # TinyLlama/TinyLlama-1.1B-Chat-v1.0
    "tinyllama": dict(
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=22,
        num_attention_heads=32,
        num_key_value_heads=4,
        vocab_size=32000,
    ),
    # HuggingFaceTB/SmolLM2-135M-Instruct
    "smollm2-135m": dict(
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        vocab_size=49152,
        tie_word_embeddings=True,
    ),
}


def model_flops_per_token(config: Any, num_trainable_layers: int, seq_len: float) -> float:
    """Training FLOPs per token of a Llama-style model with only the last `num_trainable_layers` (and lm_head)
    trainable."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    kv = h * config.num_key_value_heads // config.num_attention_heads
    layer_weights = h * h * 2 + h * kv * 2 + 3 * h * i  # q, o, k, v, gate, up, down
    head_weights = h * config.vocab_size
    attention = 4 * seq_len * h  # QK^T and AV, causal masking ignored as is customary
    trained = min(num_trainable_layers, layers)
    forward = 2 * (layers * layer_weights + head_weights) + layers * attention
    backward = 4 * (trained * layer_weights + head_weights) + 2 * trained * attention
    return float(forward + backward)


def trainable_layers(model: Any) -> int:
    """How many decoder layers, counted from the top, hold a trainable parameter (the backward pass reaches down
    to the lowest of them)."""
    from trace_recipe.freezing import decoder_layers

    try:
        layers = decoder_layers(model)
    except Exception:  # not a decoder we know: count every layer as trained (an upper bound on FLOPs)
        return int(getattr(model.config, "num_hidden_layers", 0))
    for index, layer in enumerate(layers):
        if any(p.requires_grad for p in layer.parameters()):
            return len(layers) - index
    return 0


def bf16_peak_flops(num_processes: int = 1) -> float | None:
    """The dense bf16 peak of the CUDA devices in use, or None where the card is not in BF16_PEAK_FLOPS."""
    import torch

    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    for key, peak in BF16_PEAK_FLOPS.items():
        if key in name:
            return peak * num_processes
    return None


class ThroughputCallback(TrainerCallback):
    """Logs `train_seconds_per_step`, `train_real_tokens_per_second` (real tokens, all processes, where the trainer
    counts them), `train_mfu` and `train_peak_memory_gib` (CUDA) over the steps after the first `warmup_steps`;
    the recipes put the last figures in `all_results.json`."""

    def __init__(self, warmup_steps: int = WARMUP_STEPS) -> None:
        self.warmup_steps = warmup_steps
        self._start: tuple[float, int, int, int] | None = None  # (time, step, tokens, sequences) after warm-up
        self._sequences = 0
        self._flops_config: tuple[Any, int] | None = None
        self.summary: dict[str, float] = {}

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if model is not None and hasattr(model, "config"):
            self._flops_config = (model.config, trainable_layers(model))

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._sequences += args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
        if state.global_step == self.warmup_steps or (self._start is None and state.global_step > self.warmup_steps):
            synchronize()
            self._start = (time.perf_counter(), state.global_step, int(state.num_input_tokens_seen), self._sequences)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        figures = self._figures(args, state)
        if logs is not None and figures:
            logs.update(figures)
            self.summary = figures

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        figures = self._figures(args, state)
        if figures:
            self.summary = figures

    def _figures(self, args: Any, state: Any) -> dict[str, float]:
        if self._start is None or state.global_step <= self.warmup_steps:
            return {}
        synchronize()
        start_time, start_step, start_tokens, start_sequences = self._start
        seconds = time.perf_counter() - start_time
        steps = state.global_step - start_step  # counted from where timing started, a resumed run included
        if seconds <= 0 or steps <= 0:
            return {}
        figures = {"train_seconds_per_step": seconds / steps}
        tokens = int(state.num_input_tokens_seen) - start_tokens  # 0 where the trainer does not count tokens
        if tokens > 0:
            figures["train_real_tokens_per_second"] = tokens / seconds
            peak = bf16_peak_flops(args.world_size)
            if peak and self._flops_config is not None:
                sequences = max(self._sequences - start_sequences, 1)
                config, layers = self._flops_config
                flops = model_flops_per_token(config, layers, seq_len=tokens / sequences)
                figures["train_mfu"] = flops * tokens / seconds / peak
        import torch

        if torch.cuda.is_available():
            figures["train_peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        return figures


def synchronize() -> None:
    """Wait for the GPU's queued work (timings would otherwise end before it does); nothing on CPU."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def set_cudnn_attention(enabled: bool) -> None:
    """Whether SDPA may use cuDNN's attention kernels (process-wide); without them it uses flash or memory-efficient.

    cuDNN's attention builds an execution plan for every new sequence length, about 2.5 ms of host time per call:
    with length-grouped batches that was 155 ms of each step of the 30-layer SmolLM2 at batch 64 on an H200
    (`benchmarks/sft_profile.py`), while the GPU waited.
    """
    import torch

    torch.backends.cuda.enable_cudnn_sdp(enabled)
