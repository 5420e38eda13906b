"""Numerical guards (trace_recipe/nan_guards.py): SDPA masks without empty rows, and skipping non-finite steps.

CPU SDPA returns zeros for a query row with no visible key, so the NaN that CUDA kernels give there is reproduced
with a stand-in for `scaled_dot_product_attention` that computes a plain softmax, as those kernels effectively do.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import load_script, trace_rows
from transformers import TrainerCallback

from trace_recipe.errors import RecipeError
from trace_recipe.nan_guards import SkipNonFiniteGradients, unmask_empty_attention_rows

rl = load_script("recipes/rl.py")
sft = load_script("recipes/sft.py")

LOG_KEY = SkipNonFiniteGradients.LOG_KEY


@pytest.fixture
def plain_sdpa_masks(monkeypatch: pytest.MonkeyPatch):
    """transformers' own `sdpa_mask` for this test, whatever an earlier test registered; put back afterwards."""
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    monkeypatch.setitem(AttentionMaskInterface._global_mapping, "sdpa", sdpa_mask)
    return sdpa_mask


def registered_sdpa_mask():
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    return ALL_MASK_ATTENTION_FUNCTIONS["sdpa"]


def nan_on_empty_rows_sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                           enable_gqa=False):  # fmt: skip
    """SDPA as a plain softmax: a row whose keys are all masked is 0/0 = NaN, as CUDA's kernels can give."""
    if enable_gqa:
        repeats = query.shape[-3] // key.shape[-3]
        key, value = key.repeat_interleave(repeats, -3), value.repeat_interleave(repeats, -3)
    scores = query @ key.transpose(-2, -1) * (scale or query.shape[-1] ** -0.5)
    if is_causal:
        attn_mask = torch.ones(scores.shape[-2:], dtype=torch.bool, device=scores.device).tril()
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    elif attn_mask is not None:
        scores = scores + attn_mask
    return torch.softmax(scores, dim=-1) @ value


def test_registered_mask_has_no_empty_row_and_keeps_the_others(plain_sdpa_masks):
    """On a left-padded batch the registered mask gives every row a key; rows that had one are unchanged, and an
    unpadded batch still gets no mask (SDPA's is_causal path). Registering twice wraps once."""
    sdpa_mask = plain_sdpa_masks
    padding = torch.tensor([[0, 0, 0, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 1, 1]], dtype=torch.bool)
    sizes = {"batch_size": 3, "q_length": 5, "kv_length": 5}
    plain = sdpa_mask(**sizes, attention_mask=padding)
    has_key = plain.any(dim=-1)
    assert has_key.sum() == 11  # the 4 left-pad queries see nothing: the case that needs the fix

    unmask_empty_attention_rows()
    unmask_empty_attention_rows()
    registered = registered_sdpa_mask()
    assert registered is not sdpa_mask and registered.__wrapped__ is sdpa_mask
    fixed = registered(**sizes, attention_mask=padding)
    assert fixed.shape == plain.shape and fixed.dtype == torch.bool
    assert fixed.any(dim=-1).all()
    assert torch.equal(fixed[has_key], plain[has_key])
    assert fixed[~has_key].all()  # an empty row now attends to every key
    assert registered(**sizes, attention_mask=torch.ones(3, 5, dtype=torch.bool)) is None


def left_padded_batch(model_dir: Path) -> dict[str, torch.Tensor]:
    """Chat prompts with and without the system message plus part of a trace, left-padded as RL's prompts are."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    texts = [
        tokenizer.apply_chat_template(row["prompt"][i % 2 :], tokenize=False, add_generation_prompt=True)
        + row["completion"][0]["content"][: 20 * (i + 1)]
        for i, row in enumerate(trace_rows()[::5])
    ]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    assert (batch["attention_mask"][:, 0] == 0).sum() >= 2  # most rows start with padding
    return dict(batch)


def test_tiny_llama_logits_are_unchanged_at_real_positions_and_finite_everywhere(
    tiny_model_dir, plain_sdpa_masks, monkeypatch
):
    """Left-padded batch through the tiny Llama (SDPA): with the registration the logits at real positions are
    those without it and every logit is finite. With an SDPA that gives NaN on empty rows, logits and gradients
    are NaN without the registration and finite, and the same as CPU's, with it."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation="sdpa")
    batch = left_padded_batch(tiny_model_dir)
    real = batch["attention_mask"].bool()

    def logits_and_grads():
        model.zero_grad()
        logits = model(**batch).logits
        logits[real].logsumexp(-1).mean().backward()  # a loss over real positions only, as training's
        return logits.detach(), [p.grad for p in model.parameters()]

    reference, _ = logits_and_grads()
    sdpa = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", nan_on_empty_rows_sdpa)
    broken, broken_grads = logits_and_grads()
    assert broken.isnan().any() and any(g.isnan().any() for g in broken_grads)

    unmask_empty_attention_rows()
    fixed, fixed_grads = logits_and_grads()
    assert fixed.isfinite().all() and all(g.isfinite().all() for g in fixed_grads)
    assert torch.allclose(fixed[real], reference[real], atol=1e-5)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", sdpa)
    registered, _ = logits_and_grads()
    assert registered.isfinite().all()
    assert torch.allclose(registered[real], reference[real], atol=1e-5)


def test_registered_mask_traces_in_one_graph_and_keeps_greedy_decoding(tiny_model_dir, plain_sdpa_masks):
    """torch.compile(fullgraph=True) traces the forward with the registered mask (no graph break) to the same
    logits, and greedy decoding through the static-cache backend gives the tokens it gave without the registration."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trace_recipe.generation import GenerationOptions, generate_completions

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation="sdpa").eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompts = [row["prompt"] for row in trace_rows()[::4]]
    options = GenerationOptions(max_new_tokens=12, backend="graph")
    plain = generate_completions(model, tokenizer, prompts, options)
    batch = left_padded_batch(tiny_model_dir)
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        unregistered = model(**batch).logits

    unmask_empty_attention_rows()
    torch._dynamo.reset()
    with torch.no_grad():
        eager = model(**batch).logits
        compiled = torch.compile(model, backend="eager", fullgraph=True)(**batch).logits
    assert torch.allclose(compiled, eager, atol=1e-5) and compiled.isfinite().all()
    assert torch.allclose(compiled[real], unregistered[real], atol=1e-5)
    assert generate_completions(model, tokenizer, prompts, options) == plain


# ---- SkipNonFiniteGradients inside a real (plain transformers) training run ----


class NaNGradients(TrainerCallback):
    """Makes one weight's gradient NaN (a tensor hook) during the chosen optimizer steps, and snapshots the
    trainable weights before and after every step. Clipping then spreads the NaN to every gradient, as on the GPU."""

    def __init__(self, model: torch.nn.Module, nan_steps: set[int]) -> None:
        self.model, self.nan_steps, self.step = model, nan_steps, 0
        self.before: dict[int, dict[str, torch.Tensor]] = {}
        self.after: dict[int, dict[str, torch.Tensor]] = {}
        weight = model.get_parameter("model.layers.3.mlp.down_proj.weight")
        weight.register_hook(lambda grad: torch.full_like(grad, math.nan) if self.step in self.nan_steps else grad)

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {name: p.detach().clone() for name, p in self.model.named_parameters() if p.requires_grad}

    def on_step_begin(self, args, state, control, **kwargs):
        self.step = state.global_step + 1
        self.before[self.step] = self.snapshot()

    def on_step_end(self, args, state, control, **kwargs):
        self.after[state.global_step] = self.snapshot()


def train_tiny(model_dir: Path, output_dir: Path, nan_steps: set[int], guard: SkipNonFiniteGradients | None,
               max_steps: int = 5):  # fmt: skip
    """A few plain-Trainer steps on the tiny Llama (fp32 on CPU, clipping at 1.0), NaN gradients at `nan_steps`."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    ids = torch.randint(3, model.config.vocab_size, (32, 24)).tolist()
    args = TrainingArguments(
        output_dir=str(output_dir), max_steps=max_steps, per_device_train_batch_size=4, learning_rate=1e-2,
        max_grad_norm=1.0, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True, bf16=False,
        disable_tqdm=True, seed=0,
    )  # fmt: skip
    nan = NaNGradients(model, nan_steps)
    callbacks = [nan] + ([guard] if guard is not None else [])
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"input_ids": ids, "labels": ids}),
                      callbacks=callbacks)  # fmt: skip
    return trainer, nan


def unchanged(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(first[name], second[name]) for name in first)


def test_a_nan_step_is_skipped_and_training_goes_on(tiny_model_dir, tmp_path, capsys):
    """NaN gradients at step 3: that step leaves every trainable weight as it was, the other steps train, all
    weights stay finite, the run reaches its last step, one warning names step 3 and the logs count 1 skip."""
    trainer, nan = train_tiny(tiny_model_dir, tmp_path, {3}, SkipNonFiniteGradients(max_consecutive=3))
    trainer.train()
    assert trainer.state.global_step == 5
    assert unchanged(nan.before[3], nan.after[3])
    assert all(not unchanged(nan.before[step], nan.after[step]) for step in (1, 2, 4, 5))
    assert all(p.isfinite().all() for p in trainer.model.parameters())
    logged = {entry["step"]: entry for entry in trainer.state.log_history if "loss" in entry}
    assert math.isnan(logged[3]["grad_norm"])  # the NaN was there, and was caught
    assert [logged[step][LOG_KEY] for step in range(1, 6)] == [0, 0, 1, 1, 1]
    assert "warning: step 3: non-finite gradients (nan/inf); optimizer step skipped" in capsys.readouterr().err


def test_without_the_callback_one_nan_step_ruins_every_weight(tiny_model_dir, tmp_path):
    """The failure the callback prevents: the same run without it ends with every trainable weight NaN."""
    trainer, _ = train_tiny(tiny_model_dir, tmp_path, {3}, None)
    trainer.train()
    assert all(p.isnan().all() for p in trainer.model.parameters() if p.requires_grad)


def test_the_consecutive_count_restarts_after_a_finite_step(tiny_model_dir, tmp_path):
    """Two NaN steps, a finite one, two more NaN steps: within a limit of 2 in a row, so training ends normally."""
    trainer, nan = train_tiny(tiny_model_dir, tmp_path, {1, 2, 4, 5}, SkipNonFiniteGradients(max_consecutive=2))
    trainer.train()
    assert trainer.state.global_step == 5 and trainer.state.log_history[-1][LOG_KEY] == 4
    assert not unchanged(nan.before[3], nan.after[3])
    assert all(unchanged(nan.before[step], nan.after[step]) for step in (1, 2, 4, 5))


@pytest.mark.parametrize(("limit", "message"), [(2, r"in 3 consecutive optimizer step\(s\) \(steps 1-3,"),
                                                (0, r"in 1 consecutive optimizer step\(s\) \(step 1,")])  # fmt: skip
def test_too_many_nan_steps_in_a_row_stop_training(tiny_model_dir, tmp_path, limit, message):
    """NaN on every step: `limit` steps are skipped, the next one stops training with a one-line error that counts
    the steps and names the fixes; the weights are still the initial ones."""
    guard = SkipNonFiniteGradients(max_consecutive=limit)
    trainer, nan = train_tiny(tiny_model_dir, tmp_path, {1, 2, 3, 4, 5}, guard)
    with pytest.raises(RecipeError, match=message) as error:
        trainer.train()
    assert isinstance(error.value, RuntimeError) and "\n" not in str(error.value)
    assert "--bf16 false" in str(error.value) and "--learning_rate" in str(error.value)
    assert trainer.state.global_step == limit and guard.skipped == limit
    assert unchanged(nan.before[1], nan.snapshot())


def test_a_negative_limit_is_refused():
    with pytest.raises(ValueError, match="max_nonfinite_grad_steps -1"):
        SkipNonFiniteGradients(max_consecutive=-1)


# ---- Configuration and the recipes' wiring ----


def test_a_negative_limit_is_refused_when_the_flags_are_parsed(capsys):
    """--max_nonfinite_grad_steps -1 stops the script before anything loads, with one line naming the fix."""
    from trace_recipe.script import run_script

    ran = []
    flags = ["--output_dir", "out", "--max_nonfinite_grad_steps", "-1"]
    with pytest.raises(SystemExit) as stop:
        run_script(lambda *arguments: ran.append(arguments), sft.make_parser(), args=flags)
    message = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and not ran
    assert message == "error: max_nonfinite_grad_steps -1: use 0 (stop at the first) or more"


def test_max_nonfinite_grad_steps_parses_from_yaml_and_flags(tmp_path):
    """Default 3; a recipe YAML sets it, and a flag wins over the YAML, in both SFT and RL."""
    config = tmp_path / "recipe.yaml"
    config.write_text("max_nonfinite_grad_steps: 0\noutput_dir: out\n")
    assert sft.make_parser().parse_args_and_config(args=["--output_dir", "out"])[0].max_nonfinite_grad_steps == 3
    for parser in (sft.make_parser(), rl.make_parser()):
        assert parser.parse_args_and_config(args=["--config", str(config)])[0].max_nonfinite_grad_steps == 0
        flags = ["--config", str(config), "--max_nonfinite_grad_steps", "5"]
        assert parser.parse_args_and_config(args=flags)[0].max_nonfinite_grad_steps == 5


COMMON_FLAGS = [
    "--dataset_path", "rows.jsonl", "--max_steps", "1", "--per_device_train_batch_size", "4",
    "--logging_steps", "1", "--save_strategy", "no", "--report_to", "none", "--num_unfrozen_layers", "2",
    "--do_final_eval", "false", "--disable_tqdm", "true", "--max_nonfinite_grad_steps", "1",
]  # fmt: skip


def assert_guarded(trainer) -> None:
    (guard,) = [c for c in trainer.callback_handler.callbacks if isinstance(c, SkipNonFiniteGradients)]
    assert guard.max_consecutive == 1
    assert [entry[LOG_KEY] for entry in trainer.state.log_history if "loss" in entry] == [0]
    assert getattr(registered_sdpa_mask(), "__wrapped__", None) is not None  # main() registered the mask fix


@pytest.mark.slow
def test_sft_recipe_registers_the_mask_and_guards_its_steps(tiny_model_dir, stub_data, plain_sdpa_masks, tmp_path):
    """sft.main registers the SDPA mask fix and trains with the callback at --max_nonfinite_grad_steps."""
    flags = ["--model_name_or_path", str(tiny_model_dir), "--output_dir", str(tmp_path), *COMMON_FLAGS]
    assert_guarded(sft.main(*sft.make_parser().parse_args_and_config(args=flags)))


@pytest.mark.slow
def test_rl_recipe_registers_the_mask_and_guards_its_steps(
    tiny_model_dir, stub_data, plain_sdpa_masks, tmp_path, monkeypatch
):
    """rl.main registers the SDPA mask fix and trains with the callback at --max_nonfinite_grad_steps."""
    monkeypatch.setattr(rl, "reward_funcs_by_name", lambda names: [lambda completions, **kw: [0.0] * len(completions)])
    flags = ["--model_name_or_path", str(tiny_model_dir), "--output_dir", str(tmp_path), *COMMON_FLAGS,
             "--num_generations", "4", "--max_completion_length", "64"]  # fmt: skip
    assert_guarded(rl.main(*rl.make_parser().parse_args_and_config(args=flags)))
