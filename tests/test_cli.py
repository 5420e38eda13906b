"""The trace-solver command line: run and score, on files and stdin, plain and --json."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from trace_solver.cli import main

SEED = """expert: comparison
trace:
- {init: base, value: 120}
- formula: {var: person_a, expression: "base * 3"}
- formula: {var: person_b, expression: "base + 50"}
- compute: {op: sub, args: [person_a, person_b], var: difference}
- {query: difference}
"""
BROKEN = "expert: arithmetic\ntrace:\n- {init: a, value: 1}\n- {query: b}\n"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def seed_file(tmp_path):
    path = tmp_path / "seed.yaml"
    path.write_text(SEED)
    return str(path)


@pytest.fixture
def broken_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    return str(path)


def test_run_prints_value(seed_file, capsys):
    """`run FILE` prints the value and exits 0."""
    assert main(["run", seed_file]) == 0
    assert capsys.readouterr().out == "190\n"


def test_run_prints_fraction_exactly(tmp_path, capsys):
    """A non-integral value prints exactly (decimal or p/q)."""
    path = tmp_path / "t.yaml"
    path.write_text("expert: arithmetic\ntrace:\n- compute: {op: div, args: [1, 3], var: r}\n- {query: r}\n")
    main(["run", str(path)])
    assert capsys.readouterr().out == "1/3\n"


def test_run_reads_stdin(monkeypatch, capsys):
    """`run -` reads the trace from standard input."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"Here you go:\n```yaml\n{SEED}```"))
    assert main(["run", "-"]) == 0
    assert capsys.readouterr().out == "190\n"


def test_run_error_exits_non_zero(broken_file, capsys):
    """A failing trace exits 1."""
    assert main(["run", broken_file]) == 1


def test_run_error_is_one_line_on_stderr(broken_file, capsys):
    """A failing trace prints one line with its code and step on stderr, nothing on stdout."""
    main(["run", broken_file])
    captured = capsys.readouterr()
    expected = "error [undefined_variable]: step 1: query.var: undefined variable 'b'\n"
    assert (captured.out, captured.err) == ("", expected)


def test_run_json_prints_outcome(seed_file, capsys):
    """`run --json` prints the whole outcome as JSON."""
    main(["run", "--json", seed_file])
    assert json.loads(capsys.readouterr().out) == {
        "status": "ok", "code": None, "message": None, "value": "190", "expert": "comparison", "step": None,
    }  # fmt: skip


def test_run_json_error_exits_non_zero_with_code(broken_file, capsys):
    """`run --json` on a failing trace exits 1 and the JSON carries the code and step."""
    assert main(["run", "--json", broken_file]) == 1
    outcome = json.loads(capsys.readouterr().out)
    assert (outcome["code"], outcome["step"]) == ("undefined_variable", 1)


def test_run_missing_file_is_one_line_error():
    """An unreadable file is a one-line error and a non-zero exit."""
    with pytest.raises(SystemExit) as info:
        main(["run", "/nonexistent/trace.yaml"])
    assert "cannot read /nonexistent/trace.yaml" in str(info.value.code)


@pytest.mark.parametrize(
    ("argv", "reward"),
    [(["--answer", "190"], "1.0"), (["--answer", "$190.00", "--expert", "comparison"], "1.0"),
     (["--answer", "18"], "0.7"), (["--answer", "190", "--expert", "arithmetic"], "0.3")],
)  # fmt: skip
def test_score_prints_reward(seed_file, capsys, argv, reward):
    """`score --answer A [--expert E] FILE` prints the graduated reward."""
    assert main(["score", *argv, seed_file]) == 0
    assert capsys.readouterr().out == f"{reward}\n"


def test_score_json_prints_tier(broken_file, capsys):
    """`score --json` prints reward, tier and outcome."""
    main(["score", "--json", "--answer", "1", "--expert", "arithmetic", broken_file])
    printed = json.loads(capsys.readouterr().out)
    assert (printed["reward"], printed["tier"]) == (0.5, "failed_trace")


def test_score_requires_answer(seed_file):
    """`score` without --answer is a usage error."""
    with pytest.raises(SystemExit) as info:
        main(["score", seed_file])
    assert info.value.code == 2


def test_python_m_runs_from_stdin():
    """`python -m trace_solver run -` works as a process: value on stdout, exit 0."""
    result = subprocess.run(
        [sys.executable, "-m", "trace_solver", "run", "-"], input=SEED, capture_output=True, text=True, cwd=ROOT
    )
    assert (result.returncode, result.stdout) == (0, "190\n")


def test_python_m_error_exit_status():
    """`python -m trace_solver run -` on a broken trace exits non-zero with one stderr line."""
    result = subprocess.run(
        [sys.executable, "-m", "trace_solver", "run", "-"], input=BROKEN, capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_run_refuses_non_utf8_bytes_in_one_line(tmp_path, source) -> None:
    """A trace that is not UTF-8 ends with the same one-line refusal from a file and from stdin, no traceback."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes(SEED.replace("base, value", "caf\xe9, value").encode("latin-1"))
    argv = [sys.executable, "-m", "trace_solver.cli", "run", str(path) if source == "file" else "-"]
    stdin = path.read_bytes() if source == "stdin" else None
    result = subprocess.run(argv, input=stdin, capture_output=True, cwd=ROOT, timeout=60)
    err = result.stderr.decode()
    assert result.returncode != 0 and "Traceback" not in err
    assert err.strip().count("\n") == 0 and "not UTF-8 text (byte 0xe9" in err
