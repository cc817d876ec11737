"""Two shards of one bot (SHARD_COUNT=2, SHARD_IDS=0 and 1) against the emulator over real sockets, sharing one index
directory and one database: each guild is answered by the shard Discord routes it to, and a /reindex on one shard
reaches the other. Once as two discord.py AutoShardedClients in this process (each with its own answering service,
so the test can see which answered), once as two `python -m bot run` processes."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from pathlib import Path

from bot.config import Settings
from bot.discord_app.client import ShardedOnboardingBot, make_bot
from bot.embedding import Embedder, TextEncoder
from bot.index import build_index
from bot.service import AnswerService
from bot.store import Store
from tests.conftest import PROJECT_ROOT
from tests.discord_helpers import assert_clean, edited_to, embed_text, mention, reply_to, run
from tests.emulator import DiscordEmulator, running_client
from tests.test_sharing import NEW_DOC, NEW_QUESTION


def test_each_shard_answers_its_guilds_and_a_reindex_reaches_the_other(tmp_path: Path, embedder: Embedder):
    corpus, index_dir, database = tmp_path / "corpus", tmp_path / "index", tmp_path / "bot.sqlite3"
    corpus.mkdir()
    (corpus / "welcome.md").write_text(
        "---\ntitle: Welcome guide\n---\n\n## Reviews\n\nEvery change needs one review from an owner.\n",
        encoding="utf-8",
    )
    services = [AnswerService(corpus, index_dir, embedder) for _ in range(2)]
    for service in services:
        service.load(notify=lambda message: None)

    def model_calls() -> list[int]:
        """Questions each shard's service has embedded: tells which process answered."""
        return [service._queries.calls for service in services]

    guilds: dict[str, int] = {}

    async def scenario() -> None:
        emulator = DiscordEmulator()
        even, odd = emulator.add_guild("even", shard=(0, 2)), emulator.add_guild("odd", shard=(1, 2))
        guilds.update(even=even, odd=odd)
        await emulator.start()
        bots = []
        for shard, service in enumerate(services):
            settings = dataclasses.replace(
                Settings.from_env({"SHARD_COUNT": "2", "SHARD_IDS": str(shard), "INDEX_CHECK_SECONDS": "0.2"}),
                database=database,
                moderator_guild_ids=frozenset({even, odd}),
            )
            bots.append(make_bot(settings, service, Store(database), guild_ready_timeout=0.05))
        zero, one = bots
        try:
            async with running_client(emulator, zero), running_client(emulator, one):
                assert isinstance(zero, ShardedOnboardingBot) and (zero.shard_ids, one.shard_ids) == ([0], [1])
                assert even in {g.id for g in zero.guilds} and odd not in {g.id for g in zero.guilds}
                assert odd in {g.id for g in one.guilds} and even not in {g.id for g in one.guilds}
                walt, xena = emulator.add_user("walt", guild=even), emulator.add_user("xena", guild=odd)

                for channel, user, shard in (("even", walt, 0), ("odd", xena, 1)):
                    before = model_calls()
                    asked = await emulator.post_message(channel, user, mention(emulator, "how many reviews?"))
                    reply = await reply_to(emulator, asked)
                    assert reply["channel_id"] == str(emulator.channels[channel])
                    assert "Every change needs one review from an owner." in embed_text(reply)
                    after = model_calls()
                    assert after[shard] == before[shard] + 1 and after[1 - shard] == before[1 - shard]

                asked = await emulator.post_message("odd", xena, mention(emulator, NEW_QUESTION))
                declined = embed_text(await reply_to(emulator, asked))
                assert "every third Wednesday" not in declined, "not in the corpus yet"

                (corpus / "office-hours.md").write_text(NEW_DOC, encoding="utf-8")
                before = model_calls()
                reindex = await emulator.invoke("reindex", emulator.owner, channel="even")
                await reindex.wait_response()
                assert "Reindexed in" in await edited_to(reindex, "Reindexed in")
                new_build = services[0].snapshot.index.path
                assert new_build.name in (index_dir / "CURRENT").read_text()

                # shard 1 notices CURRENT moved and swaps the new build in on its own, within a bounded time
                async with asyncio.timeout(30):
                    while services[1].snapshot.index.path != new_build:
                        await asyncio.sleep(0.05)
                asked = await emulator.post_message("odd", xena, mention(emulator, NEW_QUESTION))
                reply = await reply_to(emulator, asked)
                assert "office hours every third Wednesday" in embed_text(reply)
                assert model_calls()[1] > before[1], "shard 1 answered it"
                assert_clean(emulator)
        finally:
            await emulator.close()

    run(scenario)
    store = Store(database)  # both processes recorded their questions in the one database
    assert [store.stats(guild_id=guilds[name]).asked for name in ("even", "odd")] == [1, 3]


def test_two_bot_processes_share_one_index(tmp_path: Path, fast_encoder: TextEncoder):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "welcome.md").write_text(
        "---\ntitle: Welcome guide\n---\n\n## Reviews\n\nEvery change needs one review from an owner.\n",
        encoding="utf-8",
    )
    build_index(corpus, index_dir, fast_encoder)  # built once, before either process starts

    async def scenario() -> None:
        async with DiscordEmulator() as emulator:
            even, odd = emulator.add_guild("even", shard=(0, 2)), emulator.add_guild("odd", shard=(1, 2))
            env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "AUTO_", "MODERATOR_"))}
            env.update(
                emulator.bot_env(),
                CORPUS_DIR=str(corpus),
                INDEX_DIR=str(index_dir),
                DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
                ARCHIVE_DIR=str(tmp_path / "archive"),
                SHARD_COUNT="2",
                MODERATOR_GUILD_IDS=f"{even},{odd}",
                INDEX_CHECK_SECONDS="0.2",
                COOLDOWN_SECONDS="0",
                LOG_LEVEL="INFO",
            )
            processes = [
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "run",
                    env=env | {"SHARD_IDS": str(shard)},
                    cwd=PROJECT_ROOT,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                )
                for shard in (0, 1)
            ]
            logs: list[list[str]] = [[], []]

            async def drain(process: asyncio.subprocess.Process, lines: list[str]) -> None:
                """Read a process's log as it is written (a pipe nobody reads would fill and stall it)."""
                assert process.stderr is not None
                async for line in process.stderr:
                    lines.append(line.decode(errors="replace"))

            drains = [asyncio.ensure_future(drain(p, lines)) for p, lines in zip(processes, logs, strict=True)]

            def both_logs() -> str:
                return "\n".join(f"--- shard {n}'s process:\n{''.join(lines)}" for n, lines in enumerate(logs))

            try:
                deadline = asyncio.get_running_loop().time() + 90
                while sorted(emulator.shards_identified) != [(0, 2), (1, 2)]:
                    assert all(p.returncode is None for p in processes), f"a bot process stopped:\n{both_logs()}"
                    assert asyncio.get_running_loop().time() < deadline, f"no connection in 90 s:\n{both_logs()}"
                    await asyncio.sleep(0.05)
                walt, xena = emulator.add_user("walt", guild=even), emulator.add_user("xena", guild=odd)
                for channel, user in (("even", walt), ("odd", xena)):
                    asked = await emulator.post_message(channel, user, mention(emulator, "how many reviews?"))
                    reply = await reply_to(emulator, asked, timeout=60)
                    assert "Every change needs one review from an owner." in embed_text(reply)

                (corpus / "office-hours.md").write_text(NEW_DOC, encoding="utf-8")
                reindex = await emulator.invoke("reindex", emulator.owner, channel="even")  # shard 0's process
                await reindex.wait_response()
                assert "Reindexed in" in await edited_to(reindex, "Reindexed in", timeout=60)
                new_build = (index_dir / "CURRENT").read_text().strip()

                # ask on shard 1 until its process has swapped the new build in (bounded: it checks every 0.2 s)
                async with asyncio.timeout(60):
                    while True:
                        asked = await emulator.post_message("odd", xena, mention(emulator, NEW_QUESTION))
                        if "office hours every third Wednesday" in embed_text(await reply_to(emulator, asked)):
                            break
                        await asyncio.sleep(0.2)
            finally:
                for process in processes:
                    if process.returncode is None:
                        process.terminate()
                for process in processes:
                    await asyncio.wait_for(process.wait(), 30)
                await asyncio.wait_for(asyncio.gather(*drains), 30)
            for process, lines in zip(processes, logs, strict=True):
                assert process.returncode == 0, "".join(lines)
                assert "Traceback" not in "".join(lines)
            assert f"index {new_build} in service" in "".join(logs[1]), (
                "shard 1's process swapped in the build shard 0 made"
            )
            assert_clean(emulator)

    run(scenario)
