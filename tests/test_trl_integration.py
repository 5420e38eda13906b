"""rewards.trace_reward, unmodified, inside TRL 1.16: RLOOTrainer, GRPOTrainer, and the `trl rloo` script's dotted path.

Offline and on CPU: a 2-layer random LlamaForCausalLM and a WordLevel tokenizer trained here, both saved to a
temporary folder. A spy wraps `rewards.trace.score_completion` (which trace_reward calls per completion), so the
function TRL receives is the real `rewards.trace_reward` while the test sees which completions, gold answers and gold
experts reached it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("trl")
# transformers 5.24 renames gradient_checkpointing (deprecated, still read); the recipe must also run on 5.17.
pytestmark = pytest.mark.filterwarnings("ignore:.*gradient_checkpointing.*:FutureWarning")

import rewards  # noqa: E402
import rewards.trace  # noqa: E402

QUESTIONS = {  # question -> (answer, expert); the answer and expert differ per row so a mix-up would show
    "Tom has 3 apples and buys 5 more. How many apples?": ("8", "arithmetic"),
    "Ann has 10 stickers and gives 4 to Ben. How many are left?": ("6", "entity_track"),
    "A car drives 60 km per hour for 2 hours. How far?": ("120", "rate_equation"),
    "A shirt costs 20 dollars with 10 percent off. What is the price?": ("18", "percentage"),
}
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TIERS = {0.0, 0.3, 0.5, 0.7, 1.0}


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a random 2-layer Llama (hidden 32) and a WordLevel tokenizer with a chat template."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-llama")
    backend = Tokenizer(models.WordLevel(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    corpus = [*QUESTIONS, "expert: arithmetic trace: - {init: a, value: 3} - {query: a} user assistant system"]
    special = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>"]
    backend.train_from_iterator(corpus, trainer=trainers.WordLevelTrainer(special_tokens=special))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>", bos_token="<|im_start|>", eos_token="<|im_end|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def _rows() -> list[dict]:
    return [
        {"prompt": [{"role": "user", "content": question}], "answer": answer, "expert": expert}
        for question, (answer, expert) in QUESTIONS.items()
    ]


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, object, object, float]]:
    """Records (completion, answer, expert, reward) for every completion the real trace_reward scores."""
    calls: list[tuple[object, object, object, float]] = []
    real = rewards.trace.score_completion

    def recording(completion, answer, expert=None):
        score = real(completion, answer, expert)
        calls.append((completion, answer, expert, score.reward()))
        return score

    monkeypatch.setattr(rewards.trace, "score_completion", recording)
    return calls


def _common_args(tmp_path: Path) -> dict:
    return dict(
        output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=4, num_generations=2,
        max_completion_length=6, learning_rate=1e-4, logging_steps=1, save_strategy="no", report_to="none",
        bf16=False, gradient_checkpointing=False, use_cpu=True, seed=0, temperature=1.0,
    )  # fmt: skip


def _assert_columns_reached_reward(calls: list) -> None:
    """Each completion trace_reward scored came with the answer and expert of one dataset row (never mixed up).

    The component rewards also go through score_completion, with no answer (expert_reward) or no expert
    (correctness_reward); those calls are left out here.
    """
    scored = [call for call in calls if call[1] is not None and call[2] is not None]
    assert scored, "trace_reward was never called"
    rows = {(answer, expert) for answer, expert in QUESTIONS.values()}
    assert {(answer, expert) for _, answer, expert, _ in scored} <= rows
    assert all(isinstance(completion, list) and completion[0]["role"] == "assistant" for completion, *_ in calls)
    assert {reward for *_, reward in calls} <= TIERS


def test_rloo_trainer_calls_trace_reward_with_dataset_columns(tiny_model_dir, tmp_path, spy):
    """RLOOTrainer trains 2 steps with rewards.trace_reward; answer and expert columns reach it."""
    from datasets import Dataset
    from trl import RLOOConfig, RLOOTrainer

    trainer = RLOOTrainer(
        model=str(tiny_model_dir),
        reward_funcs=rewards.trace_reward,
        args=RLOOConfig(**_common_args(tmp_path)),
        train_dataset=Dataset.from_list(_rows()),
    )
    trainer.train()
    _assert_columns_reached_reward(spy)
    assert any("rewards/trace_reward/mean" in entry for entry in trainer.state.log_history)


def test_grpo_trainer_calls_trace_reward_and_components(tiny_model_dir, tmp_path, spy):
    """GRPOTrainer trains 2 steps with trace_reward and the component rewards, each logged under its own name."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    funcs = [rewards.trace_reward, rewards.parse_reward, rewards.expert_reward, rewards.correctness_reward]
    trainer = GRPOTrainer(
        model=str(tiny_model_dir),
        reward_funcs=funcs,
        args=GRPOConfig(**_common_args(tmp_path), reward_weights=[1.0, 0.0, 0.0, 0.0]),
        train_dataset=Dataset.from_list(_rows()),
    )
    trainer.train()
    _assert_columns_reached_reward(spy)
    logged = set().union(*trainer.state.log_history)
    assert {f"rewards/{func.__name__}/mean" for func in funcs} <= logged


def test_trl_rloo_script_resolves_dotted_reward_path(tiny_model_dir, tmp_path, spy, monkeypatch):
    """TRL's own scripts/rloo.py main, given `--reward_funcs rewards.trace_reward` and a local JSON dataset, trains."""
    from trl.scripts.rloo import main, make_parser

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in _rows()))
    argv = ["--model_name_or_path", str(tiny_model_dir), "--dataset_name", str(data_dir),
            "--reward_funcs", "rewards.trace_reward"]  # fmt: skip
    for key, value in _common_args(tmp_path).items():
        argv += [f"--{key}", str(value)]
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(Path(rewards.__file__).resolve().parent.parent)  # the script imports dotted paths from the cwd
    main(*make_parser().parse_args_and_config(args=argv))
    _assert_columns_reached_reward(spy)
    assert (tmp_path / "out" / "config.json").exists()
