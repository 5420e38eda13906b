"""What an expert is: a name, the step kinds it allows, and a generator of training examples."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Example:
    """One generated training example, before serialisation.

    `trace` is the trace document ({"expert": ..., "trace": [...]}); `answer` the value it must execute to.
    `template` identifies the phrasing template, for holding whole templates out of training.
    """

    question: str
    trace: dict[str, Any]
    answer: str
    template: str


# generator(rng, operations) -> Example: `operations` is the number of steps other than init/query it should use.
Generator = Callable[[random.Random, int], Example]


@dataclass(frozen=True)
class Expert:
    name: str
    description: str
    allowed_steps: frozenset[str]
    generator: Generator | None = None
    templates: tuple[str, ...] = field(default=())  # template ids the generator can produce
    min_operations: int = 1
    max_operations: int = 8
