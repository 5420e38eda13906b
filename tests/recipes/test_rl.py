"""RL recipe: RLOO for a couple of iterations on the tiny random Llama, with a spy around the real trace reward."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from conftest import NUM_LAYERS, RECORDS, load_script

from rewards import trace_reward
from trace_recipe.truncation import TruncationError

rl = load_script("recipes/rl.py")

pytestmark = pytest.mark.slow


class RewardSpy:
    """Calls the real trace reward and records what RLOO passed to it."""

    __name__ = "trace_reward"

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, completions, **kwargs):
        self.calls.append({"completions": completions, **kwargs})
        return trace_reward(completions, **kwargs)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> RewardSpy:
    spy = RewardSpy()
    monkeypatch.setattr(rl, "reward_funcs_by_name", lambda names: [spy])
    return spy


def run_rl(model_dir: Path, output_dir: Path, *flags: str):
    """Parse flags like the command line does and run the recipe's main()."""
    args = [
        "--model_name_or_path", str(model_dir),
        "--output_dir", str(output_dir),
        "--dataset_path", "rows.jsonl",
        "--max_steps", "2",
        "--per_device_train_batch_size", "4",
        "--num_generations", "4",
        "--max_completion_length", "64",
        "--learning_rate", "1e-2",
        "--logging_steps", "1",
        "--save_strategy", "no",
        "--report_to", "none",
        "--num_unfrozen_layers", "2",
        "--do_final_eval", "false",
        "--disable_tqdm", "true",
        *flags,
    ]  # fmt: skip
    return rl.main(*rl.make_parser().parse_args_and_config(args=args))


def test_reward_gets_completions_answers_and_experts_of_the_same_prompts(tiny_model_dir, stub_data, spy, tmp_path):
    """The reward sees each completion with the answer and expert of the question it was sampled for."""
    run_rl(tiny_model_dir, tmp_path)
    gold = {question: (answer, expert) for question, expert, _, answer in RECORDS}
    assert spy.calls
    for call in spy.calls:
        assert len(call["completions"]) == len(call["answer"]) == len(call["expert"]) == len(call["prompts"]) == 4
        assert all(c[0]["role"] == "assistant" for c in call["completions"])
        for prompt, answer, expert in zip(call["prompts"], call["answer"], call["expert"], strict=True):
            assert gold[prompt[-1]["content"]] == (answer, expert)


def alternating_reward(completions, **kwargs):
    """0, 1, 0, 1, ...: the random model scores 0 on the trace reward, which gives no advantage and no update."""
    return [float(i % 2) for i in range(len(completions))]


def test_rl_trains_only_the_unfrozen_layers(tiny_model_dir, stub_data, tmp_path, monkeypatch):
    """RLOO leaves the frozen layers as they were and updates the last two layers; the loss stays finite."""
    from transformers import AutoModelForCausalLM

    monkeypatch.setattr(rl, "reward_funcs_by_name", lambda names: [alternating_reward])
    before = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    trainer = run_rl(tiny_model_dir, tmp_path, "--beta", "0.0")
    after = trainer.model.state_dict()
    for name, weight in after.items():
        layer = re.search(r"layers\.(\d+)\.", name)
        if layer and int(layer[1]) < NUM_LAYERS - 2 or "embed_tokens" in name:
            assert torch.equal(weight, before[name]), name
    assert not torch.equal(after["model.layers.3.mlp.down_proj.weight"], before["model.layers.3.mlp.down_proj.weight"])
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses and all(math.isfinite(loss) for loss in losses)
    assert (tmp_path / "training_curves.png").stat().st_size > 1000  # loss, reward, frac_reward_zero_std ...


def test_rl_logs_the_zero_std_fraction(tiny_model_dir, stub_data, spy, tmp_path):
    """frac_reward_zero_std (groups whose samples all tie, hence no advantage) is in the training log."""
    trainer = run_rl(tiny_model_dir, tmp_path, "--max_steps", "1")
    assert any("frac_reward_zero_std" in entry for entry in trainer.state.log_history)


def test_reference_traces_longer_than_max_completion_length_stop_rl(tiny_model_dir, stub_data, spy, tmp_path):
    """A max_completion_length below the longest reference trace stops RL before training."""
    with pytest.raises(TruncationError, match=r"16 of 16 reference traces exceed max_completion_length=16"):
        run_rl(tiny_model_dir, tmp_path, "--max_completion_length", "16")


def test_recipe_reward_names_resolve(tmp_path):
    """The reward names the recipes list resolve to the functions in rewards/."""
    funcs = rl.reward_funcs_by_name(["trace", "parse", "expert", "correctness"])
    assert [f.__name__ for f in funcs] == ["trace_reward", "parse_reward", "expert_reward", "correctness_reward"]


def test_graph_backend_samples_through_trace_recipe_generation(tiny_model_dir, stub_data, spy, tmp_path, monkeypatch):
    """--generation_backend graph: RLOO's completions come from our compiled-loop backend; at a near-zero
    temperature they are the greedy completions of plain eager generate, so prompts and padding are wired as TRL's
    own path wires them."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trace_recipe import rloo_trainer
    from trace_recipe.generation import GenerationOptions, generate_completions

    backends_used = []

    def recording_generate(model, prompts, **kwargs):
        backends_used.append((kwargs["options"].backend, kwargs["options"].keep_eos, len(prompts)))
        return generate_token_ids(model, prompts, **kwargs)

    generate_token_ids = rloo_trainer.generate_token_ids
    monkeypatch.setattr(rloo_trainer, "generate_token_ids", recording_generate)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    trainer = run_rl(tiny_model_dir, tmp_path, "--generation_backend", "graph", "--temperature", "1e-6",
                     "--max_steps", "1")  # fmt: skip
    assert trainer._generation_backend == "graph" and backends_used == [("graph", True, 4)]
    (call,) = spy.calls
    greedy = generate_completions(model, tokenizer, call["prompts"], GenerationOptions(max_new_tokens=64))
    assert [c[0]["content"] for c in call["completions"]] == greedy


def test_generation_backend_auto_keeps_trl_generation_on_cpu(tiny_model_dir, stub_data, spy, tmp_path):
    """On CPU, auto leaves sampling to TRL; options only TRL implements (top_k) also keep TRL's path."""
    assert run_rl(tiny_model_dir, tmp_path / "auto", "--max_steps", "1")._generation_backend == "trl"
    trainer = run_rl(tiny_model_dir, tmp_path / "top_k", "--max_steps", "1", "--generation_backend", "graph",
                     "--top_k", "5")  # fmt: skip
    assert trainer._generation_backend == "trl"


def test_unknown_generation_backend_is_refused():
    """A misspelt backend stops at parsing with the choices named."""
    with pytest.raises(ValueError, match="generation_backend 'fast': choose one of auto, trl, graph"):
        rl.make_parser().parse_args_and_config(args=["--generation_backend", "fast", "--output_dir", "x"])


def test_fast_generation_keeps_the_mixed_precision_wrapper(tiny_model_dir, stub_data, spy, tmp_path):
    """Under bf16 autocast (here on CPU) our backend decodes without accelerate's autocast wrapper, and the wrapper
    is back on the model afterwards, so the training steps still run in mixed precision."""
    trainer = run_rl(tiny_model_dir, tmp_path, "--generation_backend", "graph", "--bf16", "true", "--max_steps", "1")
    assert trainer.accelerator.native_amp and spy.calls
    model = trainer.accelerator.unwrap_model(trainer.model_wrapped)
    assert "_original_forward" in model.__dict__ and hasattr(model.forward, "__wrapped__")


def test_installed_trl_has_the_generation_hook_the_override_was_written_for():
    """TRL's private RLOOTrainer._generate_single_turn takes the parameters TraceRLOOTrainer overrides; a TRL
    release that changes them fails here."""
    import inspect

    from trl import RLOOTrainer

    from trace_recipe.rloo_trainer import OVERRIDDEN_PARAMETERS, check_trl_generation_hook

    assert tuple(inspect.signature(RLOOTrainer._generate_single_turn).parameters) == OVERRIDDEN_PARAMETERS
    check_trl_generation_hook()


def _changed_generation_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give TRL's RLOOTrainer a `_generate_single_turn` with one more parameter, as a later release might."""
    from trl import RLOOTrainer

    original = RLOOTrainer._generate_single_turn

    def changed(self, prompt_ids, images, multimodal_fields, num_generations=None):
        return original(self, prompt_ids, images, multimodal_fields)

    monkeypatch.setattr(RLOOTrainer, "_generate_single_turn", changed)


def test_changed_trl_generation_hook_stops_our_backend_at_construction(tiny_model_dir, stub_data, spy, tmp_path,
                                                                       monkeypatch):  # fmt: skip
    """With a changed `_generate_single_turn`, --generation_backend graph refuses to build the trainer, in one line
    naming the way out."""
    from trace_recipe.errors import RecipeError

    _changed_generation_hook(monkeypatch)
    with pytest.raises(RecipeError, match=r"num_generations.*pass --generation_backend trl") as info:
        run_rl(tiny_model_dir, tmp_path, "--generation_backend", "graph", "--max_steps", "1")
    assert "\n" not in str(info.value) and not spy.calls


def test_trl_backend_passes_a_changed_generation_hook_through(tiny_model_dir, stub_data, spy, tmp_path, monkeypatch):
    """--generation_backend trl trains whatever `_generate_single_turn` takes: the override passes its arguments on."""
    _changed_generation_hook(monkeypatch)
    trainer = run_rl(tiny_model_dir, tmp_path, "--generation_backend", "trl", "--max_steps", "1")
    assert trainer._generation_backend == "trl" and trainer.state.global_step == 1 and spy.calls
