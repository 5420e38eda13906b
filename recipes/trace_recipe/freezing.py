"""Train only the last decoder layers and the LM head, as the original experiment did (TinyLlama: last 6 + lm_head).

Tied embeddings. SmolLM2 (and the tiny test model) tie `lm_head.weight` to `embed_tokens.weight`: one tensor
serves both. Unfreezing lm_head would then also train the input embeddings of every token, the largest block of the
model (21% of SmolLM2-135M). We untie instead: lm_head becomes a trainable copy of the embedding matrix, the input
embeddings stay frozen, and `config.tie_word_embeddings = False` makes `save_pretrained` write both matrices so the
checkpoint reloads untied. It costs one extra embedding matrix of memory and disk.

LoRA (`--use_peft`) is the alternative: PEFT freezes the base model and trains adapters, so layer freezing is
skipped and `num_unfrozen_layers` is ignored (a line says so). Freezing happens on the bare model before the trainer
wraps it (DDP/FSDP/DeepSpeed), so every process freezes the same parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trace_recipe.errors import RecipeError

if TYPE_CHECKING:
    from torch import nn

_LAYER = re.compile(r"^(.*\.layers)\.(\d+)\.")  # a parameter inside decoder layer N
_LAYER_KEY = re.compile(r"^(.*\.layers)\.(\d+)$")


class NoTrainableParametersError(RecipeError):
    """Training was asked for with every parameter frozen."""


def untie_lm_head(model: nn.Module) -> bool:
    """Give lm_head its own copy of the tied embedding matrix; return whether it was tied."""
    from torch import nn

    head, embeddings = model.get_output_embeddings(), model.get_input_embeddings()
    if head is None or head.weight is not embeddings.weight:
        return False
    head.weight = nn.Parameter(embeddings.weight.detach().clone(), requires_grad=embeddings.weight.requires_grad)
    model.config.tie_word_embeddings = False
    text_config = model.config.get_text_config()
    if text_config is not model.config:
        text_config.tie_word_embeddings = False
    return True


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The stack of decoder layers (`model.model.layers` for Llama-style models)."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else model
    layers = getattr(decoder, "layers", None)
    if layers is None:
        raise ValueError(f"{type(model).__name__} has no `.layers` stack: layer freezing supports decoder-only LMs")
    return layers


def freeze_all_but_last_layers(
    model: nn.Module, num_unfrozen_layers: int, *, train_lm_head: bool = True, untie: bool = True
) -> None:
    """Freeze everything except the last `num_unfrozen_layers` decoder layers and lm_head (untied first unless
    `untie=False`, in which case a tied lm_head trains the shared input embeddings too)."""
    if num_unfrozen_layers < 0:
        raise ValueError(f"num_unfrozen_layers must be >= 0, got {num_unfrozen_layers}")
    if train_lm_head and untie:
        untie_lm_head(model)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    layers = decoder_layers(model)
    for layer in list(layers)[max(len(layers) - num_unfrozen_layers, 0) :]:
        layer.requires_grad_(True)
    if train_lm_head:
        model.get_output_embeddings().requires_grad_(True)


@dataclass(frozen=True)
class ParameterGroup:
    """Parameters of one module group, e.g. `model.layers.0-15` or `lm_head`."""

    name: str
    total: int
    trainable: int


def parameter_groups(model: nn.Module) -> list[ParameterGroup]:
    """Parameter counts per module, in model order; runs of decoder layers that are all frozen or all trainable
    are merged (`model.layers.0-15`). A tied weight is one tensor and counts once."""
    per_module: dict[str, list[int]] = {}
    for name, parameter in model.named_parameters():
        match = _LAYER.match(name)
        key = f"{match[1]}.{match[2]}" if match else name.rsplit(".", 1)[0]
        counts = per_module.setdefault(key, [0, 0])
        counts[0] += parameter.numel()
        counts[1] += parameter.numel() if parameter.requires_grad else 0
    groups: list[ParameterGroup] = []
    run: tuple[str, str, bool] | None = None  # (layers prefix, first index, trainable) of the run being merged
    for key, (total, trainable) in per_module.items():
        match = _LAYER_KEY.match(key)
        if match and run and run[0] == match[1] and run[2] == (trainable > 0):
            last = groups[-1]
            groups[-1] = ParameterGroup(f"{run[0]}.{run[1]}-{match[2]}", last.total + total, last.trainable + trainable)
            continue
        run = (match[1], match[2], trainable > 0) if match else None
        groups.append(ParameterGroup(key, total, trainable))
    return groups


def trainable_table(model: nn.Module) -> str:
    """A text table of trainable parameters per module group, with counts and shares of the whole model."""
    groups = parameter_groups(model)
    total = sum(g.total for g in groups) or 1
    width = max(len("module group"), *(len(g.name) for g in groups))
    lines = [f"{'module group':<{width}}  {'parameters':>12}  {'trainable':>12}  {'% of model':>10}"]
    for g in groups:
        lines.append(f"{g.name:<{width}}  {g.total:>12,}  {g.trainable:>12,}  {100 * g.trainable / total:>9.2f}%")
    trainable = sum(g.trainable for g in groups)
    lines.append(f"{'total':<{width}}  {total:>12,}  {trainable:>12,}  {100 * trainable / total:>9.2f}%")
    head, embeddings = model.get_output_embeddings(), model.get_input_embeddings()
    if head is not None and embeddings is not None and head.weight is embeddings.weight:
        lines.append("(lm_head is tied to the input embeddings: one tensor, counted once above)")
    return "\n".join(lines)


def require_trainable(model: nn.Module) -> int:
    """Return the number of trainable parameters; refuse (one line) when there are none."""
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if count == 0:
        raise NoTrainableParametersError(
            "no trainable parameters: raise --num_unfrozen_layers, keep --train_lm_head, or use --use_peft"
        )
    return count
