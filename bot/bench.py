"""`make bench`: per-question latency of warm `ask` batch mode, index build and cold-start times, and the Discord
bot under load over the loopback emulator (mention-to-reply latency with 20 users asking at once; the largest
heartbeat gap during a burst of 50 questions).

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
from bot.encoder import query_embedder
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

        index = load_index(Path(tmp) / "index")
        onnx = query_embedder(settings.encoder_dir, embedder)
        for label, encoder in (("ONNX Runtime, as served", onnx), ("sentence-transformers (baseline)", embedder)):
            retriever = Retriever(index, encoder)
            for q in questions[:10]:
                retriever.answer(q)
            timings, embed_only = [], []
            for _ in range(3):
                for q in questions:
                    t0 = time.perf_counter()
                    retriever.answer(q)
                    timings.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    encoder.encode_query(q)
                    embed_only.append((time.perf_counter() - t0) * 1000)
            batch = []
            for _ in range(10):
                t0 = time.perf_counter()
                encoder.encode(questions[:20], batch_size=20)
                batch.append((time.perf_counter() - t0) * 1000)
            p50, p95 = statistics.median(timings), percentile(timings, 0.95)
            rows.append((f"warm ask per question, {label}: p50 / p95", f"{p50:.1f} ms / {p95:.1f} ms"))
            rows.append(("  of which query embedding p50", f"{statistics.median(embed_only):.1f} ms"))
            rows.append(("  20 questions embedded in one batch, p50", f"{statistics.median(batch):.0f} ms"))

        starts = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "bot", "ask", "--index", str(Path(tmp) / "index"), "how do I start?"],
                cwd=PROJECT_ROOT,
                check=True,
                capture_output=True,
            )
            starts.append(time.perf_counter() - started)
        rows.append(("cold start to first answer (`ask`, index built), best of 3", f"{min(starts):.2f} s"))

    rows += discord_figures(settings.corpus_dir, embedder)

    print(f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}")
    print(f"Questions: {len(questions)} from tests/eval, each asked 3 times\n")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


def discord_figures(corpus_dir: Path, embedder: Embedder) -> list[tuple[str, str]]:
    """`python -m bot run` in its own process, as in production, against the loopback emulator from tests/ running in
    this one (imported here, never by the bot). Latency is measured where a user would see it: from posting the
    mention to the reply arriving."""
    import asyncio
    import itertools
    import os

    from tests.discord_emulator import DiscordEmulator

    questions = [q.question for q in load_questions(EVAL_DIR / "dev.jsonl")]
    heartbeat = 1.0  # seconds; short, so that a stall would show (Discord's own is about 41 s)

    async def scenario(tmp: Path) -> list[tuple[str, str]]:
        build_index(corpus_dir, tmp / "index", embedder)
        async with DiscordEmulator(heartbeat_interval=heartbeat) as emulator:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "AUTO_ANSWER", "COOLDOWN"))}
            env.update(emulator.bot_env())
            env.update(
                DISCORD_GUILD_ID=str(emulator.guild_id),
                DATABASE_PATH=str(tmp / "bot.sqlite3"),
                CORPUS_DIR=str(corpus_dir),
                INDEX_DIR=str(tmp / "index"),
                COOLDOWN_SECONDS="0",
            )
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=env,
                cwd=PROJECT_ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                await emulator.wait_until_ready(timeout=120)
                users = [emulator.add_user(f"user{i}") for i in range(50)]
                asked = itertools.cycle(questions)

                async def ask(user: dict) -> float:
                    """Each user in their own channel (a DM): Discord itself allows a bot only 5 messages per 5 s in
                    one channel, so 20 replies in one channel would measure Discord's rate limit, not the bot."""
                    started = time.perf_counter()
                    message = await emulator.send_dm(user, next(asked))
                    await emulator.wait_for_message(lambda m: m["channel_id"] == message["channel_id"], timeout=60)
                    return (time.perf_counter() - started) * 1000

                await asyncio.gather(*(ask(user) for user in users[:20]))  # warm-up round
                latencies: list[float] = []
                for _ in range(10):  # 10 rounds of 20 users asking at once
                    latencies += await asyncio.gather(*(ask(user) for user in users[:20]))

                await asyncio.sleep(2 * heartbeat)
                first = len(emulator.heartbeats) - 1
                burst_started = time.perf_counter()
                await asyncio.gather(*(ask(user) for user in users))
                burst = time.perf_counter() - burst_started
                await asyncio.sleep(1.5 * heartbeat)
                beats = emulator.heartbeats[first:]
                gap = max(b - a for a, b in itertools.pairwise(beats))
                problems = len(emulator.rejected) + len(emulator.pings)
            finally:
                if process.returncode is None:
                    process.terminate()
                await asyncio.wait_for(process.wait(), 30)
        return [
            ("Discord: question → reply, 20 users at once, p50", f"{statistics.median(latencies):.0f} ms"),
            ("Discord: question → reply, 20 users at once, p95", f"{percentile(latencies, 0.95):.0f} ms"),
            (
                "Discord: largest heartbeat gap, burst of 50 questions",
                f"{gap:.2f} s = {gap / heartbeat:.2f}× the {heartbeat:.0f} s interval (burst took {burst:.1f} s)",
            ),
            ("Discord: requests rejected or pings during the run", str(problems)),
        ]

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(scenario(Path(tmp)))


if __name__ == "__main__":
    raise SystemExit(main())
