"""Two shards of one bot, each its own discord.py AutoShardedClient (SHARD_COUNT=2, SHARD_IDS=0 and 1) with its own
answering service, over real sockets against the emulator, sharing one index directory and one database: each guild
is answered by the shard Discord routes it to, and a /reindex on one shard reaches the other."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from bot.config import Settings
from bot.discord_app.client import ShardedOnboardingBot, make_bot
from bot.embedding import Embedder
from bot.service import AnswerService
from bot.store import Store
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
