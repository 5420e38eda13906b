"""The error every step of the recipes raises for an expected failure; the scripts print its one line and exit 2."""

from __future__ import annotations

EXIT_ERROR = 2  # argparse's status for a bad command line; the recipes use it for every expected failure


class RecipeError(RuntimeError):
    """An expected failure (bad model, truncated data, nothing to train) whose message is one line naming the fix."""
