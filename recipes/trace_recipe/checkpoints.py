"""Checkpoints by the clock: on CPU a step takes seconds, so `save_strategy: epoch` could leave hours unsaved.

`TimedCheckpoints(minutes)` asks the Trainer to save whenever that many minutes have passed since the last save (or
the start), on top of the recipe's own `save_strategy`; `--resume_from_checkpoint true` resumes from the newest.
"""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback

# Default interval on a host without GPUs: a stopped run loses at most this much training.
CPU_SAVE_MINUTES = 20.0


class TimedCheckpoints(TrainerCallback):
    """Save a checkpoint once `minutes` have passed since the last one (None or 0: never by time)."""

    def __init__(self, minutes: float | None, clock: Any = time.monotonic) -> None:
        self.seconds = 60.0 * minutes if minutes else None
        self.clock = clock
        self.last_save = clock()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.seconds is not None and self.clock() - self.last_save >= self.seconds:
            control.should_save = True
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self.last_save = self.clock()
        return control


def save_minutes(requested: float | None) -> float | None:
    """The interval to use: the user's (`--save_every_minutes`; 0 turns it off), else CPU_SAVE_MINUTES on a host
    without GPUs and none on a GPU (where the recipes' own save steps come often enough)."""
    if requested is not None:
        return requested or None
    from trace_recipe.configs import has_accelerator

    return None if has_accelerator() else CPU_SAVE_MINUTES
