"""Synthetic data sets: row format, determinism, expert mix, step ranges, train/eval separation, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from trace_solver import execute
from trace_solver.cli import main
from trace_solver.experts import EXPERTS
from trace_solver.generate import generate_examples, generate_splits, holdout_templates_for
from trace_solver.numbers import answers_match

KEYS = {"question", "expert", "trace", "answer", "steps", "source", "template", "id"}


def test_rows_have_the_dataset_line_format():
    """Rows carry exactly the contract's keys with the right types, source synthetic and a template id."""
    for row in generate_examples(25, seed=1):
        assert set(row) == KEYS
        assert isinstance(row["trace"], str) and isinstance(row["answer"], str) and isinstance(row["steps"], int)
        assert row["source"] == "synthetic" and row["template"] in EXPERTS[row["expert"]].templates


def test_row_traces_execute_to_their_answers():
    """Each row's YAML text executes to its answer under its expert."""
    for row in generate_examples(50, seed=2, min_steps=1, max_steps=8):
        outcome = execute(row["trace"])
        assert outcome.ok and outcome.expert == row["expert"]
        assert answers_match(outcome.value, row["answer"])


def test_same_seed_same_rows():
    """Generation is a pure function of its arguments."""
    assert generate_examples(40, seed=3) == generate_examples(40, seed=3)


def test_different_seeds_different_rows():
    """Different seeds give different questions."""
    first = {row["question"] for row in generate_examples(40, seed=3)}
    second = {row["question"] for row in generate_examples(40, seed=4)}
    assert len(first & second) < 5


def test_questions_and_ids_are_unique():
    """No question (and so no id) repeats within a data set."""
    rows = generate_examples(500, seed=5, experts=["arithmetic"], min_steps=1, max_steps=1)
    assert len({row["question"] for row in rows}) == len({row["id"] for row in rows}) == 500


def test_experts_are_mixed_uniformly_by_default():
    """Without weights every chosen expert gets the same number of rows."""
    counts = Counter(row["expert"] for row in generate_examples(100, seed=6))
    assert set(counts.values()) == {20} and set(counts) == set(EXPERTS)


def test_weights_set_the_expert_mix():
    """Weights give each expert its share; experts missing from the weights get none."""
    counts = Counter(row["expert"] for row in generate_examples(90, seed=7, weights={"comparison": 2, "percentage": 1}))
    assert counts == {"comparison": 60, "percentage": 30}


def test_expert_filter_limits_the_rows():
    """Only the named experts are used."""
    rows = generate_examples(30, seed=8, experts=["entity_track", "rate_equation"])
    assert {row["expert"] for row in rows} == {"entity_track", "rate_equation"}


def test_steps_stay_in_the_requested_range():
    """Operation counts are drawn from min_steps..max_steps and all of them occur."""
    rows = generate_examples(200, seed=9, min_steps=5, max_steps=8)
    assert {row["steps"] for row in rows} == {5, 6, 7, 8}


def test_excluded_questions_are_not_generated():
    """exclude_questions keeps given questions out of the result."""
    first = generate_examples(30, seed=10)
    again = generate_examples(30, seed=10, exclude_questions={row["question"] for row in first})
    assert not {row["question"] for row in first} & {row["question"] for row in again}


def test_train_and_eval_never_share_a_question():
    """generate_splits gives disjoint train and eval questions."""
    train, evaluation = generate_splits(300, 100, seed=11)
    assert len(train) == 300 and len(evaluation) == 100
    assert not {row["question"] for row in train} & {row["question"] for row in evaluation}


def test_held_out_templates_appear_only_in_eval():
    """With k held-out templates per expert, eval uses only them and train none of them."""
    held = set(holdout_templates_for(1, seed=12))
    train, evaluation = generate_splits(200, 100, seed=12, holdout_templates=1)
    assert len(held) == len(EXPERTS)
    assert {row["template"] for row in evaluation} <= held
    assert not {row["template"] for row in train} & held


def test_explicit_holdout_list_is_excluded_from_training():
    """A list of template ids keeps exactly those out of generate_examples."""
    rows = generate_examples(100, seed=13, experts=["comparison"], holdout_templates=["comparison/0", "comparison/2"])
    assert {row["template"] for row in rows} == {"comparison/1", "comparison/3", "comparison/4"}


def test_holding_out_every_template_is_refused():
    """An expert must keep at least one template for training."""
    with pytest.raises(ValueError):
        holdout_templates_for(5, seed=0, experts=["comparison"])


def test_unknown_expert_is_refused():
    """Naming an expert that does not exist is an error, not an empty data set."""
    with pytest.raises(ValueError):
        generate_examples(5, seed=0, experts=["astrology"])


def test_generation_is_fast():
    """A thousand verified rows take well under the time of a training step budget (seconds)."""
    start = time.perf_counter()
    generate_examples(1000, seed=14)
    assert time.perf_counter() - start < 15


def test_cli_writes_jsonl_and_a_summary(tmp_path, capsys):
    """`trace-solver generate` writes one JSON row per line for train and eval and prints a summary per file."""
    out, eval_out = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    code = main(
        [
            "generate",
            "--n",
            "30",
            "--seed",
            "1",
            "--experts",
            "comparison,percentage",
            "--max-steps",
            "5",
            "--holdout-templates",
            "1",
            "--out",
            str(out),
            "--eval-n",
            "10",
            "--eval-out",
            str(eval_out),
        ]
    )
    assert code == 0
    train = [json.loads(line) for line in out.read_text().splitlines()]
    evaluation = [json.loads(line) for line in eval_out.read_text().splitlines()]
    assert len(train) == 30 and len(evaluation) == 10 and all(set(row) == KEYS for row in train + evaluation)
    assert not {row["template"] for row in train} & {row["template"] for row in evaluation}
    printed = capsys.readouterr().out
    assert "comparison 15" in printed and "steps" in printed


def test_output_does_not_depend_on_hash_randomisation(tmp_path):
    """Two processes with different PYTHONHASHSEED write byte-identical files for the same seed."""
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"rows{hash_seed}.jsonl"
        command = [
            sys.executable,
            "-m",
            "trace_solver",
            "generate",
            "--n",
            "60",
            "--seed",
            "5",
            "--max-steps",
            "8",
            "--holdout-templates",
            "1",
            "--out",
            str(out),
        ]
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": hash_seed})
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_weights_for_experts_not_generated_are_refused():
    """A weight naming an expert outside the chosen ones is an error, not silently ignored."""
    with pytest.raises(ValueError):
        generate_examples(10, seed=0, experts=["arithmetic"], weights={"comparison": 1})
