"""Running the recipe scripts: every bad input ends with one line on stderr before any model loads, CPU runs under
`accelerate launch` use every core, and a run ends by printing its evaluation summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trace_recipe.checkpoints import TimedCheckpoints
from trace_recipe.model import ModelLoadError, check_model_reference, looks_like_hub_id
from trace_recipe.pipeline import final_report
from trace_recipe.script import share_cpu_cores

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *flags: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`python recipes/<script> flags...` with the hub switched off (nothing here may reach it)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, str(ROOT / "recipes" / script), *flags]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def assert_one_line_refusal(result: subprocess.CompletedProcess[str], *words: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert lines and lines[-1].startswith("error: "), result.stderr
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[-1], lines[-1]


def test_missing_config_file(tmp_path) -> None:
    """A --config that does not exist is named, with where the recipes' YAML files are."""
    assert_one_line_refusal(run("sft.py", "--config", str(tmp_path / "nope.yaml")), "file not found", "recipes/")


def test_broken_yaml_config(tmp_path) -> None:
    """A --config that is not valid YAML is refused with the parser's position, in one line."""
    path = tmp_path / "broken.yaml"
    path.write_text("learning_rate: [1\n")
    assert_one_line_refusal(run("sft.py", "--config", str(path)), "not valid YAML", "line 1")


def test_config_that_is_not_a_mapping(tmp_path) -> None:
    """A --config holding a list instead of a mapping is refused."""
    path = tmp_path / "list.yaml"
    path.write_text("- learning_rate\n")
    assert_one_line_refusal(run("sft.py", "--config", str(path)), "YAML mapping")


@pytest.mark.parametrize(
    ("yaml_line", "words"),
    [
        ("num_train_epochs: [1, 2]", ("num_train_epochs", "one value")),
        ("learning_rate: fast", ("learning_rate", "'fast'")),
        ("max_steps: 2.5", ("max_steps", "an integer")),
        ("do_final_eval: maybe", ("do_final_eval", "maybe")),
        ("lr_scheduler_type: wavy", ("lr_scheduler_type", "not one of")),
    ],
)
def test_wrong_type_in_config(tmp_path, yaml_line: str, words: tuple[str, ...]) -> None:
    """A YAML value of the wrong type is refused naming the key, not after a usage dump or deep in training."""
    path = tmp_path / "typed.yaml"
    path.write_text(yaml_line + "\n")
    assert_one_line_refusal(run("sft.py", "--config", str(path)), *words)


def test_wrong_type_flag() -> None:
    """A flag of the wrong type is one line (argparse would print ~150 lines of usage first)."""
    assert_one_line_refusal(run("sft.py", "--learning_rate", "fast"), "--learning_rate", "invalid float")


def test_unknown_flag() -> None:
    """A flag no dataclass knows is named."""
    assert_one_line_refusal(run("sft.py", "--no_such_flag", "1"), "--no_such_flag")


def test_unknown_reward_name() -> None:
    """An unknown reward is refused when the flags are parsed, naming the known ones."""
    assert_one_line_refusal(run("rl.py", "--reward_funcs", "trace", "nope"), "'nope'", "correctness")


def test_reward_weights_of_the_wrong_length() -> None:
    """One weight per reward, checked before anything loads."""
    result = run(
        "rl.py",
        "--model_name_or_path",
        "embedded:SmolLM2-135M-Instruct",
        "--reward_funcs",
        "trace",
        "parse",
        "--reward_weights",
        "1",
        "0",
        "0",
    )
    assert_one_line_refusal(result, "--reward_weights has 3 values for 2")


def test_missing_sft_output_names_sft_first(tmp_path) -> None:
    """rl.py from a relative output folder that does not exist says to run sft.py first, at once (no hub wait)."""
    assert_one_line_refusal(run("rl.py", "--model_name_or_path", "runs/no-such-sft", cwd=tmp_path), "sft.py first")


@pytest.mark.parametrize("path", ["./no-such-model", "runs/no-such-sft", "a/b/c", "~/no-such-model"])
def test_missing_model_folder(tmp_path, path: str) -> None:
    """sft.py refuses a local-looking model path that does not exist, without trying the hub."""
    assert_one_line_refusal(run("sft.py", "--model_name_or_path", path, cwd=tmp_path), "not found")


def test_unhonoured_flag_is_refused() -> None:
    """A TRL flag the recipes do not act on is refused, not silently ignored."""
    assert_one_line_refusal(run("sft.py", "--eval_strategy", "steps"), "--eval_strategy", "--do_final_eval")


def test_evaluate_without_a_dataset() -> None:
    """evaluate.py says where a training run writes its held-out set."""
    assert_one_line_refusal(run("evaluate.py", "--model_name_or_path", "runs/x"), "--dataset_path", "eval.jsonl")


def test_evaluate_with_a_missing_dataset(tmp_path) -> None:
    """A --dataset_path that does not exist is refused before the model loads."""
    assert_one_line_refusal(run("evaluate.py", "--dataset_path", str(tmp_path / "none.jsonl")), "file not found")


def test_evaluate_with_an_empty_dataset(tmp_path) -> None:
    """An empty evaluation file is refused by name before the model loads (it used to end in StopIteration)."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = run("evaluate.py", "--dataset_path", str(empty), "--model_name_or_path", str(tmp_path / "no-model"))
    assert_one_line_refusal(result, "empty file")


def test_help_lists_the_recipe_options_first() -> None:
    """--help starts with this recipe's options, then the common TRL ones, and keeps the usage line short."""
    result = run("sft.py", "--help")
    text = result.stdout
    assert result.returncode == 0
    assert text.index("trace-recipe options") < text.index("common TRL/transformers options")
    assert text.index("--num_train_examples") < text.index("--learning_rate") < text.index("--adam_beta1")
    assert len(text.split("options:")[0].splitlines()) < 5


def test_hub_ids_and_local_paths() -> None:
    """`org/name` is a hub id; `runs/x`, `./x`, absolute and deeper paths are local."""
    assert looks_like_hub_id("HuggingFaceTB/SmolLM2-135M-Instruct") and looks_like_hub_id("gpt2")
    for path in ("runs/sft", "./sft", "/abs/sft", "a/b/c", "../sft", "org/-bad"):
        assert not looks_like_hub_id(path), path
    with pytest.raises(ModelLoadError, match="sft.py first"):
        check_model_reference("runs/missing", "run sft.py first")
    check_model_reference("HuggingFaceTB/SmolLM2-135M-Instruct")  # left to the hub: no error here


def test_folder_without_a_model_is_refused_with_the_hint(tmp_path: Path) -> None:
    """An SFT output folder that holds only data (a stopped run) is refused at once, naming the hint or checkpoint."""
    run = tmp_path / "runs" / "sft"
    run.mkdir(parents=True)
    (run / "train.jsonl").write_text("{}\n")
    with pytest.raises(ModelLoadError, match="holds no model.*sft.py first"):
        check_model_reference(str(run), "run sft.py first")
    (run / "checkpoint-20").mkdir()
    with pytest.raises(ModelLoadError, match="newest checkpoint is .*checkpoint-20"):
        check_model_reference(str(run), "run sft.py first")
    (run / "config.json").write_text("{}")
    check_model_reference(str(run))  # a saved model: loading decides the rest


def test_accelerate_single_thread_is_replaced_on_cpu(monkeypatch) -> None:
    """Under `accelerate launch` without GPUs, OMP_NUM_THREADS=1 becomes the process's share of the cores."""
    import torch

    monkeypatch.setattr("trace_recipe.configs.has_accelerator", lambda: False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    before = torch.get_num_threads()
    environ = {"ACCELERATE_DYNAMO_BACKEND": "no", "OMP_NUM_THREADS": "1", "LOCAL_WORLD_SIZE": "2"}
    try:
        assert share_cpu_cores(environ) == 4
        assert environ["OMP_NUM_THREADS"] == "4" and torch.get_num_threads() == 4
    finally:
        torch.set_num_threads(before)


def test_thread_count_left_alone_outside_accelerate_or_when_chosen(monkeypatch) -> None:
    """Plain `python`, a user's own OMP_NUM_THREADS and a GPU host keep their thread count."""
    monkeypatch.setattr("trace_recipe.configs.has_accelerator", lambda: False)
    assert share_cpu_cores({"OMP_NUM_THREADS": "1"}) is None
    assert share_cpu_cores({"ACCELERATE_DYNAMO_BACKEND": "no", "OMP_NUM_THREADS": "3"}) is None
    monkeypatch.setattr("trace_recipe.configs.has_accelerator", lambda: True)
    assert share_cpu_cores({"ACCELERATE_DYNAMO_BACKEND": "no", "OMP_NUM_THREADS": "1"}) is None


def test_final_report_names_accuracy_experts_and_files() -> None:
    """The last lines of a run: the summary line, accuracy per expert, and where model and reports are."""
    metrics = {
        "accuracy": 0.5,
        "correct": 2,
        "n": 4,
        "parse_rate": 1.0,
        "valid_rate": 0.75,
        "correct_expert_rate": 1.0,
        "per_expert": {"arithmetic": {"accuracy": 1.0}, "comparison": {"accuracy": 0.0}},
    }
    text = final_report(metrics, "runs/x")
    assert "Correct: 50" in text and "(2/4)" in text and "Valid: 75" in text
    assert "arithmetic 100.0%" in text and "comparison 0.0%" in text
    assert "runs/x/eval.{json,md}" in text


def test_timed_checkpoints_ask_for_a_save_after_the_interval() -> None:
    """TimedCheckpoints sets should_save once the minutes have passed since the last save, and not before."""
    from transformers import TrainerControl

    now = [0.0]
    callback = TimedCheckpoints(10, clock=lambda: now[0])
    control = TrainerControl()
    now[0] = 599.0
    assert not callback.on_step_end(None, None, control).should_save
    now[0] = 600.0
    assert callback.on_step_end(None, None, control).should_save
    callback.on_save(None, None, TrainerControl())
    assert not callback.on_step_end(None, None, TrainerControl()).should_save


def test_ctrl_c_ends_with_one_line_and_status_130(capsys) -> None:
    """Ctrl-C during a run prints how to resume, in one line, and exits 130 without a traceback."""
    from trace_recipe.script import run_script

    class Parser:
        def parse_args_and_config(self, args: object = None) -> tuple[()]:
            return ()

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as stop:
        run_script(interrupted, Parser())
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 130
    assert len(err.splitlines()) == 1 and "--resume_from_checkpoint true" in err


def test_model_card_names_base_model_data_and_evaluation(tmp_path) -> None:
    """The card names the base model the user asked for (not the converted folder), the data and the eval table."""
    from types import SimpleNamespace

    from trace_recipe.model_card import write_model_card

    (tmp_path / "eval.md").write_text("# eval\n\n| metric | value |\n|---|---|\n| Correct | 50.0% |\n")
    args = SimpleNamespace(generator_seed=0, min_trace_steps=1, max_trace_steps=3, dataset_path=None)
    path = write_model_card(
        str(tmp_path),
        trainer_name="sft",
        base_model="embedded:SmolLM2-135M-Instruct",
        script_args=args,
        train_size=640,
        eval_size=248,
        metrics={"accuracy": 0.5},
    )
    card = Path(path).read_text()
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and "dequantized" in card
    assert "640 examples" in card and "248 examples" in card
    assert "| Correct | 50.0% |" in card and "[None]" not in card


def test_model_card_names_the_mixture_and_skips_an_earlier_runs_report(tmp_path) -> None:
    """A run on a dataset mixture names its sources, and an eval.md left by an earlier run is not its evaluation."""
    from types import SimpleNamespace

    from trace_recipe.model_card import write_model_card

    (tmp_path / "eval.md").write_text("# eval\n\n| metric | value |\n|---|---|\n| Correct | 50.0% |\n")
    args = SimpleNamespace(
        generator_seed=0, min_trace_steps=1, max_trace_steps=3, dataset_path=None, num_train_examples=0,
        datasets=[SimpleNamespace(path="gsm8k/train.jsonl"), SimpleNamespace(path="mawps/train.csv")], num_variants=2,
    )  # fmt: skip
    path = write_model_card(
        str(tmp_path), trainer_name="sft", base_model="embedded:SmolLM2-135M-Instruct", script_args=args,
        train_size=900, eval_size=None, metrics=None,
    )  # fmt: skip
    card = Path(path).read_text()
    assert "the mixture gsm8k/train.jsonl, mawps/train.csv, with 2 numeric variants per problem" in card
    assert "| Correct | 50.0% |" not in card


def test_model_card_holds_the_named_sets_table(tmp_path) -> None:
    """A run that evaluates named sets (eval_sets:) puts their table in the card, not a note that nothing ran."""
    from types import SimpleNamespace

    from trace_recipe.model_card import write_model_card

    args = SimpleNamespace(generator_seed=0, min_trace_steps=1, max_trace_steps=3, dataset_path=None)
    results = {
        "gsm8k_dev": {"n": 500, "correct": 51, "accuracy": 0.102, "parse_rate": 0.996, "valid_rate": 0.908},
        "mawps_dev": {"n": 300, "correct": 246, "accuracy": 0.82, "parse_rate": 1.0, "valid_rate": 0.973},
    }
    path = write_model_card(
        str(tmp_path), trainer_name="sft", base_model="embedded:SmolLM2-135M-Instruct", script_args=args,
        train_size=900, eval_size=None, metrics=None, set_results=results,
    )  # fmt: skip
    card = Path(path).read_text()
    assert "| gsm8k_dev | 500 | 10.2% (51/500) |" in card and "| mawps_dev | 300 | 82.0% (246/300) |" in card
    assert "No final evaluation" not in card and "\n# Evaluation\n" not in card  # the table without its title
