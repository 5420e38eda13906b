"""Fixtures for the recipe tests: a tiny random Llama with a locally trained tokenizer, and trace data.

Everything is built offline in a few seconds and shared by the session: a byte-level BPE tokenizer trained on the
test examples, with ChatML special tokens and chat template (as SmolLM2 has), and a 4-layer LlamaForCausalLM with
tied embeddings (as SmolLM2 has), both saved to a temporary folder that the recipes load like any model folder.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

SYSTEM_PROMPT = (
    "You are a helpful assistant with access to the following experts: "
    "arithmetic, comparison, entity_track, percentage, rate_equation"
)
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
NUM_LAYERS = 4
ROOT = Path(__file__).resolve().parents[2]

# (question, expert, trace, answer): short, valid traces in the seed's format
RECORDS: list[tuple[str, str, str, str]] = [
    (
        f"Tom has {a} apples and buys {b} more. How many apples does he have?",
        "arithmetic",
        f"expert: arithmetic\ntrace:\n- {{init: a, value: {a}}}\n- {{init: b, value: {b}}}\n"
        f"- compute: {{op: add, args: [a, b], var: total}}\n- {{query: total}}\n",
        str(a + b),
    )
    for a, b in [(3, 5), (12, 7), (40, 2), (9, 9), (21, 4), (6, 30), (15, 15), (8, 1)]
] + [
    (
        f"Ann has {a} stickers and gives {b} to Ben. How many does Ann have left?",
        "entity_track",
        f"expert: entity_track\ntrace:\n- {{init: ann, value: {a}}}\n- {{init: ben, value: 0}}\n"
        f"- {{transfer: {{from: ann, to: ben, amount: {b}}}}}\n- {{query: ann}}\n",
        str(a - b),
    )
    for a, b in [(10, 3), (25, 5), (18, 9), (7, 2), (50, 20), (33, 3), (12, 4), (16, 8)]
]


@functools.cache
def load_script(path: str) -> types.ModuleType:
    """A script of the repository (`recipes/sft.py`, `benchmarks/generation.py` ...) loaded as a module: scripts are
    files to run, not part of the installed packages."""
    name = "script_" + path.removesuffix(".py").replace("/", "_")
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the parser resolves its dataclasses' field types through sys.modules
    spec.loader.exec_module(module)
    return module


def trace_rows() -> list[dict[str, Any]]:
    """Rows in the shape `trace_recipe.data.load_trace_dataset` returns (prompt/completion messages + columns)."""
    return [
        {
            "prompt": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}],
            "completion": [{"role": "assistant", "content": trace}],
            "answer": answer,
            "expert": expert,
        }
        for question, expert, trace, answer in RECORDS
    ]


def jsonl_lines() -> list[dict[str, Any]]:
    """The same examples in the dataset line format of `trace-solver generate`."""
    return [
        {"question": q, "expert": e, "trace": t, "answer": a, "steps": 1, "source": "synthetic", "template": None,
         "id": f"test-{i}"}
        for i, (q, e, t, a) in enumerate(RECORDS)
    ]  # fmt: skip


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder with a 4-layer random LlamaForCausalLM (tied embeddings) and a trained ChatML tokenizer."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-llama")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = [SYSTEM_PROMPT] + [f"{q}\n{t}" for q, _, t, _ in RECORDS]
    backend.train_from_iterator(corpus * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=NUM_LAYERS,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture
def trace_dataset():
    """The test examples as a datasets.Dataset of prompt/completion messages with answer/expert columns."""
    from datasets import Dataset

    return Dataset.from_list(trace_rows())


@pytest.fixture
def stub_data(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Serve `trace_recipe.data.load_trace_dataset` from the test rows; returns the paths it was asked for.

    The recipes' own glue is tested here; the real loader is the data part's and has its own tests.
    """
    from datasets import Dataset

    requested: list[str] = []

    def load_trace_dataset(path: str) -> Dataset:
        requested.append(path)
        return Dataset.from_list(trace_rows())

    module = types.ModuleType("trace_recipe.data")
    module.load_trace_dataset = load_trace_dataset  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "trace_recipe.data", module)
    return requested


@pytest.fixture
def dataset_jsonl(tmp_path: Path) -> Path:
    """A JSONL file of the test examples in the `trace-solver generate` line format."""
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in jsonl_lines()), encoding="utf-8")
    return path
