"""`DevAccuracyCallback`: greedy accuracy on a dev set while RL trains, logged into the trainer's log history.

RL's own reward is measured on the prompts it trains on (and, with the prompt filter, on prompts chosen because the
model is unsure of them), so it cannot say whether the model got better at new questions. The callback decodes a
fixed dev subset greedily with `trace_recipe.generation` (the compiled graph backend on a CUDA device) before the
first step, every `every_steps` optimizer steps and after the last one, scores it with `run_evaluation` (no files)
and logs `dev/accuracy`, `dev/parse_rate`, `dev/valid_rate` and `dev/mean_reward` at the current step, so that
`trainer_state.json` and `training_curves.png` hold them next to the RL metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from transformers import Trainer, TrainerCallback

logger = logging.getLogger(__name__)

# What run_evaluation reports that the log keeps, as `dev/<name>`.
DEV_METRICS = ("accuracy", "parse_rate", "valid_rate", "mean_reward")


class DevAccuracyCallback(TrainerCallback):
    """Log greedy dev-set metrics at step 0, every `every_steps` steps and at the end of training.

    Args:
        trainer: the trainer whose model is evaluated (its accelerator strips the autocast wrapper for decoding).
        rows: dev rows with `prompt`, `answer` and `expert` (None for GSM-8K), e.g. the first N of the dev set.
        every_steps: optimizer steps between evaluations (> 0).
        batch_size, max_new_tokens, backend: generation settings (see `trace_recipe.generation`).
    """

    def __init__(
        self,
        trainer: Any,
        rows: Sequence[Mapping[str, Any]],
        *,
        every_steps: int,
        batch_size: int = 64,
        max_new_tokens: int = 512,
        backend: str = "auto",
    ) -> None:
        if every_steps <= 0:
            raise ValueError(f"dev_eval_steps={every_steps}: evaluate every N > 0 steps, or pass 0 to turn it off")
        self.trainer = trainer
        self.rows = [dict(row) for row in rows]
        self.every_steps = every_steps
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.backend = backend
        self.evaluated_steps: list[int] = []

    def evaluate(self) -> dict[str, float]:
        """Decode and score the dev rows now; returns the `dev/*` metrics (also appended to the log history)."""
        from trace_recipe.evaluation import run_evaluation
        from trace_recipe.pipeline import model_for_generation

        trainer = self.trainer
        if getattr(trainer, "is_fsdp_enabled", False) or getattr(trainer, "is_deepspeed_enabled", False):
            logger.warning("dev evaluation skipped: parameters are sharded (FSDP/DeepSpeed)")
            return {}
        with model_for_generation(trainer) as model:
            metrics = run_evaluation(
                model,
                trainer.processing_class,
                self.rows,
                output_dir=trainer.args.output_dir,
                batch_size=self.batch_size,
                max_new_tokens=self.max_new_tokens,
                backend=self.backend,
                write=False,
            )
        logs = {f"dev/{name}": metrics[name] for name in DEV_METRICS if metrics.get(name) is not None}
        # Trainer.log, not RLOOTrainer.log: the latter would take the RL metrics gathered so far into this entry
        # and clear them before the step's own log entry. Logging clears `should_log`, which on a logging step
        # would cancel that entry, so the flag is put back.
        should_log = trainer.control.should_log
        Trainer.log(trainer, dict(logs))
        trainer.control.should_log = should_log
        self.evaluated_steps.append(trainer.state.global_step)
        return logs

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step not in self.evaluated_steps:  # step 0, or the step a resumed run starts from
            self.evaluate()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step % self.every_steps == 0:
            self.evaluate()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step not in self.evaluated_steps:
            self.evaluate()
