"""Training and evaluation glue for `recipes/sft.py`, `recipes/rl.py` and `recipes/evaluate.py`.

Modules: `pipeline` (the steps both training scripts share), `configs` (script arguments, device-aware trainer
configs), `model` (hub id / folder / GGUF / embedded model), `freezing` (last layers + lm_head trainable),
`truncation` (length guard), `nan_guards` (SDPA masks without empty rows, skipping non-finite gradient steps),
`data` (datasets), `generation` (batched decoding backends), `rloo_trainer` (RLOO sampling through them),
`evaluation` (scoring and reports), `plots`, `throughput` (tokens/s and MFU callback), `errors` (`RecipeError`).
"""

from trace_recipe.errors import RecipeError

__all__ = ["RecipeError"]
