"""Evaluation: metrics on canned completions, the reports, the self-consistency vote, one run on the tiny model."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import load_script, trace_rows

from trace_recipe.data import DataError, gold_answer
from trace_recipe.evaluation import (
    compute_metrics,
    majority_vote,
    render_markdown,
    run_evaluation,
    score_records,
    vote_record,
    write_reports,
)
from trace_recipe.plots import curves_from_log_history, plot_per_expert, plot_training_curves
from trace_solver.jsonl import read_jsonl

ADD_2_3 = (
    "expert: {expert}\ntrace:\n- {{init: a, value: 2}}\n- {{init: b, value: 3}}\n"
    "- compute: {{op: add, args: [a, {second}], var: total}}\n- {{query: total}}\n"
)


def add(expert: str = "arithmetic", second: str = "b") -> str:
    return ADD_2_3.format(expert=expert, second=second)


def row(answer: str, expert: str | None, question: str = "What is 2 + 3?") -> dict:
    return {"question": question, "answer": answer, "expert": expert}


# One canned completion per reward tier, plus a GSM-8K row (gold answer after '####', no gold expert).
CANNED = [
    (row("5", "arithmetic"), add(), "correct", 1.0),
    (row("6", "arithmetic"), add(), "wrong_answer", 0.7),
    (row("5", "comparison"), add("comparison", second="c"), "failed_trace", 0.5),
    (row("5", "comparison"), add("arithmetic"), "wrong_expert", 0.3),
    (row("5", "percentage"), "The answer is 5.", "unparsed", 0.0),
    (row("Two plus three.\n#### 5", None), add("entity_track"), "correct", 1.0),
]


@pytest.fixture
def canned_records() -> list[dict]:
    return score_records([r for r, _, _, _ in CANNED], [c for _, c, _, _ in CANNED])


def test_each_canned_completion_gets_its_tier(canned_records: list[dict]) -> None:
    """The five reward tiers and the GSM-8K row come out as the seed's table says."""
    assert [(r["tier_name"], r["tier"]) for r in canned_records] == [(t, v) for _, _, t, v in CANNED]


def test_records_hold_value_status_and_code(canned_records: list[dict]) -> None:
    """Each record keeps what failure analysis needs: value, status, code, predicted expert."""
    first, failed, unparsed = canned_records[0], canned_records[2], canned_records[4]
    assert (first["value"], first["status"], first["code"]) == ("5", "ok", None)
    assert first["predicted_expert"] == "arithmetic"
    assert (failed["status"], failed["code"]) == ("schema_error", "undefined_variable")
    assert unparsed["status"] == "parse_error" and unparsed["value"] is None


def test_metrics_match_the_canned_outcomes(canned_records: list[dict]) -> None:
    """Accuracy counts traces that execute to the gold value; expert rate counts rows with a gold expert only."""
    metrics = compute_metrics(canned_records)
    assert (metrics["n"], metrics["correct"], metrics["parsed"], metrics["valid"]) == (6, 3, 5, 4)
    assert metrics["accuracy"] == pytest.approx(0.5)
    assert (metrics["expert_right"], metrics["expert_count"]) == (3, 5)
    assert metrics["per_expert"]["arithmetic"] == {"correct": 1, "count": 2, "accuracy": 0.5}
    assert metrics["per_expert"]["comparison"] == {"correct": 1, "count": 2, "accuracy": 0.5}
    assert metrics["tiers"] == {"correct": 2, "wrong_answer": 1, "failed_trace": 1, "wrong_expert": 1, "unparsed": 1}
    assert metrics["mean_reward"] == pytest.approx((1.0 + 0.7 + 0.5 + 0.3 + 0.0 + 1.0) / 6)
    assert metrics["error_codes"] == {"undefined_variable": 1, "not_a_mapping": 1}


def test_gsm8k_only_set_reports_no_expert_rate() -> None:
    """GSM-8K rows have no gold expert: accuracy, parse and valid are reported, the expert rate is None."""
    metrics = compute_metrics(score_records([row("Some work.\n#### 1,000", None)], [add()]))
    assert metrics["correct_expert_rate"] is None and metrics["per_expert"] == {}
    assert (metrics["correct"], metrics["parsed"], metrics["valid"]) == (0, 1, 1)
    assert "| Correct expert |" not in render_markdown(metrics, title="gsm8k")


def test_gold_answer_reads_the_gsm8k_marker() -> None:
    """'#### 1,000' gives '1000' (thousands separators removed, as the GSM-8K loader stores it); a plain answer is
    kept."""
    assert gold_answer("Work.\n#### 1,000") == "1000" and gold_answer(" 18 ") == "18"


@pytest.mark.parametrize("answer", ["Work.\n#### lots", "lots", None])
def test_gold_answer_that_is_not_a_number_is_an_error(answer) -> None:
    """A gold answer with no number to compare with is refused, not scored as a wrong answer."""
    with pytest.raises(DataError, match="not a number"):
        gold_answer(answer)


def test_majority_vote_ignores_failures_and_breaks_ties_by_first_seen() -> None:
    """Failed samples (None) never win; a tie goes to the value that appeared first."""
    assert majority_vote([None, Fraction(3), Fraction(5), Fraction(5), None]) == Fraction(5)
    assert majority_vote([Fraction(7), Fraction(2), Fraction(2), Fraction(7)]) == Fraction(7)
    assert majority_vote([None, None]) is None and majority_vote([]) is None


def test_vote_record_scores_the_majority() -> None:
    """Two of three samples execute to 5: the vote is 5 and correct, although one sample was wrong."""
    wrong = add().replace("value: 3", "value: 4")
    record = vote_record([add(), wrong, add(), "no yaml here"], "5")
    assert record["sc_value"] == "5" and record["sc_correct"] and record["sc_any_correct"]
    assert record["sc_values"] == ["5", "6", "5", None]


def test_self_consistency_metrics_sit_beside_greedy() -> None:
    """With samples, the metrics hold a self_consistency block and the Markdown a row for it."""
    rows = [row("5", "arithmetic"), row("6", "arithmetic")]
    records = score_records(rows, [add(), add()], samples=[[add(), add()], [add(), add()]])
    metrics = compute_metrics(records)
    assert metrics["self_consistency"]["k"] == 2 and metrics["self_consistency"]["correct"] == 1
    assert "Self-consistency accuracy (k=2)" in render_markdown(metrics, title="t")


def test_reports_are_written(tmp_path: Path, canned_records: list[dict]) -> None:
    """<name>.json (metrics only), <name>_records.jsonl (one record per example), <name>.md (seed tables) and
    <name>_per_expert.png land in output_dir."""
    paths = write_reports(compute_metrics(canned_records), canned_records, output_dir=str(tmp_path), name="heldout")
    saved = json.loads((tmp_path / "heldout.json").read_text())
    assert saved["metrics"]["correct"] == 3 and set(saved) == {"name", "metrics"}
    records = [row for _, row in read_jsonl(tmp_path / "heldout_records.jsonl")]
    assert len(records) == 6 and records[0]["question"] == canned_records[0]["question"]
    assert {"question", "completion", "value", "status", "code", "tier"} <= set(records[0])
    markdown = (tmp_path / "heldout.md").read_text()
    assert "| Overall accuracy | **50%** (3/6) |" in markdown and "## Results by Expert Type" in markdown
    assert (tmp_path / "heldout_per_expert.png").stat().st_size > 1000
    assert set(paths) == {"json", "records", "md", "png"}


def test_per_expert_plot_labels_the_overall_line(
    tmp_path: Path, canned_records: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashed line of the per-expert plot is the overall accuracy, and the legend says so."""
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "close", lambda fig=None: None)  # keep the figure to read its legend
    plot_per_expert(compute_metrics(canned_records), str(tmp_path / "p.png"))
    labels = [text.get_text() for text in plt.gcf().axes[0].get_legend().get_texts()]
    plt.close("all")
    assert "overall 50.0%" in labels and "greedy" in labels


def test_training_curves_from_trainer_state(tmp_path: Path) -> None:
    """loss, reward and frac_reward_zero_std logged by a trainer become panels of one PNG."""
    log = [
        {"step": 1, "loss": 2.0, "reward": 0.5, "frac_reward_zero_std": 0.8, "rewards/trace_reward/mean": 0.5},
        {"step": 2, "loss": 1.0, "reward": 0.7, "frac_reward_zero_std": 0.6, "rewards/trace_reward/mean": 0.7},
        {"step": 2, "train_runtime": 3.0, "total_flos": 1.0},
    ]
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": log}))
    assert list(curves_from_log_history(log)) == ["loss", "reward", "frac_reward_zero_std", "rewards/trace_reward/mean"]
    out = plot_training_curves(str(tmp_path), str(tmp_path / "curves.png"))
    assert out and Path(out).stat().st_size > 1000
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": []}))
    assert plot_training_curves(str(tmp_path), str(tmp_path / "none.png")) is None


def test_run_evaluation_on_the_tiny_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    """End to end on a random model: every row is generated, scored and reported (its traces are garbage)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = trace_rows()[:6]
    metrics = run_evaluation(
        model, tokenizer, rows, output_dir=str(tmp_path), batch_size=4, max_new_tokens=8, self_consistency=2
    )
    assert metrics["n"] == 6 and metrics["self_consistency"]["k"] == 2
    assert sum(metrics["tiers"].values()) == 6 and metrics["generation"]["backend"] == "prune"  # auto on CPU
    records = [row for _, row in read_jsonl(tmp_path / "eval_records.jsonl")]
    assert len(records) == 6 and all(len(r["sc_values"]) == 2 for r in records)
    assert "records" not in json.loads((tmp_path / "eval.json").read_text())
    assert (tmp_path / "eval.md").exists() and (tmp_path / "eval_per_expert.png").exists()


def test_evaluate_script_detects_gsm8k_and_writes_reports(tiny_model_dir: Path, tmp_path: Path) -> None:
    """`recipes/evaluate.py` flags: a GSM-8K-format file is detected, evaluated without expert metrics, reported."""
    from trl import TrlParser

    evaluate = load_script("recipes/evaluate.py")
    data = tmp_path / "gsm.jsonl"
    lines = [
        {"question": f"Tom has {have} apples and eats 1. How many are left?", "answer": f"Work.\n#### {left}"}
        for have, left in (("5", "4"), ("9", "8"), ("1,200", "1,199"))
    ]
    data.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert evaluate.detect_format(str(data)) == "gsm8k"
    flags = ["--model_name_or_path", str(tiny_model_dir), "--dataset_path", str(data), "--output_dir", str(tmp_path),
             "--max_new_tokens", "4", "--batch_size", "2"]  # fmt: skip
    (args,) = TrlParser((evaluate.EvalScriptArguments,)).parse_args_and_config(args=flags)
    metrics = evaluate.main(args)
    assert metrics["n"] == 3 and metrics["correct_expert_rate"] is None
    assert (tmp_path / "gsm.json").exists() and (tmp_path / "gsm.md").exists()
    assert [row["answer"] for _, row in read_jsonl(tmp_path / "gsm_records.jsonl")] == ["4", "8", "1199"]
