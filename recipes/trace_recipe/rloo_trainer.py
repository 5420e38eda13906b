"""`TraceRLOOTrainer`: TRL's RLOO whose sampling goes through `trace_recipe.generation` (the compiled static-cache
loop on a GPU).

Generation dominates an RL iteration, and TRL's own path is plain `model.generate` (dynamic cache, compilation
switched off), which for a 135M model is bound by Python and kernel launches. `TraceRLOOTrainer` replaces only
`_generate_single_turn`, the step that turns tokenised prompts into completion ids; advantages, loss, logging and
the reward calls are TRL's. `--generation_backend` (TraceRLOOConfig) picks the path:

  trl    TRL's own generation, including vLLM (`--use_vllm`) and transformers' paged continuous batching
         (`--use_transformers_paged`), which always use TRL's path.
  graph, static, eager   a backend of trace_recipe.generation, sampling with `temperature` (graph) or
         `temperature`/`top_p` (static, eager).
  auto   (default) graph on a CUDA device, TRL's path on CPU (where eager generate is already the fastest).

Our path is used only where it samples from the same distribution as TRL's: no top_k, min_p or repetition
penalty, no PEFT adapters, no sharded parameters (FSDP, DeepSpeed). Otherwise, or if it fails under "auto", TRL's
path runs and one warning says why. Completions keep the EOS token that ended them, as TRL's do.

`_generate_single_turn` is private to TRL, so a new TRL version may change it. Where our path is chosen,
`check_trl_generation_hook` compares its parameters with the ones the override was written for and refuses, in one
line, to build the trainer otherwise; on TRL's path the override passes its arguments on untouched.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from trl import RLOOTrainer

from trace_recipe.errors import RecipeError
from trace_recipe.generation import GenerationOptions, generate_token_ids, render_prompts
from trace_recipe.pipeline import model_for_generation

logger = logging.getLogger(__name__)

GENERATION_BACKENDS = ("auto", "trl", "graph", "static", "eager")
# The parameters of TRL's RLOOTrainer._generate_single_turn that TraceRLOOTrainer's override is written for (TRL 1.16).
OVERRIDDEN_PARAMETERS = ("self", "prompt_ids", "images", "multimodal_fields")


def check_trl_generation_hook(trainer_class: type = RLOOTrainer) -> None:
    """Refuse, in one line, a TRL whose `_generate_single_turn` takes other parameters than the override expects."""
    found = tuple(inspect.signature(trainer_class._generate_single_turn).parameters)
    if found != OVERRIDDEN_PARAMETERS:
        import trl

        raise RecipeError(
            f"TRL {trl.__version__}: RLOOTrainer._generate_single_turn takes ({', '.join(found)}), trace_recipe's "
            f"generation was written for ({', '.join(OVERRIDDEN_PARAMETERS)}): pass --generation_backend trl, or "
            "install a TRL version within pyproject.toml's pin"
        )


def unsupported_reason(trainer: RLOOTrainer) -> str | None:
    """Why trace_recipe's generation cannot stand in for TRL's in this run, or None if it can."""
    args = trainer.args
    if args.use_vllm or args.use_transformers_paged or getattr(args, "use_transformers_continuous_batching", False):
        return "vLLM or paged generation was asked for"
    if args.top_k not in (None, 0) or args.min_p is not None or args.repetition_penalty != 1.0:
        return "top_k, min_p and repetition_penalty are TRL-only sampling options"
    if trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled:
        return "parameters are sharded (FSDP/DeepSpeed)"
    if hasattr(trainer.accelerator.unwrap_model(trainer.model), "peft_config"):
        return "PEFT adapters are attached"
    return None


class TraceRLOOTrainer(RLOOTrainer):
    """`RLOOTrainer` sampling through `trace_recipe.generation` (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._generation_backend = self._choose_backend()
        if self._generation_backend != "trl":
            check_trl_generation_hook(RLOOTrainer)
        self._min_prompt_length = 0

    def _choose_backend(self) -> str:
        requested = self.args.generation_backend
        if requested == "trl":
            return "trl"
        if requested == "auto" and self.accelerator.device.type != "cuda":
            return "trl"
        reason = unsupported_reason(self)
        if reason is not None:
            logger.warning("generation_backend %r: %s; using TRL's generation", requested, reason)
            return "trl"
        if requested == "auto":
            return "graph" if self.args.top_p == 1.0 else "static"
        return requested  # graph with top_p < 1 is refused by TraceRLOOConfig when the flags are parsed

    def _generate_single_turn(self, prompt_ids: list[list[int]], *args: Any, **kwargs: Any) -> Any:
        if self._generation_backend == "trl":  # whatever TRL's own parameters are, they pass through
            return super()._generate_single_turn(prompt_ids, *args, **kwargs)
        images, multimodal_fields = args  # the parameters check_trl_generation_hook found at construction
        if images is not None or multimodal_fields:
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields)
        try:
            return self._generate_fast(prompt_ids)
        except Exception as error:  # an optional fast path must not end the run under "auto"
            if self.args.generation_backend != "auto":
                raise
            logger.warning(
                "generation backend %r failed (%s: %s); using TRL's generation from now on",
                self._generation_backend,
                type(error).__name__,
                error,
            )
            self._generation_backend = "trl"
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields)

    def _generate_fast(self, prompt_ids: list[list[int]]) -> list[list[int]]:
        options = GenerationOptions(
            max_new_tokens=self.max_completion_length,
            batch_size=len(prompt_ids),
            backend=self._generation_backend,
            do_sample=True,
            temperature=self.temperature,
            top_p=self.top_p,
            keep_eos=True,
            min_prompt_length=self._longest_train_prompt(),
        )
        # The bare model (DDP replicas hold the same weights), without the autocast wrapper while it decodes
        with model_for_generation(self) as model:
            return generate_token_ids(
                model,
                prompt_ids,
                pad_token_id=self.processing_class.pad_token_id,
                eos_token_ids=set(self.eos_token_ids),
                options=options,
            )

    def _longest_train_prompt(self) -> int:
        """Token length of the longest training prompt: every step pads to it, so the compiled step has one shape
        for the whole run instead of recompiling whenever a batch's longest prompt changes."""
        if not self._min_prompt_length and self.train_dataset is not None:
            lengths = map(len, render_prompts(self.processing_class, self.train_dataset["prompt"]))
            self._min_prompt_length = max(lengths, default=0)
        return self._min_prompt_length
