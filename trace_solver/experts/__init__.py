"""The expert registry.

Every module in this package (other than base and private modules) defines ``EXPERT = Expert(...)`` and is
discovered on import, so adding an expert is adding one module. Expert modules may also register their own step kinds
(see trace_solver.steps.register_step).
"""

from __future__ import annotations

import importlib
import pkgutil

from trace_solver.experts.base import Example, Expert, Generator

__all__ = ["EXPERTS", "Example", "Expert", "Generator", "expert_names", "get_expert"]


def _discover() -> dict[str, Expert]:
    found: dict[str, Expert] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name == "base" or module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        expert = getattr(module, "EXPERT", None)
        if not isinstance(expert, Expert):
            raise ImportError(f"expert module {module.__name__} must define EXPERT = Expert(...)")
        if expert.name in found:
            raise ImportError(f"two expert modules define the expert {expert.name!r}")
        found[expert.name] = expert
    return found


EXPERTS: dict[str, Expert] = _discover()


def expert_names() -> list[str]:
    """Registered expert names, sorted."""
    return sorted(EXPERTS)


def get_expert(name: str) -> Expert | None:
    return EXPERTS.get(name) if isinstance(name, str) else None
