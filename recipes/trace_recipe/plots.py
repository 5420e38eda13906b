"""PNG plots for the reports: accuracy per expert, and training curves from a trainer's `trainer_state.json` (for RL:
reward, frac_reward_zero_std, KL and the dev accuracy logged during training).

matplotlib runs on the Agg backend (no display on training machines); it is imported inside the functions so that
importing this module costs nothing.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

# Log keys worth a panel, in display order; TRL logs rewards as `reward` and per function as `rewards/<name>/mean`.
CURVE_KEYS: tuple[str, ...] = (
    "loss",
    "eval_loss",
    "reward",
    "reward_std",
    "frac_reward_zero_std",
    "mean_token_accuracy",
    "kl",
    "dev/accuracy",
    "dev/valid_rate",
    "dev/parse_rate",
    "dev/mean_reward",
    "entropy",
    "completions/mean_length",
    "learning_rate",
    "grad_norm",
)


# The y-axis label of each panel; keys under `rewards/` read as rewards. Unlisted keys are labelled with their name.
AXIS_LABELS: dict[str, str] = {
    "loss": "loss",
    "eval_loss": "loss",
    "reward": "mean reward",
    "reward_std": "reward std",
    "frac_reward_zero_std": "share of prompts (all samples tie)",
    "mean_token_accuracy": "token accuracy",
    "kl": "KL to reference (nats/token)",
    "entropy": "entropy (nats/token)",
    "completions/mean_length": "tokens",
    "learning_rate": "learning rate",
    "grad_norm": "gradient norm",
}
# Metrics logged by DevAccuracyCallback share one panel (greedy rates on the dev set).
DEV_PREFIX = "dev/"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_per_expert(metrics: Mapping[str, Any], out_png: str, *, title: str = "") -> str:
    """Bar chart of accuracy per gold expert, with `correct/count` on each bar (and self-consistency if present)."""
    plt = _pyplot()
    per_expert = metrics["per_expert"]
    experts = sorted(per_expert, key=lambda e: (-(per_expert[e]["accuracy"] or 0), e))
    greedy = [100 * (per_expert[e]["accuracy"] or 0) for e in experts]
    sc = metrics.get("self_consistency")
    fig, ax = plt.subplots(figsize=(1.6 * max(len(experts), 3) + 1, 4))
    width = 0.4 if sc else 0.6
    positions = list(range(len(experts)))
    bars = ax.bar([p - (width / 2 if sc else 0) for p in positions], greedy, width, label="greedy")
    for bar, expert in zip(bars, experts):
        row = per_expert[expert]
        ax.annotate(
            f"{row['correct']}/{row['count']}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    if sc:
        voted = [100 * sc["per_expert"][e] / per_expert[e]["count"] for e in experts]
        ax.bar([p + width / 2 for p in positions], voted, width, label=f"self-consistency k={sc['k']}")
    overall = metrics.get("accuracy")
    if overall is not None:
        ax.axhline(100 * overall, color="grey", linestyle="--", linewidth=1, label=f"overall {100 * overall:.1f}%")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_xticks(positions)
    ax.set_xticklabels(experts, rotation=15)
    ax.set_ylim(0, 105)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{title}: accuracy by expert" if title else "Accuracy by expert")
    fig.tight_layout()
    os.makedirs(os.path.dirname(out_png) or ".", exist_ok=True)
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return out_png


def curves_from_log_history(log_history: Sequence[Mapping[str, Any]]) -> dict[str, tuple[list[float], list[float]]]:
    """{key: (steps, values)} for every numeric key in CURVE_KEYS or under `rewards/` found in the log."""
    curves: dict[str, tuple[list[float], list[float]]] = {}
    for entry in log_history:
        step = entry.get("step")
        if step is None:
            continue
        for key, value in entry.items():
            wanted = (
                key in CURVE_KEYS
                or key.startswith(DEV_PREFIX)
                or (key.startswith("rewards/") and key.endswith("/mean"))
            )
            if not wanted or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if not math.isfinite(value):
                continue
            steps, values = curves.setdefault(key, ([], []))
            steps.append(float(step))
            values.append(float(value))
    order = {key: i for i, key in enumerate(CURVE_KEYS)}
    return dict(sorted(curves.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def plot_training_curves(trainer_state_path: str, out_png: str, *, title: str | None = None) -> str | None:
    """One panel per logged metric (loss, reward, frac_reward_zero_std, kl ...) against the step, the dev-set rates
    of `DevAccuracyCallback` (dev/accuracy, dev/valid_rate ...) together in one; None if nothing was logged.

    Args:
        trainer_state_path: a `trainer_state.json` (written by every HF Trainer in its output/checkpoint folders),
            or a folder holding one.
        out_png: where to write the figure.
    """
    if os.path.isdir(trainer_state_path):
        trainer_state_path = os.path.join(trainer_state_path, "trainer_state.json")
    with open(trainer_state_path, encoding="utf-8") as f:
        state = json.load(f)
    curves = curves_from_log_history(state.get("log_history", []))
    if not curves:
        return None
    panels = _panels(curves)
    plt = _pyplot()
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.0 * rows), squeeze=False)
    for ax, (panel_title, keys) in zip(axes.flat, panels):
        for key in keys:
            steps, values = curves[key]
            label = key.removeprefix(DEV_PREFIX) if len(keys) > 1 else None
            ax.plot(steps, values, marker="o" if len(steps) <= 30 else None, markersize=3, label=label)
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel(_axis_label(keys[0]), fontsize=9)
        if len(keys) > 1:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(title or os.path.basename(os.path.dirname(os.path.abspath(trainer_state_path))))
    fig.tight_layout()
    os.makedirs(os.path.dirname(out_png) or ".", exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def _panels(curves: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """(title, keys) per panel: one per metric, except the dev-set rates, which share one (at the first one's place)."""
    panels: list[tuple[str, list[str]]] = []
    dev_keys = [key for key in curves if key.startswith(DEV_PREFIX)]
    for key in curves:
        if key.startswith(DEV_PREFIX):
            if key == dev_keys[0]:
                panels.append(("dev set, greedy", dev_keys))
        else:
            panels.append((key, [key]))
    return panels


def _axis_label(key: str) -> str:
    if key.startswith(DEV_PREFIX):
        return "fraction of dev questions / mean reward"
    if key.startswith("rewards/"):
        return "mean reward"
    return AXIS_LABELS.get(key, key)
