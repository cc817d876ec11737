"""The Discord scenario: `python -m bot run` in its own process, as in production, against the loopback emulator from
tests/ running in this one. The only module of the bench that imports the emulator (and the bot never does)."""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.config import PROJECT_ROOT
from tools.bench.measure import bot_cli, percentile

USERS_AT_ONCE = 20
ROUNDS = 10


def discord_figures(corpus: Path, index_dir: Path, questions: list[str]) -> dict[str, float]:
    """Start the bot, connected to the emulator, and ask. Latency is measured where a user would see it: from posting
    the question to the reply arriving. Each user asks in their own DM: Discord allows a bot 5 messages per 5 s in one
    channel, so 20 replies in one channel would measure Discord's rate limit, not the bot."""
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_scenario(corpus, index_dir, questions, Path(tmp)))


async def _scenario(corpus: Path, index_dir: Path, questions: list[str], tmp: Path) -> dict[str, float]:
    from tests.emulator import DiscordEmulator

    heartbeat = 1.0  # seconds; short, so that a stall would show (Discord's own is about 41 s)
    async with DiscordEmulator(heartbeat_interval=heartbeat) as emulator:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "AUTO_ANSWER", "COOLDOWN"))}
        env.update(emulator.bot_env())
        env.update(
            DISCORD_GUILD_ID=str(emulator.guild_id),
            DATABASE_PATH=str(tmp / "bot.sqlite3"),
            CORPUS_DIR=str(corpus),
            INDEX_DIR=str(index_dir),
            COOLDOWN_SECONDS="0",
        )
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *bot_cli("run"),
            env=env,
            cwd=PROJECT_ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            users = [emulator.add_user(f"user{i}") for i in range(50)]
            asked = itertools.cycle(questions)

            async def ask(user: dict[str, Any]) -> float:
                t0 = time.perf_counter()
                message = await emulator.send_dm(user, next(asked))
                await emulator.wait_for_message(lambda m: m["channel_id"] == message["channel_id"], timeout=60)
                return (time.perf_counter() - t0) * 1000

            await emulator.wait_until_ready(timeout=300)
            ready = time.perf_counter() - started
            await ask(users[0])
            first_answer = time.perf_counter() - started
            await asyncio.gather(*(ask(user) for user in users[:USERS_AT_ONCE]))  # warm-up round
            measured: list[float] = []
            for _ in range(ROUNDS):
                measured += await asyncio.gather(*(ask(user) for user in users[:USERS_AT_ONCE]))
            status = Path(f"/proc/{process.pid}/status").read_text()
            rss = {
                line.split(":")[0]: int(line.split()[1]) / 1024
                for line in status.splitlines()
                if line.startswith(("Vm", "Rss"))
            }

            await asyncio.sleep(2 * heartbeat)
            first = len(emulator.heartbeats) - 1
            await asyncio.gather(*(ask(user) for user in users))
            settled = len(emulator.heartbeats) + 2
            while len(emulator.heartbeats) < settled:
                await asyncio.sleep(heartbeat / 5)
            gap = max(b - a for a, b in itertools.pairwise(emulator.heartbeats[first:]))
            problems = len(emulator.rejected) + len(emulator.pings)
        finally:
            if process.returncode is None:
                process.terminate()
            await asyncio.wait_for(process.wait(), 30)
    return {
        "ready_s": ready,
        "first_answer_s": first_answer,
        "p50_ms": statistics.median(measured),
        "p95_ms": percentile(measured, 0.95),
        "rss_mb": rss["VmRSS"],
        "peak_mb": rss["VmHWM"],
        "file_mb": rss.get("RssFile", 0.0),
        "gap_x": gap / heartbeat,
        "problems": problems,
    }
