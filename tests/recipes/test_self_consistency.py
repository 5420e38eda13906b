"""Self-consistency: the weighted vote over executed values, any-of-k beside it, several k from one set of samples."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

from conftest import load_script, trace_rows

from trace_recipe.evaluation import compute_metrics, majority_vote, render_markdown, score_records, vote_record


def arithmetic(a: int, b: int) -> str:
    """An arithmetic trace that executes to a + b."""
    return (
        f"expert: arithmetic\ntrace:\n- {{init: a, value: {a}}}\n- {{init: b, value: {b}}}\n"
        "- compute: {op: add, args: [a, b], var: total}\n- {query: total}\n"
    )


def entity_track(have: int, give: int) -> str:
    """An entity_track trace that executes to have - give."""
    return (
        f"expert: entity_track\ntrace:\n- {{init: ann, value: {have}}}\n- {{init: ben, value: 0}}\n"
        f"- {{transfer: {{from: ann, to: ben, amount: {give}}}}}\n- {{query: ann}}\n"
    )


# An arithmetic trace that names its expert but fails (undefined variable): no value, so no vote.
FAILED_ARITHMETIC = "expert: arithmetic\ntrace:\n- {init: a, value: 2}\n- {query: zz}\n"


def test_failed_traces_never_vote() -> None:
    """Two failing samples and one that executes to 6: the vote is 6, and failures leave no value behind."""
    record = vote_record([FAILED_ARITHMETIC, arithmetic(2, 4), "not yaml: ["], "6")
    assert record["sc_value"] == "6" and record["sc_correct"]
    assert record["sc_values"] == [None, "6", None] and record["sc_tiers"] == [None, "consensus_expert", None]


def test_samples_under_another_expert_than_the_consensus_weigh_less() -> None:
    """Two entity_track samples agreeing on 6 lose to one arithmetic sample (the expert most samples name): plain
    counting would pick 6."""
    samples = [arithmetic(2, 3), entity_track(10, 4), FAILED_ARITHMETIC, entity_track(8, 2), arithmetic(4, 4)]
    record = vote_record(samples, "5")
    assert record["sc_tiers"] == ["consensus_expert", "other_expert", None, "other_expert", "consensus_expert"]
    assert majority_vote([Fraction(5), Fraction(6), Fraction(6), Fraction(8)]) == Fraction(6)  # unweighted
    assert record["sc_value"] == "5"  # 0.7 each for 5 and 8 beats 0.3 + 0.3 for 6; 5 came first


def test_equal_weights_go_to_the_better_tier_then_the_first_sample() -> None:
    """A tie in total weight is won by the value with the better-ranked voter, and between equal ranks by the first."""
    values, weights = [Fraction(5), Fraction(6)], [Fraction(1), Fraction(1)]
    assert majority_vote(values, weights, ranks=[1, 0]) == Fraction(6)
    assert majority_vote(values, weights, ranks=[0, 0]) == Fraction(5)


def test_any_of_k_counts_a_right_sample_the_vote_missed() -> None:
    """The right value in one sample of three is any-of-k correct although the vote picks the other value."""
    record = vote_record([arithmetic(1, 1), arithmetic(2, 3), arithmetic(1, 1)], "5")
    assert record["sc_value"] == "2" and not record["sc_correct"] and record["sc_any_correct"]


def test_smaller_k_votes_over_the_first_k_samples() -> None:
    """With ks [2, 4], k=2 sees only the first two samples (a tie won by the first, wrong one), k=4 all four."""
    record = vote_record([arithmetic(3, 3), arithmetic(2, 3), arithmetic(1, 4), arithmetic(4, 1)], "5", ks=[2, 4])
    assert record["sc_by_k"]["2"] == {"value": "6", "correct": False, "any_correct": True}
    assert record["sc_by_k"]["4"] == {"value": "5", "correct": True, "any_correct": True}
    assert record["sc_value"] == "5"  # the top-level fields are the largest k's


def test_metrics_report_vote_accuracy_and_any_of_k_for_each_k() -> None:
    """compute_metrics has vote_accuracy and any_of_k per k, and the Markdown a pair of rows for each k."""
    rows = [{"question": "q1", "answer": "5", "expert": None}, {"question": "q2", "answer": "7", "expert": None}]
    # q1: 6, 5, 5 (k=1 wrong, k=3 right); q2: 7, 2, 2 (k=1 right, k=3 wrong although 7 is among the samples)
    samples = [
        [arithmetic(3, 3), arithmetic(2, 3), arithmetic(1, 4)],
        [arithmetic(3, 4), arithmetic(1, 1), arithmetic(1, 1)],
    ]
    records = score_records(rows, [arithmetic(2, 3), arithmetic(1, 1)], samples=samples, ks=[1, 3])
    sc = compute_metrics(records)["self_consistency"]
    assert sc["by_k"]["1"] == {"k": 1, "correct": 1, "vote_accuracy": 0.5, "any_correct": 1, "any_of_k": 0.5}
    assert sc["by_k"]["3"] == {"k": 3, "correct": 1, "vote_accuracy": 0.5, "any_correct": 2, "any_of_k": 1.0}
    assert sc["k"] == 3 and sc["vote_accuracy"] == 0.5
    markdown = render_markdown(compute_metrics(records), title="t")
    assert "| Self-consistency accuracy (k=1) | **50%** (1/2) |" in markdown
    assert "| Any of k samples correct (k=3) | 100% (2/2) |" in markdown


def test_evaluate_script_takes_several_k_in_one_call(tiny_model_dir: Path, tmp_path: Path) -> None:
    """`--self_consistency 1 2` samples twice per question once and reports both k in the JSON."""
    from trl import TrlParser

    evaluate = load_script("recipes/evaluate.py")
    data = tmp_path / "heldout.jsonl"
    lines = [
        {"question": row["prompt"][-1]["content"], "expert": row["expert"], "answer": row["answer"],
         "trace": row["completion"][0]["content"]}
        for row in trace_rows()[:3]
    ]  # fmt: skip
    data.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    flags = ["--model_name_or_path", str(tiny_model_dir), "--dataset_path", str(data), "--output_dir", str(tmp_path),
             "--max_new_tokens", "4", "--batch_size", "4", "--self_consistency", "1", "2"]  # fmt: skip
    (args,) = TrlParser((evaluate.EvalScriptArguments,)).parse_args_and_config(args=flags)
    assert args.self_consistency == [1, 2]
    evaluate.main(args)
    saved = json.loads((tmp_path / "heldout.json").read_text())["metrics"]["self_consistency"]
    assert sorted(saved["by_k"]) == ["1", "2"] and saved["k"] == 2
    assert all(saved["by_k"][k]["any_of_k"] is not None for k in ("1", "2"))
