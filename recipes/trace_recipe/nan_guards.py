"""Numerical guards for training and evaluation: no NaN from attention rows that see nothing, and no NaN update.

Seen on an H200 (torch 2.11+cu130, transformers 5.17, bf16 autocast): RL logged `grad_norm` nan at iteration 4, the
Trainer applied the update, every weight became NaN and the saved model scored 0%. transformers 5.x builds the SDPA
mask without repairing query rows that attend to nothing (`sdpa_mask`'s `allow_torch_fix` is a deprecated no-op),
and a left-padded batch (RL's prompts) has such rows: a pad query may only see earlier keys, and those are padding
too. CPU SDPA returns zeros there; CUDA kernels (cuDNN, memory-efficient) can return NaN, forward or backward.

`unmask_empty_attention_rows` removes the cause; `SkipNonFiniteGradients` keeps any other non-finite gradient from
reaching the weights.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import torch
from transformers import TrainerCallback

from trace_recipe.errors import RecipeError

_MARKER = "_trace_recipe_unmasks_empty_rows"


def unmask_empty_attention_rows() -> None:
    """Let every fully masked query row of an SDPA mask attend to all keys (process-wide, idempotent).

    Only padding queries have no visible key (a real token always sees itself), and their outputs are never used:
    real queries do not attend to pad keys and the loss skips pad positions. So outputs at real positions are
    unchanged, while pad rows get an ordinary softmax instead of an empty one, which some CUDA kernels turn into
    NaN. Pure tensor ops, so it traces under torch.compile and works with static caches.
    """
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    current = ALL_MASK_ATTENTION_FUNCTIONS["sdpa"]
    if getattr(current, _MARKER, False):
        return

    @functools.wraps(current)
    def sdpa_mask_without_empty_rows(*args: Any, **kwargs: Any) -> Any:
        mask = current(*args, **kwargs)
        if isinstance(mask, torch.Tensor) and mask.dtype == torch.bool:
            mask = mask | ~mask.any(dim=-1, keepdim=True)
        return mask

    setattr(sdpa_mask_without_empty_rows, _MARKER, True)
    # register() updates the class-wide mapping, which every model's create_causal_mask looks the function up in
    AttentionMaskInterface.register("sdpa", sdpa_mask_without_empty_rows)


def check_max_nonfinite_grad_steps(value: int) -> int:
    """The limit of consecutive skipped steps, refused if negative (checked when flags are parsed, and here)."""
    if value < 0:
        raise ValueError(f"max_nonfinite_grad_steps {value}: use 0 (stop at the first) or more")
    return value


class SkipNonFiniteGradients(TrainerCallback):
    """Skip optimizer steps whose gradients hold nan/inf; stop after more than `max_consecutive` in a row.

    Runs after gradient clipping, right before `optimizer.step()`. With a nan norm, clipping has already made every
    gradient nan, so the step would ruin every trainable weight. Dropping the gradients (`.grad = None`) makes
    PyTorch's optimizers leave those parameters, and their moments, as they are. `nonfinite_steps_skipped` (the
    run's total) is added to every log entry, hence to trainer_state.json.

    fp16 is left to its GradScaler, which already skips overflowing steps while it lowers the scale. DeepSpeed keeps
    gradients in its own buffers, so the check sees none there and does nothing.
    """

    LOG_KEY = "nonfinite_steps_skipped"

    def __init__(self, max_consecutive: int = 3) -> None:
        self.max_consecutive = check_max_nonfinite_grad_steps(max_consecutive)
        self.skipped = 0
        self.consecutive = 0

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if model is None or args.fp16:
            return
        parameters = [p for p in model.parameters() if p.requires_grad and p.grad is not None]
        if not _any_nonfinite([p.grad for p in parameters], args.device):
            self.consecutive = 0
            return
        step = state.global_step + 1  # global_step counts finished optimizer steps
        self.consecutive += 1
        if self.consecutive > self.max_consecutive:
            steps = f"step {step}" if self.consecutive == 1 else f"steps {step - self.consecutive + 1}-{step}"
            raise RecipeError(
                f"non-finite gradients (nan/inf) in {self.consecutive} consecutive optimizer step(s) ({steps}, "
                f"max_nonfinite_grad_steps={self.max_consecutive}): training stopped, the weights are those of the "
                "last finite step (not saved); try --bf16 false or a lower --learning_rate"
            )
        for parameter in parameters:
            parameter.grad = None
        self.skipped += 1
        if state.is_world_process_zero:
            print(f"warning: step {step}: non-finite gradients (nan/inf); optimizer step skipped", file=sys.stderr)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if logs is None:
            return
        logs[self.LOG_KEY] = self.skipped  # what the reporters (tensorboard, ...) receive
        # Trainer.log appends a copy of `logs` to log_history just before on_log; that copy is trainer_state.json's
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1][self.LOG_KEY] = self.skipped


def _any_nonfinite(grads: list[torch.Tensor], device: torch.device) -> bool:
    """Whether any gradient (of any rank) holds nan/inf: one fused max-abs reduction and one host sync.

    The inf-norm is the largest |g|, finite exactly when every element is (a 2-norm could overflow on large finite
    values). Sharded (DTensor) gradients are checked shard by shard; the flag is all-reduced so that every rank
    skips or stops together.
    """
    local = [g.to_local() if hasattr(g, "to_local") else g for g in grads]
    if local:
        norm = torch.nn.utils.get_total_norm(local, norm_type=float("inf"))
        flag = (~torch.isfinite(norm)).float().to(device)  # the collective's device (CUDA for NCCL, CPU for gloo)
    else:
        flag = torch.zeros((), device=device)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    return bool(flag.item())
