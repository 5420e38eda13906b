"""Which weights a training run changed: compare a saved run with the model it started from.

    python recipes/reproduce/changed_weights.py BASE_MODEL_DIR RUN_DIR

Prints the changed and unchanged parameter groups (decoder layers merged into ranges) and exits 1 if a parameter
outside the trainable set changed (the last `--num_unfrozen_layers` layers, default 6, and lm_head). Used after
multi-GPU runs, where the saved model is what every rank held (DDP keeps replicas equal; FSDP gathers the shards).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

_LAYER = re.compile(r"layers\.(\d+)\.")


def load_weights(folder: str) -> dict:
    from safetensors.torch import load_file

    weights: dict = {}
    for path in sorted(Path(folder).glob("*.safetensors")):
        weights.update(load_file(str(path)))
    if not weights:
        raise SystemExit(f"error: no *.safetensors in {folder}")
    return weights


def group_of(name: str) -> str:
    layer = _LAYER.search(name)
    return f"layer {int(layer[1]):02d}" if layer else name.rsplit(".", 1)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("base")
    parser.add_argument("run")
    parser.add_argument("--num_unfrozen_layers", type=int, default=6)
    args = parser.parse_args()
    import torch

    base, run = load_weights(args.base), load_weights(args.run)
    num_layers = 1 + max(int(m[1]) for name in base if (m := _LAYER.search(name)))
    trainable = {f"layer {i:02d}" for i in range(num_layers - args.num_unfrozen_layers, num_layers)} | {"lm_head"}
    changed: dict[str, bool] = {}
    for name, weight in run.items():
        # An untied lm_head has no tensor of its own in a tied base: compare it with the embeddings it copied.
        reference = base.get(name, base.get("model.embed_tokens.weight") if name == "lm_head.weight" else None)
        same = reference is not None and torch.equal(weight.float(), reference.float())
        changed[group_of(name)] = changed.get(group_of(name), False) or not same
    print("changed:  ", ", ".join(sorted(g for g, c in changed.items() if c)))
    print("unchanged:", ", ".join(sorted(g for g, c in changed.items() if not c)))
    wrong = sorted(g for g, c in changed.items() if c and g not in trainable)
    if wrong:
        print(f"FROZEN PARAMETERS CHANGED: {', '.join(wrong)}")
        sys.exit(1)
    print("frozen parameters unchanged")


if __name__ == "__main__":
    main()
