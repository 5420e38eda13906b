"""SFT throughput (tokens/s) and model-FLOPs utilisation for a layer-frozen decoder, through TRL's SFTTrainer.

    python benchmarks/sft_throughput.py --shape tinyllama --num_unfrozen_layers 6 --batch_size 16 --seq_len 512
    accelerate launch --config_file accelerate_configs/ddp.yaml --num_processes 2 benchmarks/sft_throughput.py ...

Under `accelerate launch` every process trains its own batch (DDP, or FSDP with accelerate_configs/fsdp.yaml): tokens/s
counts all processes, MFU divides by the peak of all their accelerators, and the main process prints.

The model is randomly initialised from a LlamaConfig of the named shape (no download), frozen like the recipes
(last N layers + untied lm_head), and trained on random token sequences of a fixed length, so every step does the same
work. Timing starts after `--warmup_steps` (kernel selection, allocator growth).

Model FLOPs per token (forward 2 per weight in every matmul; backward 4 per weight, activations and weights, but only
from the lm_head down to the first unfrozen layer, because no gradient flows below it), plus attention's score and
value products (4 * seq_len * hidden per layer forward, twice that backward where gradients flow). MFU divides the
achieved rate by the accelerator's dense bf16 peak (`--peak_tflops`, 989 for an H100 SXM).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))

SHAPES = {
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


def model_flops_per_token(config, num_unfrozen_layers: int, seq_len: int) -> float:
    """Training FLOPs per token of a Llama-style model with only the last layers (and lm_head) trainable."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    kv = h * config.num_key_value_heads // config.num_attention_heads
    layer_weights = h * h * 2 + h * kv * 2 + 3 * h * i  # q, o, k, v, gate, up, down
    head_weights = h * config.vocab_size
    attention = 4 * seq_len * h  # QK^T and AV, causal masking ignored as is customary
    trained = min(num_unfrozen_layers, layers)
    forward = 2 * (layers * layer_weights + head_weights) + layers * attention
    backward = 4 * (trained * layer_weights + head_weights) + 2 * trained * attention
    return float(forward + backward)


def _placeholder_tokenizer():
    """The data is already token ids; the trainer only needs pad/eos ids from a tokenizer."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(WordLevel({"<pad>": 0, "<eos>": 1}, unk_token="<pad>"))
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tinyllama")
    parser.add_argument("--num_unfrozen_layers", type=int, default=6)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--seq_len", type=int, default=512)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup_steps", type=int, default=5)
    parser.add_argument("--peak_tflops", type=float, default=989.0, help="dense bf16 peak of the accelerator")
    parser.add_argument("--output_json", default=None)
    args = parser.parse_args()

    import torch
    from accelerate import PartialState
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from trace_recipe.freezing import freeze_all_but_last_layers, require_trainable

    torch.manual_seed(0)
    cuda = torch.cuda.is_available()
    config = LlamaConfig(**SHAPES[args.shape], max_position_embeddings=max(2048, args.seq_len))
    model = LlamaForCausalLM(config).to(torch.bfloat16 if cuda else torch.float32)
    freeze_all_but_last_layers(model, args.num_unfrozen_layers)
    trainable = require_trainable(model)
    total_steps = args.warmup_steps + args.steps
    ids = torch.randint(0, config.vocab_size, (args.batch_size * total_steps, args.seq_len)).tolist()
    dataset = Dataset.from_dict({"input_ids": ids})

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.start: float | None = None
            self.end: float | None = None

        def on_step_end(self, args_, state, control, **kwargs):
            if cuda:
                torch.cuda.synchronize()
            if state.global_step == args.warmup_steps:
                self.start = time.perf_counter()
            elif state.global_step == total_steps:
                self.end = time.perf_counter()

    timer = StepTimer()
    training_args = SFTConfig(
        output_dir="/tmp/sft-throughput",
        per_device_train_batch_size=args.batch_size,
        max_steps=total_steps,
        max_length=args.seq_len,
        learning_rate=1e-4,
        bf16=cuda,
        gradient_checkpointing=False,
        logging_steps=total_steps,
        save_strategy="no",
        report_to="none",
        use_cpu=not cuda,
        dataloader_drop_last=True,
    )
    trainer = SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset,
        processing_class=_placeholder_tokenizer(),
        callbacks=[timer],
    )
    trainer.train()
    state = PartialState()
    seconds = timer.end - timer.start
    tokens = args.steps * args.batch_size * args.seq_len * state.num_processes
    tokens_per_s = tokens / seconds
    flops = model_flops_per_token(config, args.num_unfrozen_layers, args.seq_len)
    achieved_tflops = tokens_per_s * flops / 1e12
    result = {
        "shape": args.shape,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": trainable,
        "num_unfrozen_layers": args.num_unfrozen_layers,
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "timed_steps": args.steps,
        "tokens_per_s": round(tokens_per_s),
        "model_tflops_per_s": round(achieved_tflops, 1),
        "processes": state.num_processes,
        "distributed_type": str(state.distributed_type),
        "mfu": round(achieved_tflops / (args.peak_tflops * state.num_processes), 4),
        "peak_memory_gib_per_process": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
    }
    if state.is_main_process:
        print(json.dumps(result))
        if args.output_json:
            Path(args.output_json).write_text(json.dumps(result, indent=2) + "\n")
    state.destroy_process_group()


if __name__ == "__main__":
    main()
