"""Where the time of a question or of a build goes, for `make bench`: a phase is timed by `lap(name)` at its end.

`lap(name)` adds the time since the previous lap (or since recording started) to `name`, in the phases the calling
thread is recording (`with recording() as phases:`). Without a recording, a lap costs one context-variable lookup;
a thread started elsewhere (a Discord worker) records nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar


class Phases(dict[str, float]):
    """Seconds spent in each phase, in the order the phases first ended."""

    def __init__(self) -> None:
        super().__init__()
        self.last = time.perf_counter()


_recording: ContextVar[Phases | None] = ContextVar("bot_timing", default=None)


def lap(name: str) -> None:
    """The time since the previous lap was spent in `name`."""
    phases = _recording.get()
    if phases is not None:
        now = time.perf_counter()
        phases[name] = phases.get(name, 0.0) + now - phases.last
        phases.last = now


@contextlib.contextmanager
def recording() -> Iterator[Phases]:
    """Record the laps of what runs inside, on this thread; nested recordings each see only their own."""
    phases = Phases()
    token = _recording.set(phases)
    try:
        yield phases
    finally:
        _recording.reset(token)
