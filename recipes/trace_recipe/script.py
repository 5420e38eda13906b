"""Running `recipes/sft.py`, `rl.py` and `evaluate.py` from the command line: flags with this recipe's own options
first, every expected failure as one line on stderr (exit 2, no traceback), CPU threads, Ctrl-C and teardown.

Heavy imports stay inside the functions: a bad flag or config is refused in about a second, before any model loads.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

from trl import TrlParser

from trace_recipe.errors import EXIT_ERROR, RecipeError

EXIT_INTERRUPTED = 130  # the shell's status for Ctrl-C

# Flags TRL/transformers offer that these recipes do not honour, with why: refused rather than silently ignored.
UNHONOURED_FLAGS: dict[str, tuple[Any, str]] = {
    # name: (the value that means "unused", why)
    "ignore_bias_buffers": (False, "the recipes never wrap bias buffers for DDP"),
    "eval_strategy": ("no", "the recipes evaluate once, after training (--do_final_eval, --eval_dataset_path)"),
    "do_eval": (False, "the recipes evaluate once, after training (--do_final_eval, --eval_dataset_path)"),
    "do_predict": (False, "the recipes have no prediction step; use recipes/evaluate.py"),
    "load_in_4bit": (False, "the recipes load full-precision weights (quantized training is not wired in)"),
    "load_in_8bit": (False, "the recipes load full-precision weights (quantized training is not wired in)"),
}

# Inherited TRL/transformers flags a user of these recipes commonly sets; `--help` lists them right after the
# recipe's own options and before the hundreds of others.
COMMON_FLAGS = (
    "config",
    "model_name_or_path",
    "dtype",
    "output_dir",
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "gradient_accumulation_steps",
    "max_length",
    "max_completion_length",
    "num_generations",
    "reward_weights",
    "beta",
    "temperature",
    "use_peft",
    "logging_steps",
    "save_strategy",
    "save_steps",
    "save_total_limit",
    "resume_from_checkpoint",
    "report_to",
    "seed",
)


class ConfigError(RecipeError, ValueError):
    """A bad `--config` file, YAML value or flag; the message is one line naming the key and what it takes."""


class RecipeParser(TrlParser):
    """TRL's parser (`--config recipe.yaml`, flags override it) whose errors are one line and whose `--help` shows
    this recipe's options first.

    Args:
        dataclass_types: as for `TrlParser`.
        own_types: the recipe's own dataclasses; fields they declare themselves are listed first in `--help`.
    """

    def __init__(self, dataclass_types: Sequence[type], own_types: Iterable[type] = (), **kwargs: Any) -> None:
        # argparse's generated usage names every flag (about 150 lines): name the pattern instead.
        kwargs.setdefault("usage", "%(prog)s [--config recipe.yaml] [--flag value ...]   (flags override the YAML)")
        super().__init__(dataclass_types, **kwargs)
        self._group_help(own_fields(own_types))

    def _group_help(self, own: set[str]) -> None:
        optional = self._optionals  # where HfArgumentParser puts every dataclass field
        own_group = self.add_argument_group("trace-recipe options")
        # Listed for --help only: TrlParser reads --config itself before argparse sees the flags.
        own_group.add_argument(
            "--config", default=argparse.SUPPRESS, help="YAML file of flag values (recipes/<model>/*.yaml)."
        )
        groups = (
            (own_group, lambda dest: dest in own),
            (self.add_argument_group("common TRL/transformers options"), lambda dest: dest in COMMON_FLAGS),
            (self.add_argument_group("other TRL/transformers options (see their documentation)"), lambda dest: True),
        )
        for action in list(optional._group_actions):
            if isinstance(action, argparse._HelpAction):
                continue
            for group, wanted in groups:
                if wanted(action.dest):
                    group._group_actions.append(action)
                    optional._group_actions.remove(action)
                    break

    def error(self, message: str) -> NoReturn:
        """argparse prints the whole usage (hundreds of lines) before the message and exits; raise the one line."""
        raise ConfigError(f"{message} (see --help)")

    def parse_args_and_config(self, args: Iterable[str] | None = None, **kwargs: Any) -> tuple[Any, ...]:
        """`TrlParser.parse_args_and_config` with a missing, unreadable or malformed `--config` refused in one line."""
        import yaml

        args = list(sys.argv[1:] if args is None else args)
        if "--config" in args:
            index = args.index("--config")
            if index + 1 == len(args):
                raise ConfigError("--config needs a YAML file: --config recipes/SmolLM2-135M-Instruct/sft.yaml")
            self.check_config_values(check_config_file(args[index + 1]), args[index + 1])
        try:
            return super().parse_args_and_config(args, **kwargs)
        except yaml.YAMLError as error:
            raise ConfigError(
                f"--config: not valid YAML ({_one_line(error)}); fix the file or start from the recipes' YAML"
            ) from None
        except ConfigError:
            raise
        except (ValueError, TypeError) as error:  # a config's own checks, TRL's unknown-key refusal
            raise ConfigError(_one_line(error)) from None

    def check_config_values(self, config: dict[str, Any], path: str) -> None:
        """Refuse a YAML value of the wrong type or outside a flag's choices (argparse checks only strings, so a
        list or a word where a number belongs would otherwise fail deep inside training)."""
        actions = {action.dest: action for action in self._actions}
        for key, value in config.items():
            action = actions.get(key)
            if action is None or value is None or dataclasses.is_dataclass(action.type):
                continue  # unknown keys: TRL refuses them, naming them all; `datasets:` entries: DatasetConfig checks
            many = action.nargs in ("+", "*")
            if isinstance(value, dict) or (isinstance(value, list) and not many and _checked_type(action)):
                raise ConfigError(f"--config {path}: {key} takes one value, not {value!r}")
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, (list, dict)):
                    raise ConfigError(f"--config {path}: {key} holds a nested {type(item).__name__}: {item!r}")
                self._check_config_value(action, key, item, path)

    @staticmethod
    def _check_config_value(action: argparse.Action, key: str, item: Any, path: str) -> None:
        kind = _checked_type(action)
        if kind is not None:
            try:
                action.type(str(item))
            except (ValueError, TypeError, argparse.ArgumentTypeError):
                raise ConfigError(f"--config {path}: {key}: {item!r} is not {kind}") from None
        if action.choices is not None and str(item) not in {str(choice) for choice in action.choices}:
            choices = ", ".join(map(str, action.choices))
            raise ConfigError(f"--config {path}: {key}: {item!r} is not one of {choices}")


def _checked_type(action: argparse.Action) -> str | None:
    """What a flag's value must be, for the types a YAML value is checked against (numbers and booleans)."""
    if action.type is int:
        return "an integer"
    if action.type is float:
        return "a number"
    if getattr(action.type, "__name__", "") == "string_to_bool":
        return "true or false"
    return None


def own_fields(types: Iterable[type]) -> set[str]:
    """Names of the fields each class declares itself (not those it inherits from TRL or transformers)."""
    names: set[str] = set()
    for cls in types:
        for klass in cls.__mro__:
            if klass.__module__.split(".")[0] in ("trl", "transformers", "builtins"):
                break
            names.update(vars(klass).get("__annotations__", {}))
    return names


def check_config_file(path: str) -> dict[str, Any]:
    """The YAML mapping in `--config path`; a missing file, a folder, non-UTF-8 bytes or anything but a mapping is
    refused in one line."""
    import yaml

    if not os.path.exists(path):
        raise ConfigError(
            f"--config {path}: file not found; the recipes' YAML files are in recipes/<model>/ (e.g. sft.yaml)"
        )
    if os.path.isdir(path):
        example = os.path.join(path, "sft.yaml")
        raise ConfigError(f"--config {path}: is a folder; give a YAML file such as {example}")
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
    except UnicodeDecodeError:
        raise ConfigError(f"--config {path}: not UTF-8 text; a recipe is a YAML file") from None
    except yaml.YAMLError as error:
        reason = _one_line(error)
        raise ConfigError(f"--config {path}: not valid YAML ({reason}); compare with the recipes' YAML files") from None
    if not isinstance(config, dict):
        raise ConfigError(f"--config {path}: must be a YAML mapping of flag names to values (learning_rate: 1.0e-4)")
    return config


def refuse_unhonoured_flags(arguments: Iterable[Any]) -> None:
    """Raise RecipeError for a flag in UNHONOURED_FLAGS set to anything but its unused value."""
    for arguments_object in arguments:
        if not dataclasses.is_dataclass(arguments_object):
            continue
        for name, (unused, why) in UNHONOURED_FLAGS.items():
            value = getattr(arguments_object, name, unused)
            value = getattr(value, "value", value)  # enums (eval_strategy) compare by their string
            if value != unused:
                raise RecipeError(f"--{name} {value} is not supported: {why}")


def share_cpu_cores(environ: dict[str, str] | None = None) -> int | None:
    """Under `accelerate launch` on a host without GPUs, give each process its share of the cores.

    accelerate sets OMP_NUM_THREADS=1 unless its config says the run is on CPU, so the README's plain
    `accelerate launch recipes/sft.py ...` trained on one core (1.7x slower than `python` on 2 cores). Returns the
    thread count set, or None when nothing was changed (not launched by accelerate, a GPU present, or a count
    other than 1 chosen by the user).
    """
    environ = os.environ if environ is None else environ
    launched_by_accelerate = "ACCELERATE_DYNAMO_BACKEND" in environ  # set by every `accelerate launch` launcher
    if not launched_by_accelerate or environ.get("OMP_NUM_THREADS") != "1":
        return None
    from trace_recipe.configs import has_accelerator

    if has_accelerator():
        return None
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    local_processes = int(environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    threads = max(1, cores // max(1, local_processes))
    if threads == 1:
        return None
    environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    return threads


def fail(message: str) -> NoReturn:
    """Print `error: message` as the last line on stderr and exit with status 2."""
    sys.stdout.flush()
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_ERROR)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def expected_errors() -> tuple[type[BaseException], ...]:
    """Failures whose message already names the problem and the fix (raised by the recipe's own checks)."""
    from trace_solver.jsonl import JSONLError

    return (RecipeError, JSONLError)


def run_script(
    main: Callable[..., Any],
    parser: TrlParser,
    *,
    check: Callable[..., None] | None = None,
    args: Sequence[str] | None = None,
) -> None:
    """Parse flags (`args`, else the command line, over `--config` YAML defaults), refuse unsupported ones, run
    `check` (cheap input checks, before any model loads), then `main`; expected errors end with one line on stderr and
    exit status 2, Ctrl-C with 130.
    """
    try:
        arguments = parser.parse_args_and_config(args=args)
        share_cpu_cores()
        refuse_unhonoured_flags(arguments)
        if check is not None:
            check(*arguments)
        main(*arguments)
    except expected_errors() as error:
        fail(_one_line(error))
    except KeyboardInterrupt:
        sys.stdout.flush()
        print(
            "interrupted: checkpoints already saved stay in output_dir; add --resume_from_checkpoint true to resume",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(EXIT_INTERRUPTED) from None
    _shut_down_processes()


def _shut_down_processes() -> None:
    """Let every rank finish, then tear the process group down before the interpreter exits.

    A gloo group left alive at exit can abort a rank ("terminate called without an active exception", seen in
    CI after the model was saved), which fails a run that did all its work.
    """
    from accelerate import PartialState

    state = PartialState()
    if state.num_processes > 1:
        state.wait_for_everyone()
    state.destroy_process_group()
