"""The GSM-8K converter: real fixture problems, the wiring rules, skip reasons, splits and the CLI."""

from __future__ import annotations

import json
import keyword
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from trace_solver import answers_match, execute
from trace_solver.builder import make_identifier
from trace_solver.cli import main
from trace_solver.gsm8k import (
    DEV_SIZE,
    SKIP_ARITHMETIC,
    SKIP_FINAL_MISMATCH,
    SKIP_NO_ANNOTATIONS,
    SKIP_NO_OPERATION,
    SKIP_UNEXPLAINED,
    SKIP_UNPARSEABLE,
    ConversionSkip,
    assign_expert,
    convert_lines,
    convert_problem,
    question_numbers,
    split_lines,
)

FIXTURE = Path(__file__).parent / "fixtures" / "gsm8k_sample.jsonl"
# Fixture index -> why it cannot become a trace (source lines in fixtures/gsm8k_sample.LICENSE).
EXPECTED_SKIPS = {
    21: SKIP_NO_ANNOTATIONS,  # all arithmetic in prose
    24: SKIP_NO_OPERATION,  # algebra in prose, then <<...=answer>> copies the number
    25: SKIP_UNEXPLAINED,  # uses 0.05 (a nickel in dollars), in neither the question nor a calculation
    26: SKIP_NO_ANNOTATIONS,
    27: SKIP_FINAL_MISMATCH,  # the last annotation gives 0.25, the answer is 25 (percent)
    28: SKIP_UNEXPLAINED,  # <<55=55>>: half of 110 done in the head
    29: SKIP_NO_OPERATION,
}
YAML_SCALARS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none"}


@pytest.fixture(scope="module")
def fixture_result() -> tuple[list[dict[str, Any]], Any, list[tuple[str, str]]]:
    return convert_lines(FIXTURE.read_text(encoding="utf-8").splitlines(), "train")


def _convert(question: str, solution: str) -> dict[str, Any]:
    return convert_problem(question, solution, "gsm8k-train-00000")


def _steps(row: dict[str, Any]) -> list[dict[str, Any]]:
    return yaml.safe_load(row["trace"])["trace"]


def _computes(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [step["compute"] for step in _steps(row) if "compute" in step]


def _skip_code(question: str, solution: str) -> str:
    with pytest.raises(ConversionSkip) as info:
        _convert(question, solution)
    return info.value.code


# --- the real fixture -------------------------------------------------------------------------------------------------


def test_fixture_converts_all_but_the_expected_skips(fixture_result):
    """Every fixture problem not listed in EXPECTED_SKIPS converts."""
    rows, summary, _ = fixture_result
    converted = {int(row["id"].rsplit("-", 1)[1]) for row in rows}
    assert converted == set(range(30)) - set(EXPECTED_SKIPS)
    assert summary.attempted == 30 and summary.converted == 30 - len(EXPECTED_SKIPS)


def test_fixture_skips_carry_their_reasons(fixture_result):
    """Each skipped fixture problem is skipped for the expected reason."""
    _, _, skipped = fixture_result
    reasons = {int(ident.rsplit("-", 1)[1]): reason.split(":")[0] for ident, reason in skipped}
    assert reasons == EXPECTED_SKIPS


def test_every_converted_trace_executes_to_its_gold_answer(fixture_result):
    """The trace text of every converted row executes to the row's answer."""
    rows, _, _ = fixture_result
    for row in rows:
        outcome = execute(row["trace"])
        assert outcome.ok, (row["id"], outcome.message)
        assert answers_match(outcome.value, row["answer"]), row["id"]


def test_variable_names_are_valid_identifiers(fixture_result):
    """Every name is an identifier, not a Python keyword, and YAML reads it back as a string."""
    rows, _, _ = fixture_result
    for row in rows:
        for step in _steps(row):
            name = step.get("init") or step.get("query") or step.get("compute", {}).get("var")
            assert isinstance(name, str) and name.isidentifier(), (row["id"], name)
            assert not keyword.iskeyword(name) and name not in YAML_SCALARS, (row["id"], name)


def test_rows_follow_the_dataset_line_format(fixture_result):
    """Rows carry question, expert, trace, answer, steps, source, template and id as the contract says."""
    rows, _, _ = fixture_result
    for row in rows:
        assert set(row) == {"question", "expert", "trace", "answer", "steps", "source", "template", "id"}
        assert row["source"] == "gsm8k" and row["template"] is None and row["id"].startswith("gsm8k-train-")
        assert isinstance(row["answer"], str) and row["steps"] == len(_computes(row)) >= 1


def test_first_fixture_problem_is_wired_through_names(fixture_result):
    """Natalia's clips: 48 becomes an init, 48/2 a compute, and 48+24 adds that result's variable."""
    rows, _, _ = fixture_result
    steps = _steps(rows[0])
    assert steps[0] == {"init": "friends_april", "value": 48}
    assert steps[1] == {"compute": {"op": "div", "args": ["friends_april", 2], "var": "clips"}}
    assert steps[2]["compute"]["args"] == ["friends_april", "clips"]
    assert steps[-1] == {"query": steps[2]["compute"]["var"]}


def test_unannotated_final_step_becomes_the_query(fixture_result):
    """Ann's tops: the solution ends with the prose "20/4 = $5", which becomes the last compute."""
    rows, _, _ = fixture_result
    row = next(row for row in rows if row["question"].startswith("Ann's favorite store"))
    assert row["answer"] == "5"
    assert _computes(row)[-1]["op"] == "div"


# --- wiring rules -----------------------------------------------------------------------------------------------------


def test_left_fold_of_one_operator_is_one_compute():
    """<<16-3-4=9>> is a single sub step with three args."""
    row = _convert("Janet has 16 eggs. She eats 3 and bakes with 4. How many are left?", "16-3-4=<<16-3-4=9>>9\n#### 9")
    assert _computes(row) == [{"op": "sub", "args": ["eggs", "eats", "bakes"], "var": "difference"}]


def test_mixed_expression_becomes_a_chain_of_computes():
    """<<40*5/100=2>> is a mul step feeding a div step, never a formula."""
    row = _convert("A ticket costs $40 with a 5% fee. What is the fee?", "<<40*5/100=2>>2\n#### 2")
    ops = [compute["op"] for compute in _computes(row)]
    assert ops == ["mul", "div"]
    assert _computes(row)[1]["args"][0] == _computes(row)[0]["var"]
    assert not any("formula" in step for step in _steps(row))


def test_constants_not_in_the_question_stay_literals():
    """The "twice" of a question is the literal 2 in the args, not an init."""
    row = _convert("Tom has 7 cards. Ann has twice as many. How many has Ann?", "7*2=<<7*2=14>>14\n#### 14")
    assert _computes(row)[0]["args"] == ["cards", 2]
    assert [step["init"] for step in _steps(row) if "init" in step] == ["cards"]


def test_question_numbers_are_normalised_before_matching():
    """A question's 80,000 is normalised to 80000, which the annotation's 80000 then refers to."""
    row = _convert("A house costs $80,000 and repairs cost $50,000. What is the total?",
                   "<<80000+50000=130000>>130000\n#### 130,000")  # fmt: skip
    assert "80000" in row["question"] and "80,000" not in row["question"]
    assert row["answer"] == "130000"
    assert {"init": "dollars", "value": 80000} in _steps(row)


def test_number_words_in_the_question_become_inits():
    """A question's "forty-five frogs" is an init of 45 named frogs."""
    row = _convert("A lake has forty-five frogs and 9 toads. How many animals?", "45+9=<<45+9=54>>54\n#### 54")
    assert {"init": "frogs", "value": 45} in _steps(row)


def test_steps_the_answer_does_not_use_are_dropped():
    """A side calculation the query never reads leaves no step behind."""
    solution = "Side: 3*5=<<3*5=15>>15\nTotal: 4+6=<<4+6=10>>10\n#### 10"
    row = _convert("There are 3 boxes of 5 pens, 4 red cups and 6 blue cups. How many cups?", solution)
    assert _computes(row) == [{"op": "add", "args": ["red_cups", "blue_cups"], "var": "total"}]
    assert row["steps"] == 1


def test_rounded_annotation_results_are_accepted():
    """<<10/3=3.33>> is rounding, not wrong arithmetic; the trace stays exact."""
    row = _convert("10 apples are shared by 3 kids. How many does each get?", "<<10/3=3.33>>3.33\n#### 3.33")
    assert execute(row["trace"]).value == Fraction(10, 3)


# --- skip reasons -----------------------------------------------------------------------------------------------------


def test_wrong_annotation_arithmetic_is_skipped():
    """An annotation whose stated result is wrong skips the problem."""
    assert _skip_code("Add 2 and 2.", "<<2+2=5>>5\n#### 5") == SKIP_ARITHMETIC


def test_annotation_with_a_variable_is_unparseable():
    """An annotation that is not arithmetic on numbers skips the problem."""
    assert _skip_code("What is x plus 2?", "<<x+2=5>>5\n#### 5") == SKIP_UNPARSEABLE


def test_last_annotation_not_gold_is_skipped():
    """The last calculation must give the gold answer."""
    assert _skip_code("Add 2 and 3.", "<<2+3=5>>5\n#### 6") == SKIP_FINAL_MISMATCH


def test_solution_without_annotations_is_skipped():
    """Prose-only solutions have nothing to convert."""
    assert _skip_code("Add 2 and 3.", "2 and 3 make five.\n#### 5") == SKIP_NO_ANNOTATIONS


def test_number_from_nowhere_is_skipped():
    """A constant that is neither in the question, computed, nor a known unit is unexplained."""
    assert _skip_code("Ann has 5 pens. How many pens in all?", "<<5+37=42>>42\n#### 42") == SKIP_UNEXPLAINED


# --- names and experts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "hint"),
    [
        ("Natalia sold 48 clips in April.", "clips_april"),
        ("Weng earns $12 an hour.", "dollars_hour"),
        ("25% of the students walk.", "percent_students"),
        ("He ran 10 miles and then walked.", "miles"),
    ],
)
def test_names_come_from_the_words_after_a_number(question, hint):
    """A question number's name hint is the content words after it."""
    assert question_numbers(question)[0].hint == hint


@pytest.mark.parametrize(
    ("hint", "expected"),
    [("class", "class_var"), ("yes", "yes_var"), ("max", "max_var"), ("", "number"), ("3d", "number_3d")],
)
def test_identifiers_avoid_keywords_yaml_words_and_functions(hint, expected):
    """Keywords, YAML booleans, formula functions, empty and leading-digit hints are fixed up."""
    assert make_identifier(hint, set(), "number") == expected


def test_identifiers_are_unique():
    """A taken name gets a numeric suffix."""
    taken: set[str] = set()
    assert [make_identifier("clips", taken, "number") for _ in range(3)] == ["clips", "clips_2", "clips_3"]


@pytest.mark.parametrize(
    ("question", "expert"),
    [
        ("A shirt is 20% off. What is the price?", "percentage"),
        ("Tom has 3 more apples than Ann.", "comparison"),
        ("A car drives 60 miles per hour.", "rate_equation"),
        ("Ann gives Bob 3 pens.", "entity_track"),
        ("What is 3 plus 4?", "arithmetic"),
    ],
)
def test_expert_rules(question, expert):
    """The documented keyword rules pick the expert, first match winning."""
    assert assign_expert(question) == expert


# --- splits and CLI ---------------------------------------------------------------------------------------------------


def _split_file(tmp_path: Path, train: int) -> Path:
    """A GSM-8K-format file of `train` train problems followed by DEV_SIZE dev problems, told apart by their numbers."""
    lines = [{"question": f"Ann has {n} pens and buys 2 more pens. How many pens?", "answer": f"<<{n}+2={n + 2}>>\n"
              f"#### {n + 2}"} for n in range(1000, 1000 + train + DEV_SIZE)]  # fmt: skip
    path = tmp_path / "gsm8k.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_split_lines_keeps_the_last_dev_size_lines_out_of_train():
    """split_lines('train') stops DEV_SIZE lines before the end; 'dev' is exactly those lines."""
    lines = [str(i) for i in range(DEV_SIZE + 3)]
    assert split_lines(lines, "train") == ["0", "1", "2"]
    assert split_lines(lines, "dev") == lines[3:]


def test_train_conversion_never_touches_the_dev_split(tmp_path):
    """convert-gsm8k on a file converts only the lines before its last 500."""
    out = tmp_path / "train_out.jsonl"
    assert main(["convert-gsm8k", str(_split_file(tmp_path, 3)), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["answer"] for row in rows] == ["1002", "1003", "1004"]


def test_dev_split_is_converted_only_on_request(tmp_path):
    """--split dev converts exactly the last 500 lines, with dev ids."""
    out = tmp_path / "dev_out.jsonl"
    assert main(["convert-gsm8k", str(_split_file(tmp_path, 3)), "--out", str(out), "--split", "dev"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == DEV_SIZE and rows[0]["id"] == "gsm8k-dev-00000" and rows[0]["answer"] == "1005"


def test_cli_prints_yield_skip_reasons_and_steps_histogram(tmp_path, capsys):
    """The summary names the yield, each skip reason with its count, and the steps histogram."""
    # The fixture has fewer than DEV_SIZE lines, so its train split would be empty: put DEV_SIZE filler lines behind.
    fixture = tmp_path / "fixture.jsonl"
    fixture.write_text(FIXTURE.read_text(encoding="utf-8") + _split_file(tmp_path, 0).read_text(encoding="utf-8"))
    out, skips = tmp_path / "out.jsonl", tmp_path / "skips.tsv"
    main(["convert-gsm8k", str(fixture), "--out", str(out), "--skips", str(skips)])
    printed = capsys.readouterr().out
    assert "yield: 23/30 (76.7%)" in printed
    assert "no_annotations" in printed and "steps histogram" in printed
    assert len(skips.read_text(encoding="utf-8").splitlines()) == len(EXPECTED_SKIPS)


# --- robustness -------------------------------------------------------------------------------------------------------

_ANNOTATION_TEXT = st.text(alphabet="0123456789+-*/().=<>#$%x, \n", max_size=80)


@settings(max_examples=300, deadline=None)
@given(question=st.text(max_size=60), solution=_ANNOTATION_TEXT)
def test_any_input_converts_or_skips_with_a_reason(question, solution):
    """Whatever the text, the converter returns a verified row or raises ConversionSkip, nothing else."""
    try:
        row = _convert(question, solution)
    except ConversionSkip as skip:
        assert skip.code
    else:
        assert answers_match(execute(row["trace"]).value, row["answer"])


def test_huge_exponent_is_refused_not_computed():
    """<<9**99999999=...>> is an unparseable annotation, not a hang."""
    assert _skip_code("What is 9 to a big power?", "<<9**99999999=1>>1\n#### 1") == SKIP_UNPARSEABLE


# --- binding equal numbers and naming ---------------------------------------------------------------------------------


def _inits(row: dict[str, Any]) -> dict[str, Any]:
    return {step["init"]: step["value"] for step in _steps(row) if "init" in step}


def test_equal_question_numbers_bind_to_the_place_the_solution_line_names():
    """With 2 large and 2 small pizzas, the line about small pizzas reads the small pizzas' 2, not the large."""
    question = "He buys 2 large pizzas and 2 small pizzas. A large pizza has 16 slices and a small pizza has 8 slices."
    solution = ("Large: 2 x 16 = <<2*16=32>>32 slices\nSmall pizzas: 2 x 8 = <<2*8=16>>16 slices\n"
                "Total: 32 + 16 = <<32+16=48>>48\n#### 48")  # fmt: skip
    computes = _computes(_convert(question + " How many slices?", solution))
    assert computes[0]["args"][0] == "large_pizzas"
    assert computes[1]["args"][0] == "small_pizzas"


def test_a_multiplier_word_in_line_and_question_is_a_literal():
    """The word "doubles", in question and line, makes the literal 2 even though the question has a 2."""
    question = "A box weighs 2 pounds. Then 6 pounds are added. Then the weight doubles. What is the weight?"
    solution = "2 + 6 = <<2+6=8>>8 pounds\nThe weight doubles: 8*2=<<8*2=16>>16 pounds\n#### 16"
    computes = _computes(_convert(question, solution))
    assert computes[1]["args"] == [computes[0]["var"], 2]


def test_a_bare_number_is_a_literal_in_later_steps():
    """<<24=24>> (two dozen) gives no init of 24: later steps read the explained literal."""
    question = "Ann buys two dozen eggs and uses 5 eggs. How many eggs are left?"
    row = _convert(question, "Two dozen is <<24=24>>24 eggs\n24-5=<<24-5=19>>19\n#### 19")
    assert 24 not in _inits(row).values()
    assert _computes(row)[0]["args"] == [24, "eggs"]


@pytest.mark.parametrize(
    ("question", "solution", "name", "value"),
    [
        ('Thirteen "TOP" books cost $8 each. What do they cost?', "13*8=<<13*8=104>>104\n#### 104", "top_books", 13),
        ("There are 30 nuts. If 5/6 of the nuts were eaten, how many were eaten?", "30*5/6=<<30*5/6=25>>25\n#### 25",
         "nuts_eaten", 5),
        ("In 3 years, he will be 39. How old is he now?", "39-3=<<39-3=36>>36\n#### 36", "years", 39),
    ],
)  # fmt: skip
def test_init_names_come_from_question_words(question, solution, name, value):
    """Quoted words, a fraction's numerator and a number with nothing after it still get a name from the question."""
    assert _inits(_convert(question, solution))[name] == value


def test_equal_numbers_with_the_same_words_get_a_word_from_before_them():
    """Two "$5 per bag" get the nearest word before each (the snack) so the names tell them apart."""
    question = "They bought 4 bags of Snickers for $5 per bag, and 3 bags of Skittles for $5 per bag. What did it cost?"
    solution = "Snickers: 5 x 4 = <<5*4=20>>20\nSkittles: 5 x 3 = <<5*3=15>>15\n20+15=<<20+15=35>>35\n#### 35"
    assert {"dollars_bag_snickers", "dollars_bag_skittles"} <= set(_inits(_convert(question, solution)))


def test_unreadable_input_file_is_one_line_error(tmp_path, capsys):
    """convert-gsm8k on a missing file exits 1 with one line naming it."""
    missing = tmp_path / "missing.jsonl"
    assert main(["convert-gsm8k", str(missing), "--out", str(tmp_path / "out.jsonl")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(missing) in err


@pytest.mark.parametrize("flag", ["--out", "--skips"])
def test_cli_output_that_cannot_be_written_is_a_one_line_error(tmp_path, capsys, flag):
    """--out or --skips naming a folder exits 1 with one line naming it."""
    args = {"--out": str(tmp_path / "o.jsonl"), "--skips": str(tmp_path / "s.tsv")} | {flag: str(tmp_path)}
    assert main(["convert-gsm8k", str(_split_file(tmp_path, 3)), *[x for item in args.items() for x in item]]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"{tmp_path}: cannot write" in error


def test_input_folder_is_a_one_line_error_from_read_text(tmp_path, capsys):
    """convert-gsm8k on a folder exits 1 with read_text's one line: the folder and what was expected."""
    assert main(["convert-gsm8k", str(tmp_path), "--out", str(tmp_path / "out.jsonl")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"trace-solver convert-gsm8k: {tmp_path}: is a folder; expected GSM-8K JSONL"


def test_question_with_a_very_long_number_converts():
    """A question holding a 5,000-digit number still converts its other numbers instead of raising."""
    line = {"question": f"Tom has {'9' * 5000} stamps and 3 pears. He eats 2 pears. How many pears are left?",
            "answer": "3-2=<<3-2=1>>1\n#### 1"}  # fmt: skip
    rows, _, _ = convert_lines([json.dumps(line)], "train")
    assert [row["answer"] for row in rows] == ["1"]
