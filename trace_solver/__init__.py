"""trace_solver: the trace language, its safe, deterministic executor and the graduated reward of a trace.

>>> from trace_solver import execute
>>> execute("expert: arithmetic\ntrace:\n- {init: a, value: 2}\n- {init: b, value: 3}\n"
...         "- compute: {op: add, args: [a, b], var: total}\n- {query: total}").value
Fraction(5, 1)
"""

from trace_solver.executor import execute
from trace_solver.experts import EXPERTS, expert_names, get_expert
from trace_solver.loader import extract_yaml
from trace_solver.numbers import NumberError, answers_match, format_number, normalize_question, parse_number
from trace_solver.outcome import Outcome, Status
from trace_solver.prompt import build_messages, system_prompt
from trace_solver.scoring import RewardTiers, Score, score_completion
from trace_solver.serialize import dump_trace

__version__ = "0.1.0"
LANGUAGE_VERSION = "1.0"

__all__ = [
    "EXPERTS",
    "LANGUAGE_VERSION",
    "NumberError",
    "Outcome",
    "RewardTiers",
    "Score",
    "Status",
    "answers_match",
    "build_messages",
    "dump_trace",
    "execute",
    "expert_names",
    "extract_yaml",
    "format_number",
    "get_expert",
    "normalize_question",
    "parse_number",
    "score_completion",
    "system_prompt",
]
