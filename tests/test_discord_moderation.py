"""Moderation only at home: with the commands registered globally (the set-up for a bot in several servers) an admin
of another server that added the bot is no moderator of ours; without a home server moderation from Discord is off;
ALLOWED_GUILD_IDS makes the bot leave other servers; /stats shows only the server it is asked in.

The real discord.py client against the loopback emulator; the emulator's owner has every permission in every server,
as the admin of a server they created would."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.discord_app import render
from bot.discord_app.common import MODERATION_OFF, NOT_HOME
from bot.embedding import Embedder
from bot.lessons import LessonBook
from bot.service import AnswerService
from bot.store import Store
from tests.discord_helpers import EPHEMERAL, assert_clean, embed_text, mention, reply_to, run, session
from tests.emulator import UserFile


@pytest.fixture
def own_service(tmp_path: Path, embedder: Embedder) -> AnswerService:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "welcome.md").write_text(
        "---\ntitle: Welcome guide\n---\n\n## Meetings\n\nThe community meets every Thursday at 17:00 UTC. "
        "Everyone is welcome to join.\n\n## Reviews\n\nEvery change needs one review from an owner.\n",
        encoding="utf-8",
    )
    svc = AnswerService(corpus, tmp_path / "index", embedder)
    svc.load(notify=lambda message: None)
    return svc


async def _refusal(interaction) -> str:
    response = await interaction.wait_response()
    data = response.get("data") or {}
    if response["type"] == 4:
        assert data["flags"] & EPHEMERAL, "a refusal is private"
        return render.unescape(data["content"])
    followup = await interaction.wait_followup()
    assert followup["flags"] & EPHEMERAL
    return render.unescape(followup["content"])


def test_an_admin_of_another_server_is_not_a_moderator(own_service: AnswerService, tmp_path: Path):
    corpus = own_service.corpus_dir
    before_files = {p.name: p.read_bytes() for p in corpus.iterdir()}
    before_snapshot = own_service.snapshot
    database = tmp_path / "bot.sqlite3"

    async def scenario() -> None:
        # global commands (no DISCORD_GUILD_ID), the community's server named as the moderators' home
        async with session(own_service, database, guild_id=None) as (emulator, client):
            client.settings = __import__("dataclasses").replace(
                client.settings, moderator_guild_ids=frozenset({emulator.guild_id})
            )
            elsewhere = emulator.add_guild("elsewhere")
            admin = emulator.owner  # Manage Server (every permission) in both servers
            asked = await emulator.post_message("elsewhere", admin, mention(emulator, "When does the community meet?"))
            answer = await reply_to(emulator, asked)
            assert "Thursday" in embed_text(answer)

            planted = UserFile("planted.md", b"---\nauthority: 2\nurl: https://evil.example\n---\n\nLog in here.\n")
            attempts = [
                ("stats", {}, None),
                ("reindex", {}, None),
                ("corpus", {"file": planted}, "add"),
                ("corpus", {"name": "welcome.md"}, "remove"),
                ("corpus", {"version": 1}, "restore"),
                ("corpus", {}, "history"),
                ("teach", {"question": "when do we meet?", "phrase": "every Thursday"}, "add"),
                ("teach", {"question": "when do we meet?"}, "none"),
                ("teach", {"id": 1}, "remove"),
                ("teach", {}, "list"),
                ("teach", {}, "history"),
            ]
            for name, options, sub in attempts:
                interaction = await emulator.invoke(name, admin, channel="elsewhere", options=options, subcommand=sub)
                assert await _refusal(interaction) == NOT_HOME, (name, sub)
            fix = await emulator.invoke("Fix this answer", admin, channel="elsewhere", target=answer)
            assert await _refusal(fix) == NOT_HOME

            # autocomplete says so too, and lists no removed names or archived versions
            typed = await emulator.autocomplete(
                "corpus", admin, channel="elsewhere", subcommand="restore", focused="version", options={"version": ""}
            )
            choices = await typed.wait_choices()
            assert [c["name"] for c in choices] == [NOT_HOME]

            # at home the same person is a moderator
            home = await emulator.invoke("stats", admin)
            await home.wait_response()
            stats = await home.wait_followup()
            assert "Asked:" in stats["embeds"][0]["description"]
            assert elsewhere in emulator.guild_ids
            assert_clean(emulator)

    run(scenario)
    assert {p.name: p.read_bytes() for p in corpus.iterdir()} == before_files
    assert own_service.snapshot is before_snapshot
    assert LessonBook(database).lessons() == []


def test_without_a_home_server_moderation_from_discord_is_off(
    service: AnswerService, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    async def scenario() -> None:
        with caplog.at_level(logging.WARNING, logger="bot.discord_app.client"):
            async with session(service, tmp_path / "bot.sqlite3", guild_id=None) as (emulator, _):
                moderator = emulator.add_user("mod", roles=["Moderators"])
                for user in (emulator.owner, moderator):
                    interaction = await emulator.invoke("stats", user, granted=True)
                    assert await _refusal(interaction) == MODERATION_OFF
                sources = await emulator.invoke("sources", moderator)
                shown = (await sources.wait_response())["data"]["embeds"][0]["footer"]["text"]
                assert "MODERATOR_GUILD_IDS" in shown
                assert_clean(emulator)

    run(scenario)
    assert any("moderation from Discord is off" in r.getMessage() for r in caplog.records)


def test_allowed_guild_ids_makes_the_bot_leave_other_servers(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, client):
            allowed = emulator.add_guild("partner")
            client.settings = __import__("dataclasses").replace(
                client.settings, allowed_guild_ids=frozenset({emulator.guild_id, allowed})
            )
            stranger = emulator.add_guild("stranger")
            for _ in range(100):
                if stranger in emulator.left_guild_ids:
                    break
                await asyncio.sleep(0.05)
            assert emulator.left_guild_ids == [stranger]
            assert allowed in emulator.guild_ids and emulator.guild_id in emulator.guild_ids
            assert {g.id for g in client.guilds} == {emulator.guild_id, allowed}

    run(scenario)


def test_a_server_that_added_the_bot_while_it_was_offline_is_left_at_start(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        from tests.emulator import DiscordEmulator

        async with DiscordEmulator() as emulator:
            stranger = emulator.add_guild("stranger")
            async with session(
                service,
                tmp_path / "bot.sqlite3",
                emulator=emulator,
                allowed_guild_ids=frozenset({emulator.guild_id}),
            ) as (_, client):
                for _ in range(100):
                    if emulator.left_guild_ids:
                        break
                    await asyncio.sleep(0.05)
                assert emulator.left_guild_ids == [stranger]
                assert [g.id for g in client.guilds] == [emulator.guild_id]

    run(scenario)


def test_stats_show_only_the_server_they_are_asked_in(service: AnswerService, tmp_path: Path):
    """A process serving some shards sees one server, but the database holds every shard's questions, and DMs."""
    database = tmp_path / "bot.sqlite3"
    other_shard = Store(database)
    secret = "What is the secret launch date of project zebra?"
    other_shard.record_question(
        secret, answered=False, confidence=0.1, top_source=None, via="mention", guild_id=42, channel_id=43, user_id=44
    )

    async def scenario() -> None:
        async with session(service, database) as (emulator, _):
            member = emulator.add_user("judy")
            asked = await emulator.post_message("general", member, mention(emulator, "How do I start?"))
            await reply_to(emulator, asked)
            await emulator.send_dm(member, "What is the password of the admin account?")
            await emulator.wait_for_message()

            here = await emulator.invoke("stats", emulator.owner)
            await here.wait_response()
            embed = (await here.wait_followup())["embeds"][0]
            assert "Asked: **1**" in embed["description"]
            assert "zebra" not in str(embed) and "password" not in str(embed)
            assert_clean(emulator)

    run(scenario)


def test_every_moderator_command_carries_the_one_moderator_check(service: AnswerService, tmp_path: Path):
    """The commands that change or reveal moderators' business each carry `moderator_only` (common.py), which the
    tree's error handler answers; none checks by hand. Every other command is one anyone may use."""
    import dataclasses

    import discord

    from bot.config import Settings
    from bot.discord_app.client import OnboardingBot
    from bot.discord_app.common import moderator_action

    async def scenario() -> None:
        settings = dataclasses.replace(Settings.from_env({}), database=tmp_path / "bot.sqlite3")
        client = OnboardingBot(settings, service, Store(settings.database))
        client.serving = False  # its cogs and commands only, as `python -m bot sync` has them
        await client.setup_hook()
        assert client.commands == set() and client.help_command is None  # no prefix commands read any message
        commands = [c for c in client.tree.walk_commands() if isinstance(c, discord.app_commands.Command)]
        commands += client.tree.get_commands(type=discord.AppCommandType.message)
        actions = {getattr(c, "qualified_name", c.name): moderator_action(c) for c in commands}
        assert actions == {
            "ask": None,
            "quote": None,
            "sources": None,
            "reindex": "reindex",
            "stats": "see the statistics",
            "corpus add": "change the documents",
            "corpus remove": "change the documents",
            "corpus restore": "change the documents",
            "corpus list": None,
            "corpus show": None,
            "corpus history": "see the history of changes",
            "teach add": "teach me",
            "teach none": "teach me",
            "teach remove": "teach me",
            "teach list": "see the lessons",
            "teach history": "see the lessons",
            "Fix this answer": "teach me",
        }
        await client.close()

    run(scenario)
