"""Training and evaluation glue for `recipes/sft.py`, `recipes/rl.py` and `recipes/evaluate.py`.

Modules: `script` (flag parsing and one-line errors), `pipeline` (the steps both training scripts share), `configs`
(script arguments, device-aware trainer configs), `model` (hub id / folder / GGUF / embedded model), `freezing` (last
layers + lm_head trainable), `truncation` (length guard), `nan_guards` (SDPA masks without empty rows, skipping
non-finite gradient steps), `data` (trace and GSM-8K rows as datasets), `mixture` (TRL dataset mixtures converted by
their columns), `eval_sets` (the named evaluation sets), `generation` (batched decoding backends), `rloo_trainer`
(RLOO sampling through them), `prompt_filter` (RL prompts whose rewards vary), `dev_eval` (dev accuracy during RL),
`evaluation` (scoring, self-consistency and reports), `plots`, `throughput` (tokens/s and MFU callback),
`checkpoints` (timed checkpoints on CPU), `model_card`, `errors` (`RecipeError`).
"""

from trace_recipe.errors import RecipeError

__all__ = ["RecipeError"]
