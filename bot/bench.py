"""`make bench`: per-question latency of warm `ask` batch mode, and index build and cold-start times.

Figures are measured on this machine in this run; nothing here is a test. Per-question cost covers what `ask` does
for each stdin line once the model and index are loaded: the query embedding plus retrieval and quote selection.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.config import PROJECT_ROOT, Settings
from bot.embedding import Embedder
from bot.evaluation import EVAL_DIR, load_questions
from bot.index import build_index, load_index
from bot.retrieval import Retriever


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    settings = Settings.from_env()
    embedder = Embedder.from_setting(settings.embedding_model)
    questions = [q.question for name in ("dev", "holdout") for q in load_questions(EVAL_DIR / f"{name}.jsonl")]
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        embedder.encode(["warm up the model"])
        started = time.perf_counter()
        report = build_index(settings.corpus_dir, Path(tmp) / "index", embedder)
        rows.append(
            ("index build, project corpus", f"{time.perf_counter() - started:.1f} s ({report.windows} passages)")
        )

        retriever = Retriever(load_index(Path(tmp) / "index"), embedder)
        for q in questions[:10]:
            retriever.answer(q)
        timings, embed_only = [], []
        for _ in range(3):
            for q in questions:
                t0 = time.perf_counter()
                retriever.answer(q)
                timings.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                embedder.encode_query(q)
                embed_only.append((time.perf_counter() - t0) * 1000)
        rows.append(("warm ask, per question p50", f"{statistics.median(timings):.1f} ms"))
        rows.append(("warm ask, per question p95", f"{percentile(timings, 0.95):.1f} ms"))
        rows.append(("  of which query embedding p50", f"{statistics.median(embed_only):.1f} ms"))

        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bot", "ask", "--index", str(Path(tmp) / "index"), "how do I start?"],
            cwd=PROJECT_ROOT,
            check=True,
            capture_output=True,
        )
        rows.append(("cold start to first answer (`ask`, index built)", f"{time.perf_counter() - started:.1f} s"))

    print(f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}")
    print(f"Questions: {len(questions)} from tests/eval, each asked 3 times\n")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
