"""Script arguments: YAML defaults, flag overrides, the shipped recipes, device defaults and the dataset glue."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import load_script

from trace_recipe.configs import EMBEDDED_MODEL, fill_device_defaults

rl = load_script("recipes/rl.py")
sft = load_script("recipes/sft.py")

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*/*.yaml"))


def parse(parser, *args: str):
    return parser.parse_args_and_config(args=list(args))


def test_yaml_gives_defaults_and_flags_override(tmp_path):
    """Values from --config apply, and a flag given on the command line wins over the YAML."""
    config = tmp_path / "recipe.yaml"
    config.write_text("learning_rate: 3.0e-4\nnum_unfrozen_layers: 4\nmax_length: 1024\noutput_dir: out\n")
    script_args, training_args, _ = parse(sft.make_parser(), "--config", str(config), "--num_unfrozen_layers", "2")
    assert training_args.learning_rate == 3e-4 and training_args.max_length == 1024
    assert script_args.num_unfrozen_layers == 2


def test_unknown_yaml_key_is_refused(tmp_path):
    """A misspelt key in a recipe is an error, not silently ignored."""
    config = tmp_path / "recipe.yaml"
    config.write_text("learning_rat: 3.0e-4\noutput_dir: out\n")
    with pytest.raises(ValueError, match="learning_rat"):
        parse(sft.make_parser(), "--config", str(config))


def test_defaults_use_the_embedded_model_and_the_seed_layout():
    """Without a recipe: the embedded model, 6 unfrozen layers, 250 generated examples, final evaluation on."""
    script_args, _, model_args = parse(sft.make_parser(), "--output_dir", "out")
    assert model_args.model_name_or_path == EMBEDDED_MODEL
    assert script_args.num_unfrozen_layers == 6 and script_args.num_train_examples == 250
    assert script_args.do_final_eval is True


def test_rl_defaults_to_eight_generations_and_the_trace_reward():
    """RL samples 8 completions per prompt by default (TRL's 2 often tie under tiered rewards)."""
    script_args, training_args, _ = parse(rl.make_parser(), "--output_dir", "out")
    assert training_args.num_generations == 8 and script_args.reward_funcs == ["trace"]


def test_rl_reference_model_loads_on_this_process_device(tmp_path):
    """RLOO's reference model is loaded with device_map set to the process's own device (TRL's "auto" put every FSDP
    rank's copy on GPU 0); a device_map the user passes is kept, and other loading options pass through."""
    from trace_recipe.configs import TraceRLOOConfig

    _, training_args, _ = parse(rl.make_parser(), "--output_dir", str(tmp_path))
    device = str(training_args.distributed_state.device)
    assert training_args.model_init_kwargs == {"device_map": {"": device}}
    user = TraceRLOOConfig(output_dir=str(tmp_path), model_init_kwargs={"device_map": "auto", "dtype": "float32"})
    assert user.model_init_kwargs == {"device_map": "auto", "dtype": "float32"}


def test_cpu_defaults_turn_bf16_and_checkpointing_off():
    """On a host without a GPU, unset bf16, tf32 and gradient checkpointing resolve to off and use_cpu to on."""
    _, training_args, _ = parse(sft.make_parser(), "--output_dir", "out")
    assert (training_args.bf16, training_args.gradient_checkpointing, training_args.use_cpu) == (False, False, True)
    assert training_args.tf32 is False


def test_explicit_checkpointing_is_kept_on_cpu():
    """A value the user set is not replaced by the device default."""
    _, training_args, _ = parse(sft.make_parser(), "--output_dir", "out", "--gradient_checkpointing", "true")
    assert training_args.gradient_checkpointing is True


def test_gpu_defaults_turn_bf16_and_checkpointing_on(monkeypatch):
    """With a bf16-capable CUDA GPU, unset bf16 and checkpointing resolve to on; explicit values stay."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (9, 0))
    unset = SimpleNamespace(use_cpu=False, fp16=False, bf16=None, tf32=None, gradient_checkpointing=None,
                            activation_checkpointing=None, ddp_find_unused_parameters=None)  # fmt: skip
    fill_device_defaults(unset)
    assert unset.bf16 is True and unset.tf32 is True and unset.activation_checkpointing is True
    explicit = SimpleNamespace(**{**vars(unset), "bf16": False, "tf32": False, "gradient_checkpointing": False})
    fill_device_defaults(explicit)
    assert explicit.bf16 is False and explicit.tf32 is False and explicit.activation_checkpointing is False
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (7, 0))  # V100: no TF32
    older = SimpleNamespace(**{**vars(unset), "bf16": None, "tf32": None, "gradient_checkpointing": None})
    fill_device_defaults(older)
    assert older.tf32 is False


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_recipes_parse(recipe):
    """Every recipe YAML parses with its script's parser and starts with a hardware / run-time comment."""
    parser = rl.make_parser() if recipe.name.startswith("rl") else sft.make_parser()
    parse(parser, "--config", str(recipe))
    first_line = recipe.read_text().splitlines()[0]
    assert first_line.startswith("#") and "time" in first_line.lower()


def test_tinyllama_recipes_reproduce_the_seed():
    """TinyLlama: last 6 layers + lm_head, 250 synthetic examples, 1 epoch at max_length 1024, then 20 RLOO steps."""
    folder = ROOT / "recipes" / "TinyLlama-1.1B-Chat"
    script_args, training_args, model_args = parse(sft.make_parser(), "--config", str(folder / "sft.yaml"))
    assert model_args.model_name_or_path == "TinyLlama/TinyLlama-1.1B-Chat-v1.0"
    assert script_args.num_unfrozen_layers == 6 and script_args.train_lm_head and script_args.num_train_examples == 250
    assert script_args.dataset_path is None and training_args.num_train_epochs == 1 and training_args.max_length == 1024
    rl_script_args, rl_args, _ = parse(rl.make_parser(), "--config", str(folder / "rl.yaml"))
    assert rl_args.max_steps == 20 and rl_script_args.num_unfrozen_layers == 6
    assert rl_script_args.reward_funcs[0] == "trace"


def test_generated_sets_are_written_then_loaded(tmp_path, monkeypatch):
    """Without dataset paths, generate_splits makes train and eval sets, kept in output_dir, then loaded."""
    calls, loaded = [], []
    generate = types.ModuleType("trace_solver.generate")
    generate.generate_splits = lambda n_train, n_eval, seed, **kw: (
        calls.append((n_train, n_eval, seed, kw)) or ([{"question": "t"}] * n_train, [{"question": "e"}] * n_eval)
    )
    data = types.ModuleType("trace_recipe.data")
    data.load_trace_dataset = lambda path: loaded.append(path) or Path(path).name
    monkeypatch.setitem(sys.modules, "trace_solver.generate", generate)
    monkeypatch.setitem(sys.modules, "trace_recipe.data", data)
    script_args, _, _ = parse(
        sft.make_parser(), "--output_dir", str(tmp_path), "--num_train_examples", "3", "--num_eval_examples", "2",
        "--generator_seed", "7", "--experts", "arithmetic", "comparison", "--max_trace_steps", "4",
    )  # fmt: skip
    assert script_args.load_datasets(str(tmp_path)) == ("train.jsonl", "eval.jsonl")
    assert calls == [(3, 2, 7, {"experts": ["arithmetic", "comparison"], "min_steps": 1, "max_steps": 4})]
    written = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert written == [{"question": "t"}] * 3 and len((tmp_path / "eval.jsonl").read_text().splitlines()) == 2


def test_no_final_eval_loads_no_eval_set(stub_data):
    """With do_final_eval false only the training set is loaded."""
    script_args, _, _ = parse(sft.make_parser(), "--output_dir", "out", "--dataset_path", "a.jsonl",
                              "--do_final_eval", "false")  # fmt: skip
    train, evaluation = script_args.load_datasets("out")
    assert len(train) == 16 and evaluation is None and stub_data == ["a.jsonl"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [("single_gpu", "NO"), ("ddp", "MULTI_GPU"), ("fsdp", "FSDP"), ("zero2", "DEEPSPEED")],
)
def test_accelerate_configs_load_with_accelerates_own_reader(name, kind):
    """Each config in accelerate_configs/ is one `accelerate launch --config_file` accepts, of the strategy named."""
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(Path(__file__).resolve().parents[2] / "accelerate_configs" / f"{name}.yaml"))
    assert config.distributed_type.name == kind


def test_embedded_model_recipes_train_the_same_layers_in_sft_and_rl():
    """SmolLM2, synthetic pair: all 30 layers in SFT and in RL (RL must not freeze what SFT trained), RL prompted with
    the SFT set (same size and seed), the measured 4,000 examples x 5 epochs, then 20 RL iterations."""
    folder = ROOT / "recipes" / "SmolLM2-135M-Instruct"
    script_args, training_args, model_args = parse(sft.make_parser(), "--config", str(folder / "sft_synthetic.yaml"))
    rl_script_args, rl_args, rl_model = parse(rl.make_parser(), "--config", str(folder / "rl_synthetic.yaml"))
    assert model_args.model_name_or_path == EMBEDDED_MODEL
    assert rl_model.model_name_or_path == training_args.output_dir
    assert script_args.num_unfrozen_layers == rl_script_args.num_unfrozen_layers == 30
    assert script_args.num_train_examples == rl_script_args.num_train_examples == 4000
    assert script_args.generator_seed == rl_script_args.generator_seed
    assert training_args.num_train_epochs == 5 and rl_args.max_steps == 20


def test_real_text_recipes_split_the_problems_and_never_train_on_dev():
    """SmolLM2, real pair: SFT and RL read the same GSM-8K file; RL's prompts are GSM-8K problems SFT never trains on
    (RL on problems SFT fitted sharpened memorised answers), neither touches a dev split (the last 500 GSM-8K
    problems, the last 300 MAWPS/ASDiv-A rows), both evaluate on both dev splits, RL starts from SFT's output with the
    prompt filter on, and no KL term (TRL would fold it into the rewards before counting zero-std groups)."""
    from datasets import ReadInstruction

    from trace_solver import gsm8k, mawps

    folder = ROOT / "recipes" / "SmolLM2-135M-Instruct"
    script_args, training_args, _ = parse(sft.make_parser(), "--config", str(folder / "sft.yaml"))
    rl_script_args, rl_args, rl_model = parse(rl.make_parser(), "--config", str(folder / "rl.yaml"))
    sizes = {"data/gsm8k/train.jsonl": 7473, "data/mawps-asdiv-a/train.csv": 3138}  # the files' rows
    dev = {"data/gsm8k/train.jsonl": gsm8k.DEV_SIZE, "data/mawps-asdiv-a/train.csv": mawps.DEV_SIZE}

    def rows(datasets) -> dict[str, set[int]]:
        taken: dict[str, set[int]] = {}
        for entry in datasets:
            for part in ReadInstruction.from_spec(entry.split).to_absolute({"train": sizes[entry.path]}):
                taken.setdefault(entry.path, set()).update(range(part.from_, part.to))
        return taken

    sft_rows, rl_rows = rows(script_args.datasets), rows(rl_script_args.datasets)
    assert set(sft_rows) == set(sizes) and set(rl_rows) == {"data/gsm8k/train.jsonl"}
    assert not sft_rows["data/gsm8k/train.jsonl"] & rl_rows["data/gsm8k/train.jsonl"]
    assert len(rl_rows["data/gsm8k/train.jsonl"]) == 1000
    for taken in (sft_rows, rl_rows):
        for path, indices in taken.items():
            assert max(indices) < sizes[path] - dev[path]  # no dev row
    sources = {entry.path for entry in script_args.datasets}
    for args in (script_args, rl_script_args):
        assert {"gsm8k_dev", "mawps_dev", "synthetic"} <= set(args.eval_sets)
        assert args.gsm8k_path in sources and args.mawps_path in sources
    assert script_args.num_variants > 0 and script_args.num_train_examples > 0  # variants and generated traces
    assert rl_script_args.num_variants == 0 and rl_script_args.num_train_examples == 0  # real prompts only
    assert rl_model.model_name_or_path == training_args.output_dir
    assert script_args.num_unfrozen_layers == rl_script_args.num_unfrozen_layers == 30
    assert rl_script_args.filter_num_samples > 1 and rl_script_args.dev_eval_set == "gsm8k_dev"
    assert rl_args.beta == 0.0
