"""Named evaluation sets (`trace_recipe.eval_sets`) and `recipes/evaluate.py --eval_sets`: several sets, one table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_script

from trace_recipe.eval_sets import EVAL_SETS, EvalSetError, check_eval_sets, combined_table, load_eval_set
from trace_solver import gsm8k, mawps
from trace_solver.generate import generate_splits, holdout_templates_for

FIXTURES = Path(__file__).parent.parent / "fixtures"
GSM8K = str(FIXTURES / "gsm8k_sample.jsonl")
MAWPS = str(FIXTURES / "mawps_sample.csv")

evaluate = load_script("recipes/evaluate.py")


def _questions(dataset) -> list[str]:
    return [row["prompt"][-1]["content"] for row in dataset]


def test_gsm8k_dev_is_the_last_dev_size_problems_answers_only(monkeypatch):
    """gsm8k_dev holds the last DEV_SIZE problems of the train file, with gold answers and no gold expert."""
    monkeypatch.setattr(gsm8k, "DEV_SIZE", 4)
    dev = load_eval_set("gsm8k_dev", gsm8k_path=GSM8K)
    lines = [json.loads(line) for line in Path(GSM8K).read_text().splitlines()[-4:]]
    assert [row["answer"] for row in dev] == [gsm8k.gold_answer(line["answer"]) for line in lines]
    assert set(dev["expert"]) == {None}


def test_mawps_dev_is_the_last_dev_size_rows(monkeypatch):
    """mawps_dev holds the last DEV_SIZE rows of the CSV as natural questions (masks restored)."""
    monkeypatch.setattr(mawps, "DEV_SIZE", 3)
    dev = load_eval_set("mawps_dev", mawps_path=MAWPS)
    assert len(dev) == 3 and not any("number0" in question for question in _questions(dev))


def test_synthetic_is_the_recipes_held_out_set():
    """The synthetic set is the evaluation half of the recipes' `generate_splits` call (any training size)."""
    dev = load_eval_set("synthetic", num_examples=6, seed=3)
    assert _questions(dev) == [row["question"] for row in generate_splits(40, 6, 3)[1]]


def test_held_out_template_set_uses_only_held_out_templates():
    """synthetic_templates draws every question from templates training never sees."""
    dev = load_eval_set("synthetic_templates", num_examples=6, seed=2)
    rows = generate_splits(0, 6, 2, holdout_templates=1)[1]
    assert _questions(dev) == [row["question"] for row in rows]
    assert {row["template"] for row in rows} <= set(holdout_templates_for(1, 2))


def test_long_chains_have_five_to_eight_operations():
    """long_chains rows are 5-8 operation traces."""
    rows = generate_splits(0, 5, 0, eval_steps=(5, 8))[1]
    assert _questions(load_eval_set("long_chains", num_examples=5)) == [row["question"] for row in rows]
    assert all(5 <= row["steps"] <= 8 for row in rows)


@pytest.mark.parametrize(
    ("names", "gsm8k_path", "mawps_path", "match"),
    [
        (["gsm8k_test"], None, None, "unknown eval set 'gsm8k_test'"),
        (["gsm8k_dev"], None, None, "gsm8k_dev needs --gsm8k_path"),
        (["mawps_dev"], None, None, "mawps_dev needs --mawps_path"),
    ],
)
def test_bad_eval_set_requests_are_one_line(names, gsm8k_path, mawps_path, match):
    """An unknown set, or a real-data set without its file, is refused in one line naming the fix."""
    with pytest.raises(EvalSetError, match=match):
        check_eval_sets(names, gsm8k_path, mawps_path)


def test_table_has_one_row_per_set():
    """The combined table lists each set with its accuracy as correct/n."""
    metrics = {
        "n": 4,
        "correct": 1,
        "accuracy": 0.25,
        "parse_rate": 1.0,
        "valid_rate": 0.5,
        "correct_expert_rate": None,
    }
    table = combined_table({"gsm8k_dev": metrics, "synthetic": {**metrics, "correct": 2, "accuracy": 0.5}})
    rows = [line for line in table.splitlines() if line.startswith("| gsm8k_dev") or line.startswith("| synthetic")]
    assert len(rows) == 2 and "25.0% (1/4)" in rows[0] and "50.0% (2/4)" in rows[1]


def test_evaluate_script_runs_two_sets_in_one_call(tiny_model_dir, tmp_path, monkeypatch):
    """`evaluate.py --eval_sets synthetic gsm8k_dev` evaluates both and writes one table plus each set's reports."""
    from trl import TrlParser

    monkeypatch.setattr(gsm8k, "DEV_SIZE", 3)
    flags = ["--model_name_or_path", str(tiny_model_dir), "--eval_sets", "synthetic", "gsm8k_dev",
             "--gsm8k_path", GSM8K, "--num_eval_examples", "3", "--output_dir", str(tmp_path),
             "--max_new_tokens", "4", "--batch_size", "4"]  # fmt: skip
    (args,) = TrlParser((evaluate.EvalScriptArguments,)).parse_args_and_config(args=flags)
    evaluate.check_eval_inputs(args)
    results = evaluate.main(args)
    assert list(results) == ["synthetic", "gsm8k_dev"] and [m["n"] for m in results.values()] == [3, 3]
    table = (tmp_path / "eval_sets.md").read_text()
    assert "| synthetic | 3 |" in table and "| gsm8k_dev | 3 |" in table
    assert set(json.loads((tmp_path / "eval_sets.json").read_text())["sets"]) == {"synthetic", "gsm8k_dev"}
    assert (tmp_path / "synthetic_records.jsonl").exists() and (tmp_path / "gsm8k_dev.md").exists()


def test_every_named_set_is_documented_in_the_help():
    """--eval_sets' help names every set evaluate.py accepts."""
    help_text = evaluate.EvalScriptArguments.__dataclass_fields__["eval_sets"].metadata["help"]
    assert all(name in help_text for name in EVAL_SETS)


@pytest.mark.slow
def test_recipe_ends_with_the_eval_sets_table(tiny_model_dir, dataset_jsonl, tmp_path):
    """A training run with `--eval_sets synthetic long_chains` evaluates both after training and writes the table."""
    sft = load_script("recipes/sft.py")
    flags = ["--model_name_or_path", str(tiny_model_dir), "--output_dir", str(tmp_path / "run"),
             "--dataset_path", str(dataset_jsonl), "--max_steps", "1", "--per_device_train_batch_size", "4",
             "--save_strategy", "no", "--report_to", "none", "--num_unfrozen_layers", "1", "--disable_tqdm", "true",
             "--eval_sets", "synthetic", "long_chains", "--num_eval_examples", "2", "--eval_max_new_tokens", "4",
             "--per_device_eval_batch_size", "2"]  # fmt: skip
    sft.main(*sft.make_parser().parse_args_and_config(args=flags))
    table = (tmp_path / "run" / "eval_sets.md").read_text()
    assert "| synthetic | 2 |" in table and "| long_chains | 2 |" in table
    assert not (tmp_path / "run" / "eval.json").exists()  # the named sets replace the generated held-out set


def test_unknown_eval_set_in_a_recipe_is_refused_when_parsed():
    """A misspelt name in `eval_sets:` stops the recipe while its flags are parsed."""
    sft = load_script("recipes/sft.py")
    with pytest.raises(ValueError, match="gsm8k_test"):
        sft.make_parser().parse_args_and_config(args=["--output_dir", "out", "--eval_sets", "gsm8k_test"])


def test_evaluate_builds_a_generated_set_as_the_recipes_do():
    """`recipes/evaluate.py --eval_sets synthetic` with a recipe's generator options (experts, steps, size, seed) gets
    exactly the set that recipe evaluates on, and the options change it."""
    sft = load_script("recipes/sft.py")
    options = ["--eval_sets", "synthetic", "--num_eval_examples", "6", "--generator_seed", "4"]
    options += ["--experts", "arithmetic", "comparison", "--min_trace_steps", "2", "--max_trace_steps", "4"]
    script_args = sft.make_parser().parse_args_and_config(args=["--output_dir", "out", *options])[0]
    recipe_set = script_args.load_eval_sets()["synthetic"]
    from trl import TrlParser

    parser = TrlParser((evaluate.EvalScriptArguments,))
    (eval_args,) = parser.parse_args_and_config(args=["--model_name_or_path", "m", *options])
    ((name, evaluate_set, _),) = evaluate.eval_jobs(eval_args)
    assert name == "synthetic" and _questions(evaluate_set) == _questions(recipe_set)
    assert {row["expert"] for row in evaluate_set} <= {"arithmetic", "comparison"}
    default_args = parser.parse_args_and_config(args=["--model_name_or_path", "m", *options[:6]])[0]
    assert _questions(evaluate.eval_jobs(default_args)[0][1]) != _questions(recipe_set)
