"""The Discord bot for moderators and maintainers, end to end: /stats and /reindex (refused to members, swapped in
while questions are answered, failing safely), slash commands synced only when they change, `python -m bot run` and
`sync` as their own processes, and the invite link.

Each test starts a fresh emulator and bot; tests that only read share the answering service (model and index), and
tests that reindex get their own writable corpus (`own_service`).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT
from bot.embedding import Embedder
from bot.service import AnswerService
from tests.conftest import CORPUS
from tests.discord_helpers import EPHEMERAL, assert_clean, edited_to, embed_text, mention, reply_to, run, session
from tests.emulator import DiscordEmulator

# --- moderators ------------------------------------------------------------------------------------------------------


def test_stats_are_for_moderators_and_show_the_gaps(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            member = emulator.add_user("judy")
            moderator = emulator.add_user("mod", roles=["Moderators"])
            for text in ("How do I get my CLA signed?", "how do I get my CLA signed", "How do I start contributing?"):
                await reply_to(emulator, await emulator.post_message("general", member, mention(emulator, text)))
            await emulator.send_dm(member, "How do I get my CLA signed?")  # a DM is never in a server's /stats
            await emulator.wait_for_message()

            refused = await emulator.invoke("stats", member, granted=True)
            response = await refused.wait_response()
            assert "Only moderators" in response["data"]["content"] and response["data"]["flags"] & EPHEMERAL

            for user, granted in ((moderator, True), (emulator.owner, False)):  # a moderator role, or Manage Server
                allowed = await emulator.invoke("stats", user, granted=granted)
                assert (await allowed.wait_response())["data"]["flags"] & EPHEMERAL
                embed = (await allowed.wait_followup())["embeds"][0]
                assert "Asked: **3** · answered: **1** · declined: **2**" in embed["description"]
                assert embed["fields"][0]["value"].startswith("2× how do I get my CLA signed")
            assert_clean(emulator)

    run(scenario)


@pytest.fixture
def own_service(tmp_path: Path, embedder: Embedder) -> AnswerService:
    """A service over a writable two-document corpus, for tests that reindex."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "welcome.md").write_text(
        "---\ntitle: Welcome guide\n---\n\n## Meetings\n\nThe community meets every Thursday at 17:00 UTC. "
        "Everyone is welcome to join.\n\n## Reviews\n\nEvery change needs one review from an owner.\n",
        encoding="utf-8",
    )
    (corpus / "faq.txt").write_text("FAQ\n\nThe mailing list is the best place to ask long questions.\n")
    svc = AnswerService(corpus, tmp_path / "index", embedder)
    svc.load(notify=lambda message: None)
    return svc


def test_reindex_is_refused_to_members_and_changes_nothing(own_service: AnswerService, tmp_path: Path):
    before = own_service.snapshot
    builds = sorted(p.name for p in own_service.index_dir.iterdir())
    (own_service.corpus_dir / "new.md").write_text("# New\n\nA document nobody indexed yet.\n", encoding="utf-8")

    async def scenario() -> None:
        async with session(own_service, tmp_path / "bot.sqlite3") as (emulator, _):
            with pytest.raises(PermissionError):  # Discord hides it from members...
                await emulator.invoke("reindex", emulator.add_user("mallory"))
            # ...unless an admin granted it to everyone; the bot still refuses
            interaction = await emulator.invoke("reindex", emulator.add_user("mallory"), granted=True)
            response = await interaction.wait_response()
            assert "Only moderators can reindex" in response["data"]["content"]
            assert response["data"]["flags"] & EPHEMERAL
            await asyncio.sleep(0.2)
            assert emulator.edits == []
            assert_clean(emulator)

    run(scenario)
    assert own_service.snapshot is before
    assert sorted(p.name for p in own_service.index_dir.iterdir()) == builds


def test_reindex_by_a_moderator_swaps_the_index_while_questions_are_answered(
    own_service: AnswerService, tmp_path: Path
):
    corpus = own_service.corpus_dir
    (corpus / "faq.txt").unlink()
    (corpus / "mentoring.md").write_text(
        "# Mentoring\n\nNew contributors can ask for a mentor in the #mentoring channel. "
        "A mentor pairs with you on your first pull request.\n",
        encoding="utf-8",
    )
    old_index = own_service.snapshot.index.path
    gate_open = asyncio.Event()

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        release = __import__("threading").Event()
        real_reindex = own_service.reindex

        def slow_reindex(progress: Callable[[int, int], None] | None = None):
            def held(done: int, total: int) -> None:
                if progress:
                    progress(done, total)
                loop.call_soon_threadsafe(gate_open.set)
                release.wait(20)

            return real_reindex(progress=held)

        own_service.reindex = slow_reindex  # type: ignore[method-assign]
        try:
            async with session(own_service, tmp_path / "bot.sqlite3") as (emulator, _):
                moderator = emulator.add_user("mod", roles=["Moderators"])
                reindex = await emulator.invoke("reindex", moderator, granted=True)
                assert (await reindex.wait_response())["type"] == 4
                await asyncio.wait_for(gate_open.wait(), 30)

                # mid-build: the old index answers, a second /reindex is told one is running
                user = emulator.add_user("nina")
                asked = await emulator.post_message(
                    "general", user, mention(emulator, "How many reviews does a change need?")
                )
                during = await reply_to(emulator, asked)
                assert "Every change needs one review from an owner." in embed_text(during)
                assert own_service.snapshot.index.path == old_index
                second = await emulator.invoke("reindex", emulator.owner)
                assert "already running" in (await second.wait_response())["data"]["content"]

                await asyncio.sleep(1.2)  # let the progress edit land
                release.set()
                content = await edited_to(reindex, "Reindexed in")
                assert "2 documents" in content and "Added: `mentoring.md`" in content
                assert "Removed: `faq.txt`" in content and "Passages: 1 added, 1 removed, 2 unchanged." in content
                assert "Embedded only what changed: 1 document(s); reused 1 unchanged." in content
                progress = [e for e in emulator.edits if "Reindexing… `" in (e.get("content") or "")]
                assert progress, "progress was shown by editing the message"

                asked = await emulator.post_message("general", user, mention(emulator, "How do I find a mentor?"))
                after = await reply_to(emulator, asked)
                assert "ask for a mentor in the #mentoring channel" in embed_text(after)
                assert_clean(emulator)
        finally:
            release.set()
            own_service.reindex = real_reindex  # type: ignore[method-assign]

    run(scenario)
    assert own_service.snapshot.index.path != old_index


def test_a_failed_reindex_names_the_cause_and_keeps_the_old_index(own_service: AnswerService, tmp_path: Path):
    before = own_service.snapshot
    for path in own_service.corpus_dir.iterdir():
        path.unlink()

    async def scenario() -> None:
        async with session(own_service, tmp_path / "bot.sqlite3") as (emulator, _):
            interaction = await emulator.invoke("reindex", emulator.owner)
            assert (await interaction.wait_response())["data"]["flags"] & EPHEMERAL  # only the moderator sees it
            content = await edited_to(interaction, "Reindex failed")
            assert "Nothing to index" in content
            assert "The previous index is still answering questions." in content
            assert str(tmp_path) not in content and "/" not in content  # where the bot's files live stays private
            asked = await emulator.send_dm(emulator.owner, "how many reviews does a change need?")
            assert "one review from an owner" in embed_text(await reply_to(emulator, asked))
            assert_clean(emulator)

    run(scenario)
    assert own_service.snapshot is before


def test_a_file_name_with_everyone_in_the_reindex_report_pings_nobody(own_service: AnswerService, tmp_path: Path):
    (own_service.corpus_dir / "@everyone-read-this.md").write_text("# Note\n\nRead the guide first.\n")

    async def scenario() -> None:
        async with session(own_service, tmp_path / "bot.sqlite3") as (emulator, _):
            interaction = await emulator.invoke("reindex", emulator.owner)
            await interaction.wait_response()
            content = await edited_to(interaction, "Reindexed in")
            assert "@everyone-read-this.md" in content
            assert emulator.pings == [] and emulator.rejected == []

    run(scenario)


# --- slash commands --------------------------------------------------------------------------------------------------


def test_commands_sync_only_when_their_definitions_change(service: AnswerService, tmp_path: Path):
    database = tmp_path / "bot.sqlite3"

    async def scenario() -> None:
        async with DiscordEmulator() as emulator:
            async with session(service, database, emulator=emulator) as (_, client):
                assert emulator.command_puts == 1
                names = sorted(c["name"] for c in emulator.commands[emulator.guild_id])
                assert names == ["Fix this answer", "ask", "corpus", "quote", "reindex", "sources", "stats", "teach"]
                assert await client.sync_commands(force=True) is True
                assert emulator.command_puts == 2
            async with session(service, database, emulator=emulator):  # restart, same definitions
                assert emulator.command_puts == 2
            async with session(service, database, emulator=emulator, cooldown_seconds=5) as (_, client):
                assert emulator.command_puts == 2, "settings are not command definitions"
                client.tree.get_command("quote", guild=None).description = "A changed description"
                assert await client.sync_commands() is True
                assert emulator.command_puts == 3
            assert emulator.rejected == []

    run(scenario)


def test_moving_from_one_server_to_global_commands_removes_the_server_copies(service: AnswerService, tmp_path: Path):
    database = tmp_path / "bot.sqlite3"

    async def scenario() -> None:
        async with DiscordEmulator() as emulator:
            async with session(service, database, emulator=emulator):
                assert len(emulator.commands[emulator.guild_id]) == 8
            async with session(service, database, emulator=emulator, guild_id=None):
                assert emulator.commands[emulator.guild_id] == []
                assert len(emulator.commands["global"]) == 8
            async with session(service, database, emulator=emulator):
                assert emulator.commands["global"] == []
                assert len(emulator.commands[emulator.guild_id]) == 8
            assert emulator.rejected == []

    run(scenario)


# --- the maintainer's path: `python -m bot run` with a token -------------------------------------------------------


def test_run_with_a_token_serves_discord_until_sigterm(corpus_index_dir: Path, tmp_path: Path):
    async def scenario() -> None:
        async with DiscordEmulator() as emulator:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "AUTO_", "MODERATOR_"))}
            env.update(emulator.bot_env())
            env.update(
                DISCORD_GUILD_ID=str(emulator.guild_id),
                DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
                CORPUS_DIR=str(CORPUS),
                INDEX_DIR=str(corpus_index_dir),
                LOG_LEVEL="INFO",
            )
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=env,
                cwd=PROJECT_ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                await emulator.wait_until_ready(timeout=60)
                asked = await emulator.send_dm(emulator.add_user("zoe"), "how did jaice hear about kubernetes?")
                reply = await reply_to(emulator, asked)
                assert "Jaice Singer DuMars" in embed_text(reply)
                async with asyncio.timeout(30):
                    while not emulator.commands.get(emulator.guild_id):
                        await asyncio.sleep(0.05)
            finally:
                if process.returncode is None:
                    process.terminate()
                _, stderr = await asyncio.wait_for(process.communicate(), 30)
            log = stderr.decode()
            assert process.returncode == 0, log
            assert "Traceback" not in log
            assert "synced 8 slash commands" in log
            assert_clean(emulator)

    run(scenario)


def test_sync_command_registers_the_commands(tmp_path: Path):
    async def scenario() -> None:
        async with DiscordEmulator() as emulator:
            env = {k: v for k, v in os.environ.items() if not k.startswith("DISCORD_")}
            env.update(emulator.bot_env())
            env.update(
                DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
            )
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "sync", env=env, cwd=PROJECT_ROOT, stderr=asyncio.subprocess.PIPE
            )
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, stderr.decode()
            assert sorted(c["name"] for c in emulator.commands["global"]) == [
                "Fix this answer",
                "ask",
                "corpus",
                "quote",
                "reindex",
                "sources",
                "stats",
                "teach",
            ]
            assert emulator.identifies == 0, "sync does not connect to the gateway"

    run(scenario)


def test_invite_url_grants_what_the_readme_lists():
    import discord

    from bot.discord_app.client import INVITE_PERMISSIONS, invite_url

    granted = discord.Permissions(INVITE_PERMISSIONS)
    assert {name for name, value in granted if value} == {
        "read_messages",  # discord.py's name for View Channels
        "send_messages",
        "send_messages_in_threads",
        "embed_links",
        "read_message_history",
    }
    assert invite_url(42) == (
        "https://discord.com/oauth2/authorize?client_id=42&scope=bot+applications.commands&permissions=274877991936"
    )
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "scope=bot+applications.commands&permissions=274877991936" in readme
