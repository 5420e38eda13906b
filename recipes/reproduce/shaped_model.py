"""Write a randomly initialised model of a named shape, with a real tokenizer, as a folder the recipes can load.

    python recipes/reproduce/shaped_model.py tinyllama OUT_DIR --tokenizer MODEL_DIR

For timing runs on hosts without the hub (multi_gpu.sh times RL on a TinyLlama-shaped model): the shape comes from
`trace_recipe.throughput.SHAPES`, the tokenizer (and its chat template) from MODEL_DIR, and the vocabulary is
the tokenizer's, so the embeddings and lm_head may differ in size from the named model's (TinyLlama: 32,000 ids,
SmolLM2's tokenizer 49,152). Random weights never emit EOS on purpose, so completions run to the token limit and every
decoding step is timed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from trace_recipe.throughput import SHAPES


def write_shaped_model(shape: str, out_dir: str, tokenizer_dir: str, seed: int = 0) -> Path:
    """Save `shape` with random weights (fp32, as the recipes load them, so that changed_weights.py compares like
    with like) and the tokenizer of `tokenizer_dir` into `out_dir`."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    dimensions = SHAPES[shape] | {"vocab_size": len(tokenizer)}
    config = LlamaConfig(
        **dimensions,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return Path(out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("out_dir")
    parser.add_argument("--tokenizer", required=True, help="A model folder whose tokenizer the model gets.")
    args = parser.parse_args()
    print(write_shaped_model(args.shape, args.out_dir, args.tokenizer))


if __name__ == "__main__":
    main()
