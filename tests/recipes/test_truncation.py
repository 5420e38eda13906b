"""Truncation guard: token counts match SFTTrainer's tokenization, statistics are printed, long data is refused."""

from __future__ import annotations

import pytest
from conftest import trace_rows

from trace_recipe.truncation import TruncationError, check_rl_lengths, check_sft_lengths, describe, token_lengths


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_lengths_match_what_sft_trainer_tokenizes(tokenizer, tiny_model_dir, tmp_path):
    """Prompt and total token counts equal SFTTrainer's prepared input_ids and completion-mask boundary."""
    from datasets import Dataset
    from trl import SFTTrainer

    from trace_recipe.configs import TraceSFTConfig

    rows = trace_rows()[:4]
    args = TraceSFTConfig(output_dir=str(tmp_path), report_to="none", max_length=None)
    trainer = SFTTrainer(model=str(tiny_model_dir), args=args, train_dataset=Dataset.from_list(rows))
    lengths = token_lengths(rows, tokenizer)
    prepared = trainer.train_dataset
    assert lengths.total == [len(ids) for ids in prepared["input_ids"]]
    assert lengths.prompt == [labels.count(-100) for labels in prepared["labels"]]


def test_statistics_are_printed(tokenizer):
    """The guard logs min/median/p95/max for prompt, completion and total lengths."""
    lines: list[str] = []
    check_sft_lengths(trace_rows(), tokenizer, 1024, log=lines.append)
    assert [line.split(" tokens:")[0] for line in lines] == ["prompt", "completion", "total"]
    assert all(all(key in line for key in ("min", "median", "p95", "max")) for line in lines)


def test_examples_longer_than_max_length_are_refused_in_one_line(tokenizer):
    """Examples over max_length raise one line counting them and those that lose their whole completion."""
    longest = max(token_lengths(trace_rows(), tokenizer).total)
    with pytest.raises(TruncationError) as error:
        check_sft_lengths(trace_rows(), tokenizer, 40, log=lambda line: None)
    message = str(error.value)
    assert "\n" not in message
    assert f"16 of 16 examples exceed max_length=40 tokens (longest {longest}; 16 lose their whole" in message
    assert "--allow_truncation" in message


def test_allow_truncation_warns_instead(tokenizer):
    """With allow_truncation the guard logs a warning and returns."""
    lines: list[str] = []
    check_sft_lengths(trace_rows(), tokenizer, 100, allow_truncation=True, log=lines.append)
    assert lines[-1].startswith("warning: 16 of 16 examples exceed max_length=100")


def test_rl_refuses_reference_traces_longer_than_max_completion_length(tokenizer):
    """RL: a reference trace longer than max_completion_length is refused."""
    with pytest.raises(TruncationError, match=r"traces exceed max_completion_length=10 tokens.*: raise --max"):
        check_rl_lengths(trace_rows(), tokenizer, 10, log=lambda line: None)


def test_rl_refuses_prompts_that_leave_no_room_in_the_context(tokenizer):
    """RL: prompt plus max_completion_length beyond the model's context is refused, with the fix that applies."""
    with pytest.raises(TruncationError, match=r"16 prompts plus max_completion_length=100 exceed the model's 120.*"
                       r": lower --max_completion_length"):  # fmt: skip
        check_rl_lengths(trace_rows(), tokenizer, 100, context_length=120, log=lambda line: None)


def test_describe_uses_nearest_rank_percentile():
    """describe() reports min, median, nearest-rank p95 and max."""
    assert describe("x", list(range(1, 101))) == "x tokens: min 1, median 50.5, p95 95, max 100 (n=100)"
