"""The MAWPS/ASDiv-A converter: natural text, names from words, experts, splits, dev duplicates, skips and the CLI."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from trace_solver import answers_match, execute
from trace_solver.cli import main
from trace_solver.gsm8k import SKIP_UNEXPLAINED, SKIP_WRONG_VALUE, ConversionSkip
from trace_solver.mawps import (
    COLUMNS,
    SKIP_BAD_EQUATION,
    SKIP_BAD_ROW,
    SKIP_DEV_DUPLICATE,
    convert_row,
    convert_rows,
    detokenize,
    read_rows,
    split_bounds,
)

FIXTURE = Path(__file__).parent / "fixtures" / "mawps_sample.csv"
FIXTURE_DEV_SIZE = 5  # fixture rows 30-34 come from the source's dev rows (see fixtures/mawps_sample.LICENSE)
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mawps-asdiv-a" / "train.csv"
TOKENISATION_ARTEFACTS = re.compile(r" [,.?!;:%)]| '(?=[\s,.?!]|$)|\( |\$ | ’ |``|''| n't\b|\bnumber\d")


@pytest.fixture(scope="module")
def fixture_rows() -> list[dict[str, str]]:
    return read_rows(FIXTURE)


@pytest.fixture(scope="module")
def converted(fixture_rows) -> tuple[list[dict[str, Any]], Any, list[tuple[str, str]]]:
    return convert_rows(fixture_rows, "train", FIXTURE_DEV_SIZE)


def _steps(row: dict[str, Any]) -> list[dict[str, Any]]:
    return yaml.safe_load(row["trace"])["trace"]


def _row(question: str, numbers: str, equation: str, answer: str) -> dict[str, str]:
    return {"Question": question, "Numbers": numbers, "Equation": equation, "Answer": answer}


# --- the real fixture -------------------------------------------------------------------------------------------------


def test_questions_are_natural_text(converted):
    """No masks and no tokenisation artefacts (" ,", " .", " ’ s", "$ 5") are left in any question."""
    rows, _, _ = converted
    for row in rows:
        assert not TOKENISATION_ARTEFACTS.search(row["question"]), row["question"]


def test_masks_are_replaced_by_the_numbers_as_written(fixture_rows, converted):
    """number0/number1 of the first problem become 56 and 9 (not 56.0, 9.0)."""
    rows, _, _ = converted
    assert fixture_rows[0]["Numbers"] == "56.0 9.0"
    assert "has 56 books in each of his 9 bookshelves," in rows[0]["question"]


def test_float_of_a_simple_fraction_is_written_as_the_fraction(fixture_rows, converted):
    """0.16666666666666666 in the Numbers column reads "1/6" in the question and 1/6 in the trace."""
    index = next(i for i, row in enumerate(fixture_rows) if "0.16666666666666666" in row["Numbers"])
    row = next(row for row in converted[0] if row["id"].endswith(f"{index:05d}"))
    assert "1/6" in row["question"]
    assert any(step.get("value") == "1/6" for step in _steps(row))


def test_variable_names_come_from_the_question_words(converted):
    """Bryan's books: the inits are named books and bookshelves; no name anywhere is a mask like n0 or number1."""
    rows, _, _ = converted
    assert [step["init"] for step in _steps(rows[0]) if "init" in step] == ["books", "bookshelves"]
    for row in rows:
        for step in _steps(row):
            name = step.get("init") or step.get("query")
            if name:
                assert name.isidentifier() and not re.fullmatch(r"n\d+|number\d+", name), (row["id"], name)


def test_every_row_executes_to_its_answer(converted):
    """The trace text of every converted row executes to the row's answer."""
    rows, _, _ = converted
    for row in rows:
        outcome = execute(row["trace"])
        assert outcome.ok and answers_match(outcome.value, row["answer"]), (row["id"], outcome.message)


def test_rows_follow_the_dataset_line_format(converted):
    """Rows carry question, expert, trace, answer, steps, source, template and id."""
    rows, _, _ = converted
    for row in rows:
        assert set(row) == {"question", "expert", "trace", "answer", "steps", "source", "template", "id"}
        assert row["source"] == "mawps" and row["id"].startswith("mawps-train-") and row["steps"] >= 1


def test_dev_rows_are_never_in_the_training_output(fixture_rows, converted):
    """No dev question (converted with --split dev) is among the training rows, and no training id is a dev id."""
    train, _, _ = converted
    dev, _, _ = convert_rows(fixture_rows, "dev", FIXTURE_DEV_SIZE)
    assert len(dev) == FIXTURE_DEV_SIZE and all(row["id"].startswith("mawps-dev-") for row in dev)
    dev_words = {" ".join(re.findall(r"\w+", row["question"].lower())) for row in dev}
    assert not dev_words & {" ".join(re.findall(r"\w+", row["question"].lower())) for row in train}


def test_training_copies_of_dev_questions_are_dropped_and_counted(converted):
    """Fixture rows 17 and 23 repeat dev rows 33 and 34 word for word: both are skipped as dev_duplicate."""
    _, summary, skipped = converted
    assert summary.skips[SKIP_DEV_DUPLICATE] == 2
    assert {ident for ident, reason in skipped if reason.startswith(SKIP_DEV_DUPLICATE)} == {
        "mawps-train-00016",
        "mawps-train-00022",
    }


def test_split_bounds_keep_the_last_rows_for_dev():
    """The last DEV_SIZE rows are dev, the rest train; a file shorter than that is all dev."""
    assert split_bounds(3138, "train") == slice(0, 2838) and split_bounds(3138, "dev") == slice(2838, 3138)
    assert split_bounds(10, "train") == slice(0, 0)


# --- experts and skips ------------------------------------------------------------------------------------------------


def test_percent_of_a_number_uses_the_percentage_vocabulary():
    """'20% of 350' with * * number0 number1 0.01 becomes a percent_of step under the percentage expert."""
    row = convert_row(
        _row(
            "A store marks up items number0 % . If it buys a couch for $ number1 , what is the markup ?",
            "20.0 350.0",
            "* * number0 number1 0.01",
            "70.0",
        ),
        "t",
    )
    assert row["expert"] == "percentage" and row["answer"] == "70"
    assert [list(step)[0] for step in _steps(row)] == ["init", "init", "percent_of", "query"]


def test_giving_away_uses_consume_steps():
    """'had 8 ... gave 3' with - number0 number1 is an entity_track trace that consumes from the first quantity."""
    row = convert_row(
        _row("Joan had number0 kittens . She gave number1 to her friends . How many kittens does she have ?",
             "8.0 3.0", "- number0 number1", "5.0"),
        "t",
    )  # fmt: skip
    steps = _steps(row)
    assert row["expert"] == "entity_track" and steps[2] == {"consume": {"from": "kittens", "amount": steps[1]["init"]}}
    assert steps[-1] == {"query": "kittens"}


def test_an_expert_trace_that_fails_falls_back_to_arithmetic():
    """Giving away more than one has would be a negative quantity for consume: the arithmetic trace is kept."""
    row = convert_row(
        _row("Sam had number0 apples . He gave number1 apples to Tom . How many apples does Sam have ?",
             "5.0 8.0", "- number0 number1", "-3.0"),
        "t",
    )  # fmt: skip
    assert row["expert"] == "arithmetic" and answers_match(execute(row["trace"]).value, "-3")


def test_unexplained_constant_is_skipped():
    """A constant that is neither in the question nor a known unit (25) skips the row."""
    with pytest.raises(ConversionSkip) as info:
        convert_row(_row("Tom has number0 quarters . How much money ?", "3.0", "* number0 25.0", "75.0"), "t")
    assert info.value.code == SKIP_UNEXPLAINED


def test_equation_that_does_not_give_the_answer_is_skipped():
    """An equation whose value is not the Answer column skips the row."""
    with pytest.raises(ConversionSkip) as info:
        convert_row(_row("Ann has number0 and number1 pens . How many ?", "2.0 3.0", "+ number0 number1", "6.0"), "t")
    assert info.value.code == SKIP_WRONG_VALUE


def test_float_answer_of_an_exact_fraction_matches_and_is_written_exactly():
    """Answer 0.8333333333333334 is the float of 1/6 + 1/6 + 1/2: the row keeps the exact answer 5/6."""
    row = convert_row(
        _row("She used number0 cup , number1 cup and number2 cup . How much in all ?",
             "0.16666666666666666 0.16666666666666666 0.5", "+ + number0 number1 number2", "0.8333333333333334"),
        "t",
    )  # fmt: skip
    assert row["answer"] == "5/6"


def test_cell_with_a_huge_exponent_is_skipped():
    """A Numbers or Answer cell like 1e99999999 skips the row as bad instead of computing 10**99999999."""
    for numbers, answer in (("1e99999999 3.0", "5.0"), ("2.0 3.0", "1e99999999")):
        row = _row("Ann has number0 and number1 pens . How many ?", numbers, "+ number0 number1", answer)
        with pytest.raises(ConversionSkip) as info:
            convert_row(row, "t")
        assert info.value.code == SKIP_BAD_ROW


def test_equation_of_thousands_of_tokens_is_skipped():
    """A prefix equation of 3,001 tokens skips the row as unparseable instead of recursing past Python's limit."""
    equation = "+ " * 1500 + "number0 " * 1501
    with pytest.raises(ConversionSkip) as info:
        convert_row(_row("Ann has number0 pens . How many ?", "2.0", equation, "3002.0"), "t")
    assert info.value.code == SKIP_BAD_EQUATION


def test_detokenize_reattaches_punctuation_quotes_and_hyphens():
    """Spaces before punctuation, inside possessives, hyphens, '$ 5', '20 %' and quotes are removed."""
    assert detokenize("Jane ’ s multi - national shop , at ' The Spoon ' sold $ 5 ( 20 % ) . Why ?") == (
        "Jane’s multi-national shop, at 'The Spoon' sold $5 (20%). Why?"
    )
    assert detokenize("the Wagners ' bill didn't ( `` big '' ) .") == "the Wagners' bill didn't (\"big\")."


# --- CLI --------------------------------------------------------------------------------------------------------------


def test_cli_prints_yield_skips_experts_and_histogram(tmp_path, capsys):
    """convert-mawps on the fixture (all of it dev: fewer than 300 rows) writes every convertible row, one skips line
    per other row, and prints the summary sections."""
    out, skips = tmp_path / "dev.jsonl", tmp_path / "skips.tsv"
    assert main(["convert-mawps", str(FIXTURE), "--out", str(out), "--split", "dev", "--skips", str(skips)]) == 0
    printed = capsys.readouterr().out
    for heading in ("yield:", "skipped:", "experts:", "steps histogram", "dev duplicates dropped: 0"):
        assert heading in printed
    written = len(out.read_text(encoding="utf-8").splitlines())
    reasons = [line.split("\t")[1].split(":")[0] for line in skips.read_text(encoding="utf-8").splitlines()]
    assert sorted(reasons) == [SKIP_WRONG_VALUE, SKIP_UNEXPLAINED] and written == len(read_rows(FIXTURE)) - 2


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        (b"Question,Numbers\n\xff\xfe,1\n", "not UTF-8"),
        (b"question,answer\nx,1\n", "missing column(s) Question, Numbers, Equation, Answer"),
    ],
)
def test_cli_bad_file_is_a_one_line_error(tmp_path, capsys, content, expected):
    """A missing, non-UTF-8 or wrong-columns file exits 1 with one line naming the problem and the columns."""
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_bytes(content)
    assert main(["convert-mawps", str(path), "--out", str(tmp_path / "o.jsonl")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and expected in error and ", ".join(COLUMNS) in error


@pytest.mark.parametrize("flag", ["--out", "--skips"])
def test_cli_output_that_cannot_be_written_is_a_one_line_error(tmp_path, capsys, flag):
    """--out or --skips naming a folder exits 1 with one line naming it."""
    args = {"--out": str(tmp_path / "o.jsonl"), "--skips": str(tmp_path / "s.tsv")} | {flag: str(tmp_path)}
    assert main(["convert-mawps", str(FIXTURE), "--split", "dev", *[x for item in args.items() for x in item]]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"{tmp_path}: cannot write" in error


# --- the real file (present in CI) ------------------------------------------------------------------------------------


@pytest.mark.skipif(not SHARED.exists(), reason="the MAWPS/ASDiv-A data file is not beside the checkout")
def test_shared_file_meets_the_bars():
    """On the real file: >= 95% yield on train, natural text, no dev question in train, and >= 5 variants per problem
    (augmenting every third training row: the whole file takes about 10 s more)."""
    from trace_solver.augment import augment_rows

    rows = read_rows(SHARED)
    train, summary, _ = convert_rows(rows, "train")
    dev, _, _ = convert_rows(rows, "dev")
    assert summary.attempted == 2838 and summary.yield_percent >= 95.0
    assert not any(TOKENISATION_ARTEFACTS.search(row["question"]) for row in train)
    assert not {row["question"].lower() for row in dev} & {row["question"].lower() for row in train}
    variants, augmented = augment_rows(train[::3], 10, seed=0)
    assert augmented.mean >= 5.0
    assert all(answers_match(execute(row["trace"]).value, row["answer"]) for row in variants[::50])
