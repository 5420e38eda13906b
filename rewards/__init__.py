"""Reward functions for TRL trainers, scoring YAML traces with trace_solver.

Each is a plain function ``f(completions, **kwargs) -> list[float]`` usable in GRPOTrainer/RLOOTrainer or as a dotted
path in ``trl rloo --reward_funcs rewards.trace_reward``; TRL logs each as ``rewards/<name>/mean``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from rewards.trace import (
    RewardFunc,
    RewardTiers,
    Score,
    completion_text,
    correctness_reward,
    expert_reward,
    make_trace_reward,
    parse_reward,
    score_completion,
    trace_reward,
)

REWARD_FUNCS: dict[str, RewardFunc] = {
    "trace": trace_reward,
    "parse": parse_reward,
    "expert": expert_reward,
    "correctness": correctness_reward,
}


def get_reward_funcs(names: Iterable[str], tiers: RewardTiers | None = None) -> list[RewardFunc]:
    """Map the names a recipe YAML lists (``reward_funcs: [trace, parse]``) to functions.

    A name is one of REWARD_FUNCS or, as in TRL's own ``trl rloo``/``trl grpo`` scripts, a dotted import path of
    any reward function (``my_lib.rewards.length_reward``)."""
    funcs = []
    for name in names:
        if name in REWARD_FUNCS:
            funcs.append(make_trace_reward(tiers) if name == "trace" and tiers is not None else REWARD_FUNCS[name])
        elif "." in name:
            funcs.append(_import_reward(name))
        else:
            raise ValueError(
                f"unknown reward function {name!r}; known: {', '.join(REWARD_FUNCS)}, or a dotted import path "
                "such as my_lib.rewards.my_reward"
            )
    return funcs


def _import_reward(path: str) -> RewardFunc:
    module_path, _, attribute = path.rpartition(".")
    try:
        func = getattr(importlib.import_module(module_path), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"reward function {path!r} cannot be imported: {exc}") from None
    if not callable(func):
        raise ValueError(f"reward function {path!r} is a {type(func).__name__}, not a function")
    return func


__all__ = [
    "REWARD_FUNCS",
    "RewardTiers",
    "Score",
    "completion_text",
    "correctness_reward",
    "expert_reward",
    "get_reward_funcs",
    "make_trace_reward",
    "parse_reward",
    "score_completion",
    "trace_reward",
]
