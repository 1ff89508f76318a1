"""The capability helpers every engine shares."""

from __future__ import annotations

import pytest

from silkroute.backends.base import BackendError
from silkroute.backends.capabilities import (
    RunUsage,
    check_run_id,
    shell_line,
    total_accelerator_hours,
)


@pytest.mark.parametrize(
    ("usage", "now", "want_hours"),
    [
        pytest.param(RunUsage("a", 8, 0.0, 1800.0), 9e9, 4.0, id="an ended run counts its span"),
        pytest.param(RunUsage("a", 2, 100.0, None), 3700.0, 2.0, id="a running run counts to now"),
        pytest.param(RunUsage("a", 4, None, None), 9e9, 0.0, id="a run that never started is 0"),
        pytest.param(RunUsage("a", 4, 50.0, 40.0), 9e9, 0.0, id="a clock skew never goes below 0"),
    ],
)
def test_accelerator_hours(usage: RunUsage, now: float, want_hours: float) -> None:
    assert usage.accelerator_hours(now) == pytest.approx(want_hours)


def test_hours_add_up_over_runs() -> None:
    runs = [RunUsage("a", 8, 0.0, 1800.0), RunUsage("b", 1, 0.0, 7200.0)]
    assert total_accelerator_hours(runs, now=0.0) == pytest.approx(6.0)


@pytest.mark.parametrize("run_id", ["a", "job-12.attempt_3", "A" * 128])
def test_good_run_ids_pass(run_id: str) -> None:
    assert check_run_id(run_id) == run_id


def test_argv_is_quoted_and_a_shell_line_is_kept() -> None:
    assert shell_line(["echo", "a b", "$HOME"]) == "echo 'a b' '$HOME'"
    assert shell_line("echo $HOME | wc") == "echo $HOME | wc"


@pytest.mark.parametrize("command", [[], "", "   "])
def test_an_empty_command_is_refused(command: list[str] | str) -> None:
    with pytest.raises(BackendError, match="command: must not be empty"):
        shell_line(command)
