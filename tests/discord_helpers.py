"""Helpers the Discord end-to-end tests share: a bot session against the loopback emulator, and readers of what the
bot sent (embed text, buttons, replies, edits). The shared answering service is the `service` fixture (conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from bot.config import Settings
from bot.discord_app.client import OnboardingBot
from bot.service import AnswerService
from bot.store import Store
from tests.emulator import DiscordEmulator, Interaction, running_client

EPHEMERAL = 1 << 6


@contextlib.asynccontextmanager
async def session(
    service: AnswerService,
    database: Path,
    *,
    heartbeat_interval: float = 41.25,
    emulator: DiscordEmulator | None = None,
    auto_answer: tuple[str, ...] = (),
    message_rate: tuple[int, float] | None = None,
    **settings: object,
) -> AsyncIterator[tuple[DiscordEmulator, OnboardingBot]]:
    """A bot connected to an emulator (a fresh one unless given; a given one outlives the bot, as Discord would)."""
    own = emulator is None
    emulator = emulator or DiscordEmulator(heartbeat_interval=heartbeat_interval, message_rate=message_rate)
    if own:
        await emulator.start()
    try:
        config = dataclasses.replace(
            Settings.from_env({}),
            database=database,
            **{"guild_id": emulator.guild_id, **settings},
            moderator_role_ids=frozenset({emulator.roles["Moderators"]}),
            auto_answer_channel_ids=frozenset(emulator.channels[name] for name in auto_answer),
        )
        client = OnboardingBot(config, service, Store(database), guild_ready_timeout=0.05)
        async with running_client(emulator, client):
            yield emulator, client
    finally:
        if own:
            await emulator.close()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=120))


def mention(emulator: DiscordEmulator, text: str) -> str:
    return f"<@{emulator.bot_id}> {text}"


def embed_text(message: dict) -> str:
    parts = []
    for embed in message.get("embeds", []):
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [f"{f['name']}\n{f['value']}" for f in embed.get("fields", [])]
        parts.append(embed.get("footer", {}).get("text", ""))
    return "\n".join(parts)


def buttons(message: dict) -> dict[str, str]:
    return {c["label"]: c["custom_id"] for row in message.get("components", []) for c in row.get("components", [])}


async def reply_to(emulator: DiscordEmulator, asked: dict, timeout: float = 10) -> dict:
    """The bot's reply to one message (in a DM or as a reply in a channel)."""

    def is_reply(m: dict) -> bool:
        reference = m.get("message_reference") or {}
        return reference.get("message_id") == str(asked["id"]) or (
            m["channel_id"] == asked["channel_id"] and bool(m.get("embeds")) and asked.get("guild_id") is None
        )

    return await emulator.wait_for_message(is_reply, timeout=timeout)


async def edited_to(interaction: Interaction, text: str, timeout: float = 30) -> str:
    """The interaction's message content, once an edit has put `text` in it."""
    async with asyncio.timeout(timeout):
        while text not in ((interaction.original or {}).get("content") or ""):
            await asyncio.sleep(0.05)
    return interaction.original["content"]


def assert_clean(emulator: DiscordEmulator) -> None:
    """Discord accepted everything the bot sent, and nobody was pinged."""
    assert emulator.rejected == []
    assert emulator.pings == []
