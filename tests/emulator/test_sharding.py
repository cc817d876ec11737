"""The emulator's sharding, as Discord documents it, driving discord.py's real sharded client: GET /gateway/bot
recommends a shard count, IDENTIFY carries ``shard: [shard_id, num_shards]``, a guild's events go only to shard
``(guild_id >> 22) % num_shards``, DMs only to shard 0, and an impossible shard is refused with close code 4010."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aiohttp
import discord
from discord import app_commands

from tests.emulator import DiscordEmulator, running_client
from tests.emulator.state import shard_of


class ShardedClient(discord.AutoShardedClient):
    """discord.py's sharded client, recording the messages and interactions each of its shards receives."""

    def __init__(self, **options: object) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, guild_ready_timeout=0.05, **options)  # type: ignore[arg-type]
        self.seen: list[tuple[str, int | None]] = []  # (what, guild id)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5 s pause between shards' IDENTIFYs: the emulator allows them at once."""

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append((message.content, message.guild.id if message.guild else None))

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        self.seen.append(("/" + (interaction.data or {}).get("name", ""), interaction.guild_id))


def run(scenario: Callable[[DiscordEmulator], Awaitable[None]]) -> None:
    async def main() -> None:
        emulator = DiscordEmulator(heartbeat_interval=1.0)
        await emulator.start()
        try:
            await asyncio.wait_for(scenario(emulator), 20)
        finally:
            await emulator.close()

    asyncio.run(main())


async def until(check: Callable[[], bool], what: str, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


def test_a_guild_is_placed_on_the_shard_asked_for() -> None:
    emulator = DiscordEmulator()
    for shard in range(3):
        guild = emulator.add_guild(f"guild-{shard}", shard=(shard, 3))
        assert shard_of(guild, 3) == shard == (guild >> 22) % 3
        assert emulator.channels[f"guild-{shard}"] in emulator._channels_by_id
    assert emulator.guild_ids[0] == emulator.guild_id and len(emulator.guild_ids) == 4


def test_gateway_bot_recommends_shards_and_the_client_launches_them() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        emulator.recommended_shards = 2
        headers = {"Authorization": f"Bot {emulator.token}"}
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{emulator.rest_base}/gateway/bot", headers=headers) as response:
                body = await response.json()
            async with http.get(f"{emulator.rest_base}/gateway") as response:
                plain = await response.json()
        assert body["shards"] == 2 and body["url"] == emulator.gateway_url
        assert body["session_start_limit"]["max_concurrency"] == 1
        assert plain == {"url": emulator.gateway_url}, "GET /gateway has no shard count"

        client = ShardedClient()  # no shard_count: discord.py asks GET /gateway/bot
        async with running_client(emulator, client):
            assert sorted(emulator.shards_identified) == [(0, 2), (1, 2)]
            assert client.shard_count == 2
            guild = client.get_guild(emulator.guild_id)
            assert guild is not None and guild.shard_id == shard_of(emulator.guild_id, 2)

    run(scenario)


def test_each_shard_gets_only_its_guilds_and_dms_go_to_shard_zero() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        even = emulator.add_guild("even", shard=(0, 2))
        odd = emulator.add_guild("odd", shard=(1, 2))
        zero, one = ShardedClient(shard_count=2, shard_ids=[0]), ShardedClient(shard_count=2, shard_ids=[1])
        async with running_client(emulator, zero), running_client(emulator, one):
            tree = app_commands.CommandTree(zero)

            @tree.command()
            async def ping(interaction: discord.Interaction) -> None:
                """Answers pong."""

            await tree.sync()
            assert sorted(emulator.shards_identified) == [(0, 2), (1, 2)]
            on = {0: {even}, 1: {odd}}
            on[shard_of(emulator.guild_id, 2)].add(emulator.guild_id)
            assert {g.id for g in zero.guilds} == on[0], "READY and GUILD_CREATE: only shard 0's guilds"
            assert {g.id for g in one.guilds} == on[1]

            walt = emulator.add_user("walt", guild=even)
            xena = emulator.add_user("xena", guild=odd)
            await emulator.post_message("even", walt, "hello from even")
            await emulator.post_message("odd", xena, "hello from odd")
            await emulator.send_dm(xena, "a direct message")
            await emulator.invoke("ping", xena, channel="odd")
            await emulator.invoke("ping", walt, channel="even")
            await until(lambda: len(zero.seen) == 3 and len(one.seen) == 2, "every event")
            assert sorted(zero.seen, key=str) == sorted(
                [("hello from even", even), ("a direct message", None), ("/ping", even)], key=str
            )
            assert sorted(one.seen, key=str) == sorted([("hello from odd", odd), ("/ping", odd)], key=str)

            # a guild the bot joins while connected is announced to its shard only
            late = emulator.add_guild("late", shard=(1, 2))
            await until(lambda: one.get_guild(late) is not None, "the new guild on shard 1")
            assert zero.get_guild(late) is None

    run(scenario)


def test_each_shard_resumes_its_own_session() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        odd = emulator.add_guild("odd", shard=(1, 2))
        client = ShardedClient(shard_count=2)
        async with running_client(emulator, client):
            yuri = emulator.add_user("yuri", guild=odd)
            await emulator.drop_connection(shard=1)
            await emulator.post_message("odd", yuri, "sent while shard 1 was away")
            await emulator.wait_until_resumed()
            await until(lambda: ("sent while shard 1 was away", odd) in client.seen, "the replayed message")
            assert emulator.identifies == 2 and emulator.resumes == 1

    run(scenario)


def test_an_impossible_shard_is_refused_with_4010() -> None:
    async def scenario(emulator: DiscordEmulator) -> None:
        async with aiohttp.ClientSession() as http:
            for shard in ([2, 2], [0, 0], [-1, 2], "0,2"):
                async with http.ws_connect(emulator.gateway_url) as ws:
                    hello = json.loads((await ws.receive()).data)
                    assert hello["op"] == 10
                    identify = {"token": emulator.token, "intents": 1, "properties": {}, "shard": shard}
                    await ws.send_str(json.dumps({"op": 2, "d": identify}))
                    closing = await ws.receive()
                    assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4010, shard
        assert emulator.identifies == 0

    run(scenario)
