"""Every expert's generator: examples that execute to their answers, with the expert's steps and requested length."""

from __future__ import annotations

import ast
import random
import re
from fractions import Fraction

import pytest

from trace_solver import dump_trace, execute, normalize_question
from trace_solver.experts import EXPERTS, expert_names
from trace_solver.experts._phrasing import GenerationError, TraceBuilder
from trace_solver.expressions import compile_expression
from trace_solver.numbers import answers_match

SEEDS = range(40)
OPERATIONS = range(1, 9)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_IMPLIED_TWO = re.compile(r"\b(twice|half|double)\b", re.IGNORECASE)


def _examples(name: str, operations: int, seeds=SEEDS):
    generator = EXPERTS[name].generator
    return [generator(random.Random(seed), operations) for seed in seeds]


def _kind(step: dict) -> str:
    return next(key for key in step if key != "value")


def _operation_count(document: dict) -> int:
    return sum(1 for step in document["trace"] if _kind(step) not in ("init", "query"))


def _literals(document: dict) -> list[Fraction]:
    """Every number written in a trace: init values, numeric operands, formula constants."""
    found = []
    for step in document["trace"]:
        kind = _kind(step)
        if kind == "init":
            found.append(Fraction(step["value"]))
        elif kind == "formula":
            tree, _ = compile_expression(step["formula"]["expression"])
            found += [Fraction(str(node.value)) for node in ast.walk(tree) if isinstance(node, ast.Constant)]
        elif isinstance(step[kind], dict):
            for value in step[kind].values():
                found += [
                    Fraction(v) for v in (value if isinstance(value, list) else [value]) if not isinstance(v, str)
                ]
    return found


@pytest.mark.parametrize("name", expert_names())
def test_every_expert_has_a_generator_and_templates(name):
    """Each registered expert brings its own generator and several template ids named after it."""
    expert = EXPERTS[name]
    assert expert.generator is not None
    assert len(expert.templates) >= 4
    assert all(template.startswith(f"{name}/") for template in expert.templates)


@pytest.mark.parametrize("operations", OPERATIONS)
@pytest.mark.parametrize("name", expert_names())
def test_examples_execute_to_their_answers(name, operations):
    """Every example's trace, as a document and as YAML text, executes to its answer."""
    for example in _examples(name, operations):
        for trace in (example.trace, dump_trace(example.trace)):
            outcome = execute(trace)
            assert outcome.ok, (example.question, outcome.message)
            assert answers_match(outcome.value, example.answer), example.question


@pytest.mark.parametrize("operations", OPERATIONS)
@pytest.mark.parametrize("name", expert_names())
def test_examples_use_allowed_steps_and_the_requested_length(name, operations):
    """Traces name their expert, use only its step kinds and have exactly the requested operation count."""
    expert = EXPERTS[name]
    for example in _examples(name, operations):
        assert example.trace["expert"] == name
        assert {_kind(step) for step in example.trace["trace"]} <= expert.allowed_steps
        assert _operation_count(example.trace) == operations
        assert example.template in expert.templates


@pytest.mark.parametrize("operations", OPERATIONS)
@pytest.mark.parametrize("name", expert_names())
def test_every_template_supports_every_length(name, operations):
    """Over many seeds, each template of an expert shows up at every operation count."""
    seen = {example.template for example in _examples(name, operations, range(80))}
    assert seen == set(EXPERTS[name].templates)


@pytest.mark.parametrize("name", expert_names())
def test_numbers_in_the_trace_are_written_in_the_question(name):
    """Every number literal of a trace appears in the question as written (2 may be said as twice/half)."""
    for operations in OPERATIONS:
        for example in _examples(name, operations, range(20)):
            written = {Fraction(text) for text in _NUMBER.findall(example.question)}
            for value in _literals(example.trace):
                assert value in written or (value == 2 and _IMPLIED_TWO.search(example.question)), example.question


@pytest.mark.parametrize("name", expert_names())
def test_questions_are_normalised_and_answers_clean(name):
    """Questions need no normalisation and answers are whole numbers or at most two decimals (money)."""
    for operations in OPERATIONS:
        for example in _examples(name, operations, range(20)):
            assert normalize_question(example.question) == example.question
            assert "/" not in example.answer and not example.answer.startswith("-")
            assert len(example.answer.partition(".")[2]) <= 2, example.answer


@pytest.mark.parametrize("name", expert_names())
def test_generators_are_deterministic(name):
    """The same rng seed gives the same example; different seeds give different questions."""
    generator = EXPERTS[name].generator
    assert generator(random.Random(7), 3) == generator(random.Random(7), 3)
    assert len({generator(random.Random(seed), 3).question for seed in range(20)}) >= 18


def test_entity_track_quantities_never_go_negative():
    """Every variable of an entity_track trace ends non-negative (transfers and consumption never overdraw)."""
    for operations in OPERATIONS:
        for example in _examples("entity_track", operations, range(20)):
            steps = example.trace["trace"][:-1]
            names = {step["init"] for step in steps if "init" in step}
            names |= {step[_kind(step)]["var"] for step in steps if _kind(step) == "compute"}
            for name in names:
                outcome = execute({"expert": "entity_track", "trace": [*steps, {"query": name}]})
                assert outcome.ok and outcome.value >= 0, example.question


def test_entity_track_moves_between_several_entities():
    """entity_track stories use transfer and consume between at least two named holders."""
    kinds, holders = set(), 0
    for example in _examples("entity_track", 4):
        kinds |= {_kind(step) for step in example.trace["trace"]}
        holders = max(holders, sum("init" in step for step in example.trace["trace"]))
    assert {"transfer", "consume", "compute"} <= kinds
    assert holders >= 3


def test_comparison_wires_several_variables():
    """comparison formulas refer to non-base quantities and to two quantities at once, feeding a final compute."""
    two_names = relative_to_derived = multi_compute = 0
    for operations in (3, 5, 8):
        for example in _examples("comparison", operations):
            steps = example.trace["trace"]
            bases = {step["init"] for step in steps if "init" in step}
            for step in steps:
                if "formula" in step:
                    _, names = compile_expression(step["formula"]["expression"])
                    two_names += len(names) >= 2
                    relative_to_derived += bool(names - bases)
                if "compute" in step:
                    multi_compute += (
                        sum(isinstance(arg, str) and arg not in bases for arg in step["compute"]["args"]) >= 2
                    )
    assert two_names and relative_to_derived and multi_compute


def test_percentage_uses_every_percent_step():
    """percentage examples cover percent_off, percent_increase, percent_decrease and percent_of."""
    kinds = {_kind(step) for n in (2, 4) for example in _examples("percentage", n) for step in example.trace["trace"]}
    assert {"percent_off", "percent_increase", "percent_decrease", "percent_of"} <= kinds


def test_every_percentage_example_has_a_percent_step():
    """A percentage example always uses at least one percent_* step, even at one operation."""
    for operations in OPERATIONS:
        for example in _examples("percentage", operations, range(20)):
            assert any(_kind(step).startswith("percent_") for step in example.trace["trace"]), example.question


def test_arithmetic_uses_all_four_operations():
    """arithmetic chains use add, sub, mul and div."""
    ops = {
        step["compute"]["op"]
        for n in (2, 4)
        for ex in _examples("arithmetic", n)
        for step in ex.trace["trace"]
        if "compute" in step
    }
    assert {"add", "sub", "mul", "div"} <= ops


def test_rate_equation_always_has_a_formula():
    """Every rate_equation trace computes its rate relation with at least one formula step."""
    for operations in OPERATIONS:
        for example in _examples("rate_equation", operations, range(20)):
            assert any("formula" in step for step in example.trace["trace"]), example.question


def test_a_trace_that_misses_its_answer_is_a_generation_error():
    """TraceBuilder.finish raises when the executed trace does not reach the value it recorded."""
    builder = TraceBuilder("arithmetic")
    a, b = builder.init("a", 2), builder.init("b", 3)
    total = builder.compute("add", [a, b], "total")
    builder.env[total] = Fraction(6)
    with pytest.raises(GenerationError):
        builder.finish("2 and 3?", total, "arithmetic/0", 1)
