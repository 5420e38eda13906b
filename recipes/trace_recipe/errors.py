"""The error every step of the recipes raises for an expected failure; the scripts print its one line and exit 2."""

from __future__ import annotations


class RecipeError(RuntimeError):
    """An expected failure (bad model, truncated data, nothing to train) whose message is one line naming the fix."""
