"""Datasets for training and evaluation, in TRL's conversational prompt/completion form.

    load_trace_dataset("data/train.jsonl")       # generate/convert-gsm8k JSONL -> prompt, completion, answer, expert
    rows_to_dataset(generate_examples(250, 0))   # the same from rows in memory
    load_gsm8k_eval("gsm8k/train.jsonl", split="dev")  # "... #### 18" -> prompt, answer, expert None

`prompt` is ``trace_solver.build_messages(question)`` -- the one-line system prompt listing the experts, then the
question normalised by ``trace_solver.normalize_question`` (the same function inference uses) -- and `completion` is
the trace as the assistant turn. `answer` and `expert` are the columns TRL passes to the reward functions.

Every trace row is checked before training sees it: the answer must be a number and the trace must execute to it
under its expert. A bad row stops loading with one line naming the file and line, because a wrong example teaches
the model a wrong trace silently.

Files are read with ``trace_solver.jsonl.read_jsonl`` rather than ``datasets.load_dataset("json")`` so that every
error can name its line; the files are small (thousands of rows), and the checked rows become a Dataset. Mixtures of
hub ids and files in the GSM-8K, MAWPS or trace format are `trace_recipe.mixture`'s; named dev sets `eval_sets`'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from trace_recipe.errors import RecipeError
from trace_solver import NumberError, answers_match, build_messages, execute, format_number, parse_number
from trace_solver.gsm8k import ConversionSkip, split_bounds
from trace_solver.gsm8k import gold_answer as gsm8k_gold_answer
from trace_solver.jsonl import JSONLError, read_jsonl

if TYPE_CHECKING:
    from datasets import Dataset

COLUMNS = ("prompt", "completion", "answer", "expert")


class DataError(RecipeError, ValueError):
    """A dataset file or row is unusable; the message is one line naming where it is and what is wrong."""


def load_trace_dataset(path: str) -> Dataset:
    """A `generate`/`convert-gsm8k` JSONL as prompt/completion/answer/expert rows (raises DataError on a bad row)."""
    return _to_dataset(trace_example(row, where) for where, row in _read_jsonl(path))


def rows_to_dataset(rows: Iterable[Mapping[str, Any]]) -> Dataset:
    """Rows in the dataset line format (e.g. from `generate_examples`) as the same columns as `load_trace_dataset`."""
    return _to_dataset(trace_example(row, f"row {index}") for index, row in enumerate(rows))


def load_gsm8k_eval(path: str, split: str | None = None) -> Dataset:
    """A GSM-8K-format JSONL ({question, answer: "... #### 18"}) as prompt/answer/expert rows for evaluation.

    `answer` is the gold answer after ``####`` with thousands separators removed; `expert` is None (any expert may
    solve it). `split="dev"` keeps only the last 500 lines (this project's GSM-8K dev split), `"train"` the rest.
    """
    rows = _read_jsonl(path)
    if split is not None:
        rows = rows[split_bounds(len(rows), split)]
    return _to_dataset((gsm8k_example(row, where) for where, row in rows), completion=False)


def trace_example(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One validated training example from a dataset line; raises DataError naming `where`."""
    question, trace = _text_field(row, "question", where), _text_field(row, "trace", where)
    answer = _answer(row.get("answer"), where)
    outcome = execute(trace, extract=False)
    if not outcome.ok:
        raise DataError(f"{where}: trace does not execute ({outcome.code}: {outcome.message})")
    if outcome.value is None or not answers_match(outcome.value, answer):
        shown = "nothing" if outcome.value is None else format_number(outcome.value)
        raise DataError(f"{where}: trace gives {shown}, answer is {answer}")
    expert = row.get("expert")
    if expert is not None and expert != outcome.expert:
        raise DataError(f"{where}: expert {expert!r} but the trace says {outcome.expert!r}")
    return {
        "prompt": build_messages(question),
        "completion": [{"role": "assistant", "content": trace}],
        "answer": answer,
        "expert": outcome.expert,
    }


def gsm8k_example(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """One evaluation example from a GSM-8K line; raises DataError naming `where`."""
    question, solution = _text_field(row, "question", where, "gsm8k"), _text_field(row, "answer", where, "gsm8k")
    try:
        answer = gsm8k_gold_answer(solution)
    except ConversionSkip as err:
        raise DataError(f"{where}: {err}") from None
    return {"prompt": build_messages(question), "answer": answer, "expert": None}


def gold_answer(value: Any, where: str = "gold") -> str:
    """The gold answer of a row as text, as the loaders store it: a GSM-8K solution (``"... #### 1,080"``) gives
    ``"1080"`` (trace_solver.gsm8k.gold_answer); any other value must be a number and is kept as written.

    Raises DataError naming `where` when there is no number to compare with.
    """
    if isinstance(value, str) and "####" in value:
        try:
            return gsm8k_gold_answer(value)
        except ConversionSkip as err:
            raise DataError(f"{where}: {err}") from None
    return _answer(value, where)


def _read_jsonl(path: str) -> list[tuple[str, dict[str, Any]]]:
    """(where, row) for each non-blank line, `where` being "path:line"; a bad file is a DataError."""
    try:
        return read_jsonl(path)
    except JSONLError as err:
        raise DataError(str(err)) from None


# What each kind of row needs, named in the error so that a file of another kind says what was expected
_EXPECTED = {
    "trace": "a trace dataset has question, trace, answer (and expert) columns",
    "gsm8k": "a GSM-8K file has question and answer ('... #### 18') columns",
}


def _text_field(row: Mapping[str, Any], key: str, where: str, kind: str = "trace") -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        columns = ", ".join(sorted(row)) or "none"
        raise DataError(f"{where}: '{key}' must be a non-empty string (columns here: {columns}); {_EXPECTED[kind]}")
    return value


def _answer(value: Any, where: str) -> str:
    """The gold answer as a string; kept as written when it is one, since its decimals set the match tolerance."""
    try:
        number = parse_number(value)
    except NumberError as err:
        raise DataError(f"{where}: answer {str(value)[:40]!r} is not a number ({err})") from None
    return value.strip() if isinstance(value, str) else format_number(number)


def _to_dataset(examples: Iterable[dict[str, Any]], *, completion: bool = True) -> Dataset:
    from datasets import Dataset  # lazy: keeps `import trace_recipe.data` cheap for the CLI and tests

    rows = list(examples)
    if not rows:
        raise DataError("no rows")
    columns = COLUMNS if completion else tuple(column for column in COLUMNS if column != "completion")
    return Dataset.from_dict({column: [row[column] for row in rows] for column in columns})
