"""Layer freezing: which parameters train, the tied lm_head, the table, and the refusals."""

from __future__ import annotations

import pytest
import torch
from conftest import NUM_LAYERS

from trace_recipe.configs import SFTScriptArguments
from trace_recipe.freezing import (
    NoTrainableParametersError,
    freeze_all_but_last_layers,
    parameter_groups,
    require_trainable,
    trainable_table,
    untie_lm_head,
)
from trace_recipe.pipeline import prepare_model


@pytest.fixture
def model(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir)


def trainable_names(model) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


def test_only_the_last_layers_and_lm_head_train(model):
    """num_unfrozen_layers=2 leaves exactly the last two decoder layers and lm_head trainable."""
    freeze_all_but_last_layers(model, 2)
    expected = {n for n, _ in model.named_parameters() if n.startswith(("model.layers.2.", "model.layers.3."))}
    assert trainable_names(model) == expected | {"lm_head.weight"}


def test_untying_makes_lm_head_a_copy_and_keeps_embeddings_frozen(model):
    """A tied lm_head becomes its own trainable copy of the embeddings, and the config records the untying."""
    assert model.lm_head.weight is model.model.embed_tokens.weight
    freeze_all_but_last_layers(model, 1)
    assert model.lm_head.weight is not model.model.embed_tokens.weight
    assert torch.equal(model.lm_head.weight, model.model.embed_tokens.weight)
    assert model.lm_head.weight.requires_grad and not model.model.embed_tokens.weight.requires_grad
    assert model.config.tie_word_embeddings is False


def test_keeping_the_tie_trains_the_shared_embeddings(model):
    """With untie=False a tied lm_head stays one tensor with the input embeddings, and both train."""
    freeze_all_but_last_layers(model, 1, untie=False)
    assert model.lm_head.weight is model.model.embed_tokens.weight and model.lm_head.weight.requires_grad
    assert model.config.tie_word_embeddings is True


def test_untie_leaves_untied_models_alone(model):
    """untie_lm_head reports False and changes nothing when lm_head already has its own weight."""
    assert untie_lm_head(model) is True
    head = model.lm_head.weight
    assert untie_lm_head(model) is False and model.lm_head.weight is head


def test_more_unfrozen_layers_than_the_model_has_trains_them_all(model):
    """Asking for more layers than exist unfreezes every decoder layer (and nothing else but lm_head)."""
    freeze_all_but_last_layers(model, NUM_LAYERS + 10)
    assert all(p.requires_grad for p in model.model.layers.parameters())
    assert not model.model.embed_tokens.weight.requires_grad and not model.model.norm.weight.requires_grad


def test_negative_layer_count_is_refused(model):
    """A negative num_unfrozen_layers is a configuration error."""
    with pytest.raises(ValueError, match="num_unfrozen_layers must be >= 0"):
        freeze_all_but_last_layers(model, -1)


def test_nothing_trainable_is_refused(model):
    """Zero unfrozen layers without lm_head leaves nothing to train, and require_trainable says so in one line."""
    freeze_all_but_last_layers(model, 0, train_lm_head=False)
    with pytest.raises(NoTrainableParametersError, match="no trainable parameters") as error:
        require_trainable(model)
    assert "\n" not in str(error.value)


def test_table_groups_layer_runs_and_counts_every_parameter_once(model):
    """The table merges frozen and trainable layer runs and its total equals the model's parameter count."""
    freeze_all_but_last_layers(model, 2)
    groups = parameter_groups(model)
    assert [g.name for g in groups] == ["model.embed_tokens", "model.layers.0-1", "model.layers.2-3", "model.norm",
                                        "lm_head"]  # fmt: skip
    assert sum(g.total for g in groups) == sum(p.numel() for p in model.parameters())
    table = trainable_table(model)
    assert table.splitlines()[-1].startswith("total") and "% of model" in table.splitlines()[0]


def test_use_peft_skips_freezing_and_says_so(tiny_model_dir):
    """With use_peft the layers are not frozen here (PEFT freezes the base model) and a line explains it."""
    from trl import ModelConfig

    lines: list[str] = []
    model_args = ModelConfig(model_name_or_path=str(tiny_model_dir), use_peft=True)
    model, _ = prepare_model(SFTScriptArguments(num_unfrozen_layers=2), model_args, lines.append)
    assert all(p.requires_grad for p in model.parameters())
    assert any("num_unfrozen_layers is ignored" in line for line in lines)


def test_lora_trains_adapters_only(tiny_model_dir):
    """Under LoRA the trainable parameters are the adapters, reported by the same table."""
    from peft import get_peft_model
    from trl import ModelConfig, get_peft_config

    model_args = ModelConfig(model_name_or_path=str(tiny_model_dir), use_peft=True, lora_r=4)
    model, _ = prepare_model(SFTScriptArguments(), model_args, print)
    peft_model = get_peft_model(model, get_peft_config(model_args))
    assert require_trainable(peft_model) > 0
    assert all("lora_" in name for name in trainable_names(peft_model))
