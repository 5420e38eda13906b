"""Failure analysis: each evaluation record in one category, found by comparing its trace with the gold trace."""

from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from trace_recipe.eval_sets import load_eval_set
from trace_recipe.evaluation import score_records
from trace_recipe.failures import (
    CATEGORIES,
    classify_records,
    failure_table,
    load_gold,
    main,
    trace_signature,
)
from trace_solver import execute, gsm8k, mawps, normalize_question
from trace_solver.jsonl import read_jsonl, write_jsonl

FIXTURES = Path(__file__).parent.parent / "fixtures"
GSM8K = str(FIXTURES / "gsm8k_sample.jsonl")
MAWPS = str(FIXTURES / "mawps_sample.csv")
MAWPS_FIXTURE_DEV_SIZE = 5  # fixture rows 30-34 come from the source's dev rows (see fixtures/mawps_sample.LICENSE)

# Fixture line 1: 48 clips in April, half as many in May; gold 72 (its gold trace: 48 / 2, then 48 + that).
NATALIA = read_jsonl(GSM8K)[0][1]
RIGHT = (
    "expert: arithmetic\ntrace:\n- {init: april, value: 48}\n"
    "- compute: {op: div, args: [april, 2], var: may}\n"
    "- compute: {op: add, args: [april, may], var: total}\n- {query: total}\n"
)


def records_for(completions: list[str], question: str = NATALIA["question"], solution: str = NATALIA["answer"]):
    """Records as an evaluation writes them (the GSM-8K row's question, normalised as in the prompt)."""
    row = {"question": normalize_question(question), "answer": solution, "expert": None}
    return score_records([row] * len(completions), completions)


@pytest.fixture(scope="module")
def gold() -> dict[str, str]:
    return load_gold(GSM8K, MAWPS, dev_only=False)


def classify(completion: str, gold: dict[str, str]) -> str:
    return classify_records(records_for([completion]), gold)[0]


def test_right_trace_is_correct(gold):
    """A trace that executes to the gold answer is `correct`."""
    assert classify(RIGHT, gold) == "correct"


def test_changed_literal_is_wrong_number(gold):
    """Dividing by 3 instead of 2 (a number the gold trace does not write) is `wrong_number`."""
    assert classify(RIGHT.replace("[april, 2]", "[april, 3]"), gold) == "wrong_number"


def test_add_swapped_for_sub_is_wrong_operation(gold):
    """The same numbers with sub where the gold trace adds is `wrong_operation`."""
    assert classify(RIGHT.replace("op: add", "op: sub"), gold) == "wrong_operation"


def test_swapped_division_arguments_are_wrong_wiring(gold):
    """The same numbers and operations, with div's arguments swapped (2 / 48), is `wrong_wiring`."""
    assert classify(RIGHT.replace("[april, 2]", "[2, april]"), gold) == "wrong_wiring"


def test_broken_yaml_and_non_traces_are_unparsed(gold):
    """YAML that does not parse, plain text, and a mapping without `trace` are all `unparsed`."""
    texts = ["expert: arithmetic\ntrace: [{init: a, value: 2", "The answer is 72.", "expert: arithmetic\n"]
    assert classify_records(records_for(texts), gold) == ["unparsed"] * 3


def test_refused_trace_is_invalid_with_its_code(gold):
    """A trace naming an undefined variable is `invalid:undefined_variable`; one dividing by zero keeps its code."""
    undefined = RIGHT.replace("[april, may]", "[april, june]")
    by_zero = RIGHT.replace("[april, 2]", "[april, 0]")
    assert classify_records(records_for([undefined, by_zero]), gold) == [
        "invalid:undefined_variable",
        "invalid:division_by_zero",
    ]


def test_wrong_answer_without_gold_trace_is_wrong_no_gold(gold):
    """A wrong valid trace for a question the gold traces do not hold is `wrong_no_gold`."""
    records = records_for([RIGHT], question="A question no gold file holds: 48 and 2?", solution="#### 7")
    assert classify_records(records, gold) == ["wrong_no_gold"]


def test_question_matches_gold_after_normalisation():
    """Records meet the gold trace although its question is written with thousands separators and other spacing."""
    question = "Ann  has 1,000 stamps and gives away 200. How many are left?"
    gold = {question: "expert: arithmetic\ntrace:\n- {init: a, value: 1000}\n- {init: b, value: 200}\n"
            "- compute: {op: sub, args: [a, b], var: left}\n- {query: left}\n"}  # fmt: skip
    wrong = "expert: arithmetic\ntrace:\n- {init: a, value: 1000}\n- {init: b, value: 200}\n"
    wrong += "- compute: {op: sub, args: [b, a], var: left}\n- {query: left}\n"
    records = records_for([wrong], question=question.replace("  ", " "), solution="#### 800")
    assert classify_records(records, gold) == ["wrong_wiring"]


def test_literals_compare_as_exact_values():
    """0.5 and 1/2 are one literal, whether an init value or a formula constant; a negated constant is negative."""
    init = trace_signature("expert: comparison\ntrace:\n- {init: a, value: 0.5}\n- {query: a}")
    formula = trace_signature(
        "expert: comparison\ntrace:\n- {init: a, value: 1/2}\n"
        "- formula: {var: b, expression: 'a * 0.5 - -3'}\n- {query: b}"
    )
    assert init.literals == {Fraction(1, 2)}
    assert formula.literals == {Fraction(1, 2), Fraction(-3)}


def test_compute_and_formula_count_the_same_operations():
    """`add [a, b, c]` and the formula `a + b + c` are both two additions."""
    head = "expert: comparison\ntrace:\n- {init: a, value: 1}\n- {init: b, value: 2}\n- {init: c, value: 3}\n"
    compute = trace_signature(head + "- compute: {op: add, args: [a, b, c], var: s}\n- {query: s}")
    formula = trace_signature(head + "- formula: {var: s, expression: 'a + b + c'}\n- {query: s}")
    assert compute.operations == formula.operations == Counter({"add": 2})


def test_consume_counts_as_a_subtraction(gold):
    """MAWPS's entity_track gold trace consumes 27 of 35 watermelons: `sub [27, 35]` is wiring, not operation."""
    row = mawps.read_rows(MAWPS)[20]
    gold_row = mawps.convert_row(row, "mawps-20")
    assert "consume" in gold_row["trace"]
    wrong = "expert: arithmetic\ntrace:\n- {init: a, value: 35}\n- {init: b, value: 27}\n"
    wrong += "- compute: {op: sub, args: [b, a], var: left}\n- {query: left}\n"
    records = records_for([wrong], question=gold_row["question"], solution=f"#### {gold_row['answer']}")
    assert classify_records(records, gold) == ["wrong_wiring"]


def test_load_gold_holds_every_converted_fixture_problem_with_a_trace_reaching_its_answer():
    """Without dev_only, every fixture problem the converter keeps is a gold trace that executes to its answer."""
    gold = load_gold(GSM8K, None, dev_only=False)
    lines = read_jsonl(GSM8K)
    converted = []
    for index, (_, row) in enumerate(lines):
        try:
            converted.append(gsm8k.convert_problem(row["question"], row["answer"], str(index)))
        except gsm8k.ConversionSkip:
            pass
    assert set(gold) == {row["question"] for row in converted} and 0 < len(gold) < len(lines)
    for row in converted:
        assert execute(gold[row["question"]]).value == Fraction(row["answer"])


def test_load_gold_keeps_only_the_dev_split(monkeypatch):
    """dev_only keeps the questions of the last DEV_SIZE rows (the MAWPS fixture's five dev rows)."""
    monkeypatch.setattr(mawps, "DEV_SIZE", MAWPS_FIXTURE_DEV_SIZE)
    rows = mawps.read_rows(MAWPS)
    dev, _, _ = mawps.convert_rows(rows, "dev", MAWPS_FIXTURE_DEV_SIZE)
    assert set(load_gold(None, MAWPS)) == {row["question"] for row in dev}


def test_records_of_the_mawps_dev_set_meet_their_gold_traces(monkeypatch):
    """Every question of the mawps_dev eval set finds its gold trace: a wrong number is found as such."""
    monkeypatch.setattr(mawps, "DEV_SIZE", MAWPS_FIXTURE_DEV_SIZE)
    dataset = load_eval_set("mawps_dev", mawps_path=MAWPS)
    wrong = "expert: arithmetic\ntrace:\n- {init: a, value: 987654}\n- {query: a}\n"
    records = score_records(list(dataset), [wrong] * len(dataset))
    assert classify_records(records, load_gold(None, MAWPS)) == ["wrong_number"] * len(dataset)


def test_failure_table_counts_shares_and_examples(gold):
    """The table has a row per category with count, share and at most N examples naming gold and model values."""
    texts = [RIGHT, RIGHT, RIGHT.replace("op: add", "op: sub"), "The answer is 72."]
    records = records_for(texts)
    table = failure_table(records, classify_records(records, gold), examples_per_category=1)
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:]}
    assert set(CATEGORIES) <= set(rows)
    assert rows["correct"].startswith("| correct | 2 | 50.0% |") and rows["correct"].count("Natalia") == 1
    assert "gold 72, model 24" in rows["wrong_operation"] and "op: sub" in rows["wrong_operation"]
    assert rows["unparsed"].startswith("| unparsed | 1 | 25.0% |")
    assert rows["wrong_number"].startswith("| wrong_number | 0 | 0.0% |")


def test_cli_prints_the_table_and_writes_json_counts(tmp_path, capsys):
    """The command reads records files, prints a table per file and writes the counts per category per file."""
    first, second = tmp_path / "a_records.jsonl", tmp_path / "b_records.jsonl"
    write_jsonl(records_for([RIGHT, RIGHT.replace("[april, 2]", "[2, april]")]), first)
    write_jsonl(records_for(["expert: arithmetic\ntrace: ["]), second)
    out, counts = tmp_path / "failures.md", tmp_path / "failures.json"
    argv = [str(first), str(second), "--gsm8k_path", GSM8K, "--out", str(out), "--json", str(counts)]
    assert main([*argv, "--examples", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"## {first}" in printed and f"## {second}" in printed and out.read_text() == printed
    assert json.loads(counts.read_text()) == {
        str(first): {"correct": 1, "wrong_wiring": 1},
        str(second): {"unparsed": 1},
    }


def test_cli_refuses_a_missing_file_in_one_line(tmp_path, capsys):
    """A missing records file ends in one `error:` line naming it, exit status 2."""
    missing = tmp_path / "nothing_records.jsonl"
    assert main([str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and str(missing) in err and "no such file" in err


def test_cli_refuses_a_bad_records_line_in_one_line(tmp_path, capsys):
    """A records file with a line that is not JSON is refused naming the file and line."""
    path = tmp_path / "bad_records.jsonl"
    path.write_text('{"question": "q", "answer": "1", "completion": "", "status": "ok"}\nnot json\n')
    assert main([str(path), "--gsm8k_path", GSM8K]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}:2" in err
