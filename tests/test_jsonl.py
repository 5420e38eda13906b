"""trace_solver.jsonl: the one JSONL reader and writer, and its one-line errors."""

from __future__ import annotations

import re

import pytest

from trace_solver.jsonl import JSONLError, parse_line, read_jsonl, write_jsonl


def test_written_rows_read_back_with_their_line_numbers(tmp_path):
    """write_jsonl then read_jsonl round-trips rows; `where` names file and line."""
    path = tmp_path / "sub" / "rows.jsonl"
    assert write_jsonl([{"question": "a\u2028b"}, {"question": "c"}], path) == 2
    assert read_jsonl(path, required=("question",)) == [(f"{path}:1", {"question": "a\u2028b"}),
                                                        (f"{path}:2", {"question": "c"})]  # fmt: skip


@pytest.mark.parametrize(
    ("line", "message"),
    [("{oops", "x:3: not JSON"), ("[1, 2]", "x:3: expected a JSON object, got list"),
     ('{"question": 1}', "x:3: missing string field(s) question")],
)  # fmt: skip
def test_parse_line_errors_name_where_and_why(line, message):
    """A bad line is a JSONLError whose one-line message starts with where it is."""
    with pytest.raises(JSONLError) as info:
        parse_line(line, "x:3", required=("question",))
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_write_to_a_folder_is_a_one_line_error(tmp_path):
    """Writing to a path that is a folder raises JSONLError naming the path, not OSError."""
    with pytest.raises(JSONLError, match=f"^{re.escape(str(tmp_path))}: cannot write"):
        write_jsonl([{"a": 1}], tmp_path)
