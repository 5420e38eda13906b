"""Teacher-forced diagnosis of an SFT checkpoint: how well it predicts the reference traces, token by token.

    python recipes/reproduce/teacher_forced.py --model runs/sft --dataset_path eval.jsonl --n 32

Separates "the model learned the traces poorly" from "decoding goes wrong": for each example it feeds the prompt and
the reference trace and reports the completion loss, the share of trace tokens predicted right, and the share of traces
predicted right in every token (an upper bound on greedy exact-trace accuracy).
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from trace_solver import build_messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset_path", required=True)
    parser.add_argument("--n", type=int, default=32)
    args = parser.parse_args()

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    with open(args.dataset_path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()][: args.n]
    losses, token_hits, tokens, perfect = [], 0, 0, 0
    for row in rows:
        prompt = build_messages(row["question"])
        prompt_ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_dict=True)["input_ids"]
        full = tokenizer.apply_chat_template(
            prompt + [{"role": "assistant", "content": row["trace"]}], return_tensors="pt", return_dict=True
        )
        ids = full["input_ids"]
        start = len(prompt_ids)
        with torch.no_grad():
            logits = model(**full).logits[0, start - 1 : -1]
        target = ids[0, start:]
        losses.append(float(F.cross_entropy(logits, target)))
        hits = (logits.argmax(-1) == target).sum().item()
        token_hits, tokens = token_hits + hits, tokens + len(target)
        perfect += hits == len(target)
    result = {
        "model": args.model,
        "dataset": args.dataset_path,
        "examples": len(rows),
        "completion_loss": round(sum(losses) / len(losses), 4),
        "token_accuracy": round(token_hits / tokens, 4),
        "traces_all_tokens_right": f"{perfect}/{len(rows)}",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
