"""Measuring: a command's time and peak memory in its own process, latencies, this process's memory, the machine."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.config import PROJECT_ROOT
from bot.timing import Phases, recording

_STARTED = time.perf_counter()


def progress(message: str) -> None:
    minutes, seconds = divmod(int(time.perf_counter() - _STARTED), 60)
    print(f"[{minutes:02d}:{seconds:02d}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ratio(ours: float, base: float) -> str:
    return f"{base / ours:.1f}× faster" if ours <= base else f"{ours / base:.1f}× slower"


class BenchError(Exception):
    pass


# Runs a command and writes its peak resident memory (KiB) to argv[1]. Started as a fresh, small interpreter: a child
# forked straight from the bench (which holds large indexes) would count the bench's memory as its own peak.
_PEAK_OF = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)


@dataclass
class Run:
    seconds: float
    peak_mb: float
    output: str  # what the command printed


def run_measured(args: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command to completion: its time, peak resident memory and output."""
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        peak = Path(tmp) / "peak"
        started = time.perf_counter()
        process = subprocess.run(
            [sys.executable, "-c", _PEAK_OF, str(peak), *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=err,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if process.returncode != 0:
            err.seek(0)
            raise BenchError(f"{' '.join(args[1:4])} failed: {err.read().decode(errors='replace')[-2000:]}")
        out.seek(0)
        return Run(elapsed, int(peak.read_text()) / 1024, out.read().decode(errors="replace"))


def bot_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def bench_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tools.bench", *args]


def latencies(run: Callable[[str], object], questions: list[str], rounds: int = 3) -> tuple[float, float]:
    """p50 and p95 milliseconds of `run` over `questions`, `rounds` times, after a warm-up on the first ten."""
    p50, p95, _ = split_latencies(run, questions, rounds, split=False)
    return p50, p95


def split_latencies(
    run: Callable[[str], object], questions: list[str], rounds: int = 3, split: bool = True
) -> tuple[float, float, dict[str, float]]:
    """p50 and p95 milliseconds of `run`, and (with `split`) the mean milliseconds of each phase the code laps
    (bot/timing.py); `rest` is the time no lap claimed."""
    for q in questions[:10]:
        run(q)
    timings: list[float] = []
    phases: list[Phases] = []
    for _ in range(rounds):
        for q in questions:
            if split:
                with recording() as laps:
                    t0 = time.perf_counter()
                    run(q)
                    timings.append((time.perf_counter() - t0) * 1000)
                phases.append(laps)
            else:
                t0 = time.perf_counter()
                run(q)
                timings.append((time.perf_counter() - t0) * 1000)
    return statistics.median(timings), percentile(timings, 0.95), mean_phases(phases, timings)


def mean_phases(phases: list[Phases], totals_ms: list[float]) -> dict[str, float]:
    """The mean milliseconds of each phase over the runs, and `rest`: the mean of what no lap claimed."""
    if not phases:
        return {}
    names = list(dict.fromkeys(name for laps in phases for name in laps))
    means = {name: 1000 * sum(laps.get(name, 0.0) for laps in phases) / len(phases) for name in names}
    means["rest"] = max(0.0, statistics.fmean(totals_ms) - sum(means.values()))
    return means


def memory_mb() -> tuple[float, float, float]:
    """This process's resident memory, its peak, and the part of it that is mapped files, in MB, from /proc."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM", "RssFile")):
            fields[line.split(":")[0]] = int(line.split()[1]) / 1024
    return fields["VmRSS"], fields["VmHWM"], fields.get("RssFile", 0.0)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, {platform.machine()}, Python {platform.python_version()}"
