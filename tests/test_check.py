"""`trace-solver check`: init values and names that do not come from the question, and ambiguous bindings."""

from __future__ import annotations

import json
import re
from pathlib import Path

from trace_solver import dump_trace
from trace_solver.check import FLAG_AMBIGUOUS, FLAG_NAME, FLAG_SHARED, FLAG_UNREADABLE, FLAG_VALUE, check_row
from trace_solver.cli import main


def _row(question: str, inits: list[tuple[str, int]], computes: list[tuple[str, list]] = ()) -> dict:
    steps = [{"init": name, "value": value} for name, value in inits]
    steps += [{"compute": {"op": op, "args": args, "var": f"r{i}"}} for i, (op, args) in enumerate(computes)]
    steps.append({"query": steps[-1].get("compute", {}).get("var") or inits[-1][0]})
    return {"question": question, "trace": dump_trace({"expert": "arithmetic", "trace": steps}), "id": "row-1"}


def _codes(row: dict) -> list[str]:
    return [flag.code for flag in check_row(row)[1]]


def test_values_and_names_from_the_question_raise_no_flag():
    """Inits copied from the question (digits, number words, "$") are clean."""
    row = _row("Tom has 12 apples and forty-five pears worth $3.", [("apples", 12), ("pears", 45), ("dollars", 3)])
    assert _codes(row) == []


def test_value_not_in_the_question_is_flagged():
    """An init of 60 when the question never says 60 is value_not_in_question."""
    assert _codes(_row("Tom walks 2 hours. How many minutes?", [("hours", 2), ("minutes", 60)])) == [FLAG_VALUE]


def test_multiplier_words_count_as_question_numbers():
    """'a dozen' says 12 and 'twice' says 2, so inits of them are not flagged."""
    assert _codes(_row("Ann buys a dozen eggs and twice as many apples.", [("eggs", 12), ("apples", 2)])) == []


def test_name_with_no_question_word_is_flagged():
    """A name made up of words the question does not have is name_not_in_question; numbering suffixes do not help."""
    assert _codes(_row("Tom has 12 apples.", [("number_2", 12)])) == [FLAG_NAME]


def test_plural_and_possessive_forms_match():
    """'apple' matches 'apples', 'box' matches 'boxes', 'natalia' matches "Natalia's"."""
    row = _row("Natalia's 3 boxes hold 12 apples.", [("box", 3), ("apple", 12), ("natalia", 3)])
    assert FLAG_NAME not in _codes(row)


def test_name_that_picks_no_place_of_an_equal_value_is_ambiguous():
    """Two 2s in the question and a name that fits neither is ambiguous_binding."""
    row = _row("He buys 2 large pizzas and 2 small pizzas.", [("large_pizzas", 2), ("he", 2)])
    assert FLAG_AMBIGUOUS in _codes(row) and _codes(row).count(FLAG_AMBIGUOUS) == 1


def test_names_that_pick_their_own_places_are_not_ambiguous():
    """large_pizzas and small_pizzas each pick their own 2."""
    assert _codes(_row("He buys 2 large pizzas and 2 small pizzas.", [("large_pizzas", 2), ("small_pizzas", 2)])) == []


def test_one_init_read_for_two_equal_quantities_is_flagged():
    """One init of 2 read by two steps, when the question has two different 2s, is one_init_for_equal_numbers."""
    question = "He buys 2 large pizzas with 16 slices and 2 small pizzas with 8 slices."
    row = _row(question, [("large_pizzas", 2), ("slices", 16), ("slices_2", 8)],
               [("mul", ["large_pizzas", "slices"]), ("mul", ["large_pizzas", "slices_2"])])  # fmt: skip
    assert FLAG_SHARED in _codes(row)


def test_cli_prints_counts_and_example_ids_and_exits_0(tmp_path: Path, capsys):
    """The report counts rows and init steps per flag and names example ids; the exit status is 0."""
    path = tmp_path / "data.jsonl"
    rows = [_row("Tom has 12 apples.", [("apples", 12)]), {**_row("Tom has 1 dog.", [("cats", 7)]), "id": "bad-1"}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert main(["check", str(path)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"value_not_in_question\s+1 \(\s*50.0%\)\s+1 \(\s*50.0%\)", printed)
    assert "bad-1 (cats:" in printed


def test_cli_unreadable_file_is_one_line_error(tmp_path: Path, capsys):
    """A missing file is a one-line error and exit status 1."""
    assert main(["check", str(tmp_path / "missing.jsonl")]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_trace_without_a_list_of_steps_is_unreadable():
    """A trace whose 'trace' is a string or a number is flagged unreadable, not a crash."""
    for trace in ('{"expert": "arithmetic", "trace": "expert: arithmetic"}', '{"expert": "arithmetic", "trace": 5}'):
        assert _codes({"question": "Tom has 2 apples.", "trace": trace, "id": "row-1"}) == [FLAG_UNREADABLE]


def test_question_with_a_very_long_number_is_checked():
    """A question holding a 5,000-digit number and ratio is checked without an integer-size error."""
    assert _codes(_row(f"Tom has 2 apples and {'9' * 5000}/{'7' * 5000} pears.", [("apples", 2)])) == []
