"""A progress line for `corpus run`: documents, documents/s and ETA, within 80 columns.

On a terminal the line is redrawn in place; when stderr is a file or a pipe (a batch job's log),
a new line is printed every `interval` seconds and at the end of each segment.
"""

from __future__ import annotations

import time
from typing import TextIO

from silkroute.corpus.pipeline.executor import ProgressEvent

WIDTH = 79


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def format_event(event: ProgressEvent, width: int = WIDTH) -> str:
    rate = (event.docs - event.docs_before) / event.elapsed if event.elapsed > 0 else 0.0
    if event.finished:
        eta = f"done in {_clock(event.elapsed)}"
    elif event.fraction is not None and event.fraction > event.fraction_before:
        gained = event.fraction - event.fraction_before  # in this run's elapsed time
        eta = f"ETA {_clock(event.elapsed * (1 - event.fraction) / gained)}"
    else:
        eta = "ETA -"
    pct = f"{event.fraction:4.0%}" if event.fraction is not None else "   -"
    head = f"[{event.segment + 1}/{event.segments}] "
    tail = (
        f" {pct} {event.docs:,} docs {rate:,.0f}/s {eta} shards {event.shards_done}/{event.shards}"
    )
    room = max(0, width - len(head) - len(tail))
    label = event.label if len(event.label) <= room else event.label[: max(0, room - 1)] + "…"
    return (head + label + tail)[:width]


class ProgressPrinter:
    def __init__(self, stream: TextIO, interval: float = 10.0) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.interval = interval
        self.last: float | None = None  # the first update is always printed

    def __call__(self, event: ProgressEvent) -> None:
        line = format_event(event)
        if self.tty:
            end = "\n" if event.finished else ""
            self.stream.write("\r" + line.ljust(WIDTH) + end)
            self.stream.flush()
            return
        now = time.monotonic()
        if event.finished or self.last is None or now - self.last >= self.interval:
            self.last = now
            self.stream.write(line + "\n")
            self.stream.flush()
