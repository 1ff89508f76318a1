"""A job that keeps, in one file shared by all its attempts, when each attempt's process
started and ended (its pid, the wall clock) and whether an earlier attempt's process was
still alive when it started: the real-process check that a job never runs twice at once.

The first attempt runs until it is released (`release` file) or stopped (SIGTERM: it takes
`stop_s` to wind down, as a job saving a checkpoint would); later attempts end at once. Each
SIGTERM an attempt gets is a `term` line: a second one (two stoppers) shows.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path


def traced_command(trace: Path, release: Path, stop_s: float = 1.0) -> str:
    now = "$(date +%s.%N)"
    return (
        f'T="{trace}"; '
        f'echo "start $SILKROUTE_ATTEMPT $$ {now}" >> "$T"; '
        # An earlier attempt whose process still lives (signal 0 only asks) is an overlap.
        'for p in $(awk \'$1 == "start" {print $3}\' "$T"); do '
        'if [ "$p" != "$$" ] && kill -0 "$p" 2>/dev/null; then echo "overlap $p" >> "$T"; fi; '
        "done; "
        'if [ "$SILKROUTE_ATTEMPT" = 1 ]; then '
        f'trap \'echo "term 1 {now}" >> "$T"; sleep {stop_s}; '
        f'echo "end 1 {now} stopped" >> "$T"; exit 0\' TERM; '
        f'while [ ! -e "{release}" ]; do sleep 0.05; done; '
        "fi; "
        f'echo "end $SILKROUTE_ATTEMPT {now} finished" >> "$T"'
    )


@dataclass
class Attempt:
    number: int
    pid: int
    started: float
    ended: float | None = None
    how: str = ""  # "stopped" (SIGTERM) or "finished"
    terms: int = 0  # SIGTERMs it got (the first attempt's trap counts them)

    @property
    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return self.ended is None


@dataclass
class Trace:
    attempts: dict[int, Attempt]
    overlaps: list[str]


def read_trace(trace: Path) -> Trace:
    attempts: dict[int, Attempt] = {}
    overlaps: list[str] = []
    text = trace.read_text() if trace.exists() else ""
    for line in text.splitlines():
        word, *rest = line.split()
        if word == "start":
            attempts[int(rest[0])] = Attempt(int(rest[0]), int(rest[1]), float(rest[2]))
        elif word == "end":
            attempt = attempts[int(rest[0])]
            attempt.ended, attempt.how = float(rest[1]), rest[2]
        elif word == "term":
            attempts[int(rest[0])].terms += 1
        elif word == "overlap":
            overlaps.append(line)
    return Trace(attempts, overlaps)


def assert_one_at_a_time(
    trace: Path, seen_dead: dict[int, float] | None = None
) -> dict[int, Attempt]:
    """Every attempt started after the one before it had ended, and none found an earlier
    attempt's process alive. `seen_dead`: for attempts killed before they could say so (no
    end line), when the test saw their process gone (later than it went)."""
    found = read_trace(trace)
    assert not found.overlaps, (found.overlaps, trace.read_text())
    numbers = sorted(found.attempts)
    for before, after in itertools.pairwise(numbers):
        earlier, later = found.attempts[before], found.attempts[after]
        ended = earlier.ended if earlier.ended is not None else (seen_dead or {}).get(before)
        assert ended is not None, trace.read_text()
        assert later.started > ended, trace.read_text()
    return found.attempts
