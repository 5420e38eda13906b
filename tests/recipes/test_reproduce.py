"""Helpers of recipes/reproduce/ that the GPU runs depend on."""

from __future__ import annotations

from conftest import load_script


def test_shaped_model_takes_the_shape_and_the_tokenizers_vocabulary(tiny_model_dir, tmp_path, monkeypatch):
    """The written folder loads as a causal LM of the named shape whose vocabulary, special ids and chat template are
    the tokenizer's (the recipes then render prompts and stop at its EOS)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    shaped_model = load_script("recipes/reproduce/shaped_model.py")

    shape = dict(
        hidden_size=16, intermediate_size=32, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2
    )
    monkeypatch.setitem(shaped_model.SHAPES, "tiny", shape | {"vocab_size": 32000})
    folder = shaped_model.write_shaped_model("tiny", str(tmp_path / "tiny"), str(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    source = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert {key: getattr(model.config, key) for key in shape} == shape
    assert model.config.vocab_size == len(source) == model.get_input_embeddings().num_embeddings != 32000
    assert model.config.eos_token_id == source.eos_token_id and model.config.pad_token_id == source.pad_token_id
    assert tokenizer.chat_template == source.chat_template
