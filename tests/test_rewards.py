"""The graduated reward and its components, as TRL reward functions."""

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

import rewards
from rewards import (
    REWARD_FUNCS,
    RewardTiers,
    Score,
    completion_text,
    correctness_reward,
    expert_reward,
    get_reward_funcs,
    make_trace_reward,
    parse_reward,
    score_completion,
    trace_reward,
)
from rewards.trace import _execute_cached
from trace_solver import Outcome, Status

GOOD = "expert: arithmetic\ntrace:\n- {init: a, value: 18}\n- {query: a}\n"  # executes to 18
FAILS = "expert: arithmetic\ntrace:\n- {init: a, value: 18}\n- {query: b}\n"  # right expert, undefined variable
OTHER = GOOD.replace("arithmetic", "comparison")  # a registered expert, but not the gold one
UNKNOWN = GOOD.replace("arithmetic", "astrology")
CHATTER = "I think the answer is 18."
ROOT = Path(__file__).resolve().parent.parent


def _reward(completion, answer="18", expert="arithmetic") -> float:
    return trace_reward([completion], answer=[answer], expert=[expert])[0]


def _expected_tier(parsed: bool, expert_right: bool, executes: bool, answer_right: bool) -> str:
    if not parsed:
        return "unparsed"
    if not expert_right:
        return "wrong_expert"
    if not executes:
        return "failed_trace"
    return "correct" if answer_right else "wrong_answer"


@pytest.mark.parametrize("facts", list(itertools.product([False, True], repeat=4)))
def test_every_combination_maps_to_one_tier(facts):
    """Each of the 16 (parsed, expert right, executes, answer right) combinations maps to its one tier."""
    score = Score(Outcome(Status.OK), *facts)
    assert score.tier_name == _expected_tier(*facts)


def test_tier_values_are_the_issue_defaults():
    """Default tiers are 1.0 / 0.7 / 0.5 / 0.3 / 0.0."""
    tiers = RewardTiers()
    assert (tiers.correct, tiers.wrong_answer, tiers.failed_trace, tiers.wrong_expert, tiers.unparsed) == (
        1.0, 0.7, 0.5, 0.3, 0.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("completion", "answer", "reward"),
    [(GOOD, "18", 1.0), (GOOD, "19", 0.7), (FAILS, "18", 0.5), (OTHER, "18", 0.3), (UNKNOWN, "18", 0.3),
     (CHATTER, "18", 0.0), ("", "18", 0.0), ("expert: [unclosed", "18", 0.0)],
)  # fmt: skip
def test_trace_reward_tiers_end_to_end(completion, answer, reward):
    """Real completions land on each tier."""
    assert _reward(completion, answer) == reward


def test_yaml_mapping_without_expert_is_wrong_expert_tier():
    """A parsed mapping that is not a trace scores the wrong-expert tier (0.3), above unparsed."""
    assert _reward("answer: 18") == 0.3


def test_division_by_zero_is_failed_trace_tier():
    """A well-formed trace that fails at execution scores 0.5."""
    text = "expert: arithmetic\ntrace:\n- {init: a, value: 0}\n- compute: {op: div, args: [1, a], var: b}\n- {query: b}"
    assert _reward(text) == 0.5


@pytest.mark.parametrize("answer", ["18", "18.0", "$18", "18.00", 18, "36/2"])
def test_gold_answer_formats_are_accepted(answer):
    """Gold answers in any supported format compare equal to the executed value."""
    assert _reward(GOOD, answer) == 1.0


def test_conversational_completion_is_scored():
    """[{"role": "assistant", "content": ...}] completions are scored by their content."""
    assert _reward([{"role": "assistant", "content": GOOD}]) == 1.0


def test_conversational_completion_uses_last_message():
    """With several messages, the last message's content is the completion."""
    assert completion_text([{"role": "assistant", "content": "x"}, {"role": "assistant", "content": GOOD}]) == GOOD


@pytest.mark.parametrize(
    "completion",
    [f"Sure! Here is the trace:\n```yaml\n{GOOD}```\nThe solver computes 18.", f"```\n{GOOD}```",
     f"Let me think step by step.\n{GOOD}That gives the answer.", f"```yaml\n{GOOD}"],
)  # fmt: skip
def test_yaml_is_found_in_fences_and_chatter(completion):
    """The trace is found inside code fences (closed or not) or between chatter lines."""
    assert _reward(completion) == 1.0


def test_without_gold_expert_any_registered_expert_counts():
    """With expert=None (e.g. GSM-8K rows) any registered expert is right; an unknown one is not."""
    assert trace_reward([OTHER, UNKNOWN], answer=["18", "18"]) == [1.0, 0.3]


def test_none_entry_in_expert_column_accepts_any_expert():
    """A None entry in the expert column accepts any registered expert for that row only."""
    assert trace_reward([OTHER, OTHER], answer=["18", "18"], expert=[None, "arithmetic"]) == [1.0, 0.3]


def test_document_naming_registered_expert_without_trace_is_failed_trace_either_way():
    """`expert: arithmetic` alone scores 0.5 with or without a gold expert (the two paths agree)."""
    assert trace_reward(["expert: arithmetic"] * 2, answer=["1", "1"], expert=["arithmetic", None]) == [0.5, 0.5]


def test_one_float_per_completion():
    """The reward returns one float per completion, in order."""
    result = trace_reward([GOOD, CHATTER, FAILS], answer=["18"] * 3, expert=["arithmetic"] * 3)
    assert result == [1.0, 0.0, 0.5] and all(type(value) is float for value in result)


def test_extra_dataset_columns_are_ignored():
    """TRL passes every dataset column as a keyword; unknown ones are accepted and ignored."""
    assert trace_reward(completions=[GOOD], answer=["18"], expert=["arithmetic"], prompts=["q"], question=["q"],
                        trainer_state=None, completion_ids=[[1, 2]]) == [1.0]  # fmt: skip


def test_custom_tiers():
    """make_trace_reward uses the given tier values."""
    custom = make_trace_reward(RewardTiers(correct=2.0, wrong_answer=1.0, failed_trace=0.25, wrong_expert=0.1,
                                           unparsed=-1.0))  # fmt: skip
    completions = [GOOD, GOOD, FAILS, OTHER, CHATTER]
    assert custom(completions, answer=["18", "0", "18", "18", "18"], expert=["arithmetic"] * 5) == [
        2.0, 1.0, 0.25, 0.1, -1.0,
    ]  # fmt: skip


def test_custom_tiers_keep_function_name():
    """A custom-tier reward is still named trace_reward, so TRL logs it under the same name."""
    assert make_trace_reward(RewardTiers(correct=5.0)).__name__ == "trace_reward"


def test_get_reward_funcs_applies_tiers():
    """get_reward_funcs(["trace"], tiers) returns the reward with those tiers."""
    (func,) = get_reward_funcs(["trace"], RewardTiers(correct=3.0))
    assert func([GOOD], answer=["18"]) == [3.0]


def test_get_reward_funcs_maps_every_registered_name():
    """Every name in REWARD_FUNCS resolves to its function."""
    assert get_reward_funcs(list(REWARD_FUNCS)) == list(REWARD_FUNCS.values())


def test_get_reward_funcs_rejects_unknown_name():
    """An unknown reward name is a ValueError naming the known ones."""
    with pytest.raises(ValueError, match="known: trace"):
        get_reward_funcs(["accuracy"])


def test_get_reward_funcs_imports_dotted_paths():
    """A dotted path imports the function, as TRL's `trl rloo --reward_funcs` does; registry names still resolve."""
    assert get_reward_funcs(["rewards.trace.parse_reward", "trace"]) == [parse_reward, trace_reward]


@pytest.mark.parametrize(
    ("path", "problem"),
    [("no_such_module.reward", "cannot be imported"), ("rewards.no_such_reward", "cannot be imported"),
     ("rewards.REWARD_FUNCS", "not a function")],
)  # fmt: skip
def test_get_reward_funcs_refuses_bad_dotted_paths(path, problem):
    """A dotted path that does not import, or names something not callable, is a one-line ValueError."""
    with pytest.raises(ValueError, match=problem) as error:
        get_reward_funcs([path])
    assert path in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("completion", "reward"), [(GOOD, 1.0), (OTHER, 1.0), ("answer: 18", 1.0), (CHATTER, 0.0), ("- a\n- b", 0.0)]
)
def test_parse_reward(completion, reward):
    """parse_reward is 1.0 for any YAML mapping, 0.0 otherwise."""
    assert parse_reward([completion]) == [reward]


@pytest.mark.parametrize(
    ("completion", "reward"), [(GOOD, 1.0), (FAILS, 1.0), (OTHER, 0.0), (UNKNOWN, 0.0), (CHATTER, 0.0)]
)
def test_expert_reward(completion, reward):
    """expert_reward is 1.0 when the trace names the gold expert, whether or not it executes."""
    assert expert_reward([completion], expert=["arithmetic"]) == [reward]


@pytest.mark.parametrize(("completion", "reward"), [(GOOD, 1.0), (OTHER, 1.0), (FAILS, 0.0), (CHATTER, 0.0)])
def test_correctness_reward(completion, reward):
    """correctness_reward is 1.0 when the trace executes to the gold answer, whatever its expert."""
    assert correctness_reward([completion], answer=["18"], expert=["arithmetic"]) == [reward]


@pytest.mark.parametrize("name", ["trace_reward", "parse_reward", "expert_reward", "correctness_reward"])
def test_reward_functions_have_distinct_names(name):
    """TRL logs rewards/<__name__>/mean: each function carries its own name."""
    assert getattr(rewards, name).__name__ == name


def test_score_completion_reports_facts():
    """score_completion exposes the four facts and the Outcome."""
    score = score_completion(FAILS, "18", "arithmetic")
    assert (score.parsed, score.expert_right, score.executes, score.answer_right, score.outcome.code) == (
        True, True, False, False, "undefined_variable",
    )  # fmt: skip


def test_large_texts_are_not_cached():
    """Completions longer than the trace limit are scored without entering the outcome cache."""
    _execute_cached.cache_clear()
    trace_reward(["x" * 20_000, GOOD], answer=["1", "18"])
    assert _execute_cached.cache_info().currsize == 1


def test_components_reuse_one_execution():
    """Scoring the same completion with all four functions executes it once (TRL calls each on the batch)."""
    _execute_cached.cache_clear()
    text = GOOD + "# unique\n"
    for func in REWARD_FUNCS.values():
        func([text], answer=["18"], expert=["arithmetic"])
    assert _execute_cached.cache_info().misses == 1


@pytest.mark.parametrize("package", ["trace_solver", "rewards"])
def test_import_loads_no_training_stack(package):
    """Importing trace_solver or rewards imports no torch, transformers, trl or datasets."""
    code = (
        f"import sys, {package}\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'trl', 'datasets', 'accelerate') if m in sys.modules)\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == ""


def test_trace_solver_scores_without_the_rewards_package():
    """`trace-solver score` and trace_solver.score_completion never import rewards or trace_recipe."""
    code = (
        "import sys; from trace_solver.cli import main\n"
        "main(['score', '--answer', '18', '-'])\n"
        "sys.exit(1 if {'rewards', 'trace_recipe'} & set(sys.modules) else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], input=GOOD, capture_output=True, text=True, cwd=ROOT)
    assert (result.returncode, result.stdout.strip()) == (0, "1.0"), result.stderr


@pytest.mark.parametrize("completion", [GOOD, FAILS, OTHER, UNKNOWN, CHATTER])
def test_rewards_layer_scores_as_trace_solver_does(completion):
    """rewards.score_completion on a conversational completion gives trace_solver's Score for its text."""
    import trace_solver

    conversational = [{"role": "assistant", "content": completion}]
    assert score_completion(conversational, "18", "arithmetic") == trace_solver.score_completion(
        completion, "18", "arithmetic"
    )
