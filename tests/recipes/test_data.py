"""`trace_recipe.data`: JSONL and generated rows to TRL prompt/completion datasets, with validated rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import jsonl_lines

from trace_recipe.data import DataError, load_gsm8k_eval, load_trace_dataset, rows_to_dataset
from trace_solver import system_prompt
from trace_solver.gsm8k import DEV_SIZE, convert_lines

FIXTURE = Path(__file__).parent.parent / "fixtures" / "gsm8k_sample.jsonl"
GOOD_TRACE = (
    "expert: arithmetic\ntrace:\n- {init: a, value: 80000}\n- compute: {op: add, args: [a, 5], var: t}\n- {query: t}\n"
)


def _write(tmp_path: Path, rows: list, name: str = "data.jsonl") -> str:
    path = tmp_path / name
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows), "utf-8")
    return str(path)


def _line(**changes) -> dict:
    row = {"question": "Ann has $80,000 and gets 5 more.", "expert": "arithmetic", "trace": GOOD_TRACE,
           "answer": "80005", "steps": 1, "source": "synthetic", "template": None, "id": "x"}  # fmt: skip
    return {**row, **changes}


def _error(tmp_path: Path, rows: list) -> str:
    with pytest.raises(DataError) as info:
        load_trace_dataset(_write(tmp_path, rows))
    return str(info.value)


# --- load_trace_dataset -----------------------------------------------------------------------------------------------


def test_trace_dataset_has_prompt_completion_answer_expert(dataset_jsonl):
    """The columns are TRL's conversational prompt/completion plus answer and expert."""
    dataset = load_trace_dataset(str(dataset_jsonl))
    assert dataset.column_names == ["prompt", "completion", "answer", "expert"]
    assert len(dataset) == len(jsonl_lines())


def test_prompt_is_system_then_user_and_completion_is_assistant(dataset_jsonl):
    """prompt = [system, user], completion = [assistant] holding the trace text."""
    row = load_trace_dataset(str(dataset_jsonl))[0]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert [m["role"] for m in row["completion"]] == ["assistant"]
    assert row["completion"][0]["content"] == jsonl_lines()[0]["trace"]


def test_system_prompt_is_the_registry_one_liner(dataset_jsonl):
    """The system message is trace_solver.system_prompt(), the seed's one line listing the experts."""
    assert load_trace_dataset(str(dataset_jsonl))[0]["prompt"][0]["content"] == system_prompt()


def test_answer_and_expert_columns_come_from_the_rows(dataset_jsonl):
    """answer and expert are the rows' own, for the reward functions."""
    dataset = load_trace_dataset(str(dataset_jsonl))
    assert dataset["answer"] == [line["answer"] for line in jsonl_lines()]
    assert dataset["expert"] == [line["expert"] for line in jsonl_lines()]


def test_question_is_normalised_in_the_prompt(tmp_path):
    """A question's "$80,000" reaches the model as "$80000", as at inference."""
    row = load_trace_dataset(_write(tmp_path, [_line()]))[0]
    assert row["prompt"][1]["content"] == "Ann has $80000 and gets 5 more."


def test_bad_json_line_is_named(tmp_path):
    """A line that is not JSON is reported with file and line number."""
    message = _error(tmp_path, [_line(), "{oops"])
    assert message.startswith(f"{tmp_path / 'data.jsonl'}:2: not JSON (")


def test_trace_that_does_not_execute_is_named(tmp_path):
    """A trace that fails is reported with its line and the solver's code."""
    message = _error(tmp_path, [_line(), _line(trace=GOOD_TRACE.replace("args: [a, 5]", "args: [a, b]"))])
    assert ":2: trace does not execute (undefined_variable" in message


def test_trace_with_the_wrong_answer_is_named(tmp_path):
    """A trace that executes to another value than the answer is an error."""
    assert _error(tmp_path, [_line(answer="7")]).endswith(":1: trace gives 80005, answer is 7")


def test_unparseable_answer_is_named(tmp_path):
    """An answer that parse_number cannot read is an error."""
    assert ":1: answer 'eighty' is not a number" in _error(tmp_path, [_line(answer="eighty")])


def test_expert_column_must_match_the_trace(tmp_path):
    """A row whose expert disagrees with its trace's expert is an error."""
    assert ":1: expert 'comparison' but the trace says 'arithmetic'" in _error(tmp_path, [_line(expert="comparison")])


def test_missing_question_is_named(tmp_path):
    """A row without a question is an error naming the field."""
    message = _error(tmp_path, [_line(question=None)])
    assert ":1: 'question' must be a non-empty string" in message
    assert "a trace dataset has question, trace, answer (and expert) columns" in message


def test_empty_file_is_an_error(tmp_path):
    """A file with no rows would train on nothing; it is refused."""
    assert "empty file" in _error(tmp_path, [""])


# --- rows_to_dataset --------------------------------------------------------------------------------------------------


def test_rows_to_dataset_matches_loading_the_same_rows_from_a_file(dataset_jsonl):
    """Generated rows in memory give the same dataset as the JSONL they would be written to."""
    assert rows_to_dataset(jsonl_lines()).to_list() == load_trace_dataset(str(dataset_jsonl)).to_list()


def test_rows_to_dataset_names_the_bad_row():
    """A bad in-memory row is reported by its index."""
    with pytest.raises(DataError, match=r"^row 1: answer"):
        rows_to_dataset([_line(), _line(answer=None)])


def test_converted_gsm8k_rows_load(tmp_path):
    """convert-gsm8k output is a valid training set."""
    rows, _, _ = convert_lines(FIXTURE.read_text(encoding="utf-8").splitlines(), "train")
    dataset = rows_to_dataset(rows)
    assert len(dataset) == len(rows) and dataset["answer"] == [row["answer"] for row in rows]


# --- load_gsm8k_eval --------------------------------------------------------------------------------------------------


def _gsm8k_line(n: int) -> dict:
    return {"question": f"Ann has {n:,} pens. How many?", "answer": f"She has <<{n}={n}>>{n:,}.\n#### {n:,}"}


def test_gsm8k_eval_has_prompt_answer_and_no_expert(tmp_path):
    """GSM-8K lines become prompt/answer rows with expert None and no completion."""
    dataset = load_gsm8k_eval(_write(tmp_path, [_gsm8k_line(1080)]))
    assert dataset.column_names == ["prompt", "answer", "expert"]
    row = dataset[0]
    assert row["answer"] == "1080" and row["expert"] is None
    assert row["prompt"][1] == {"role": "user", "content": "Ann has 1080 pens. How many?"}


def test_gsm8k_eval_split_dev_keeps_the_last_500_lines(tmp_path):
    """split='dev' is exactly the last DEV_SIZE lines; split='train' the ones before."""
    path = _write(tmp_path, [_gsm8k_line(n) for n in range(1, DEV_SIZE + 4)])
    assert load_gsm8k_eval(path, split="dev")["answer"][0] == "4"
    assert len(load_gsm8k_eval(path, split="dev")) == DEV_SIZE
    assert load_gsm8k_eval(path, split="train")["answer"] == ["1", "2", "3"]


def test_gsm8k_line_without_gold_is_named(tmp_path):
    """A solution without '#### value' is an error naming its line."""
    path = _write(tmp_path, [_gsm8k_line(3), {"question": "Q?", "answer": "no gold here"}])
    with pytest.raises(DataError, match=r":2: no '#### value' line"):
        load_gsm8k_eval(path)
