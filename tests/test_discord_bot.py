"""The Discord bot end to end: the real discord.py client over real sockets against the loopback emulator.

Each test starts a fresh emulator and bot; the answering service (model and index) is shared where a test only reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT, Settings
from bot.discord_app.client import OnboardingBot
from bot.embedding import Embedder
from bot.service import AnswerService
from bot.store import Store
from tests.conftest import CORPUS
from tests.emulator import DiscordEmulator, Interaction, running_client

EPHEMERAL = 1 << 6


@pytest.fixture(scope="module")
def service(corpus_index_dir: Path, embedder: Embedder) -> AnswerService:
    svc = AnswerService(CORPUS, corpus_index_dir, embedder)
    svc.load(notify=lambda message: None)
    return svc


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


async def reply_to(emulator: DiscordEmulator, asked: dict) -> dict:
    """The bot's reply to one message (in a DM or as a reply in a channel)."""

    def is_reply(m: dict) -> bool:
        reference = m.get("message_reference") or {}
        return reference.get("message_id") == str(asked["id"]) or (
            m["channel_id"] == asked["channel_id"] and bool(m.get("embeds")) and asked.get("guild_id") is None
        )

    return await emulator.wait_for_message(is_reply)


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


# --- asking --------------------------------------------------------------------------------------------------------


def test_a_mention_gets_an_attributed_quote_as_a_reply_without_a_ping(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            alice = emulator.add_user("alice")
            question = mention(emulator, "how did jaice hear about kubernetes?")
            asked = await emulator.post_message("general", alice, question)
            reply = await emulator.wait_for_message()
            assert reply["channel_id"] == str(emulator.channels["general"])
            assert reply["message_reference"]["message_id"] == str(asked["id"])
            text = embed_text(reply)
            assert "A colleague eventually told me about an exciting new project called Kubernetes." in text
            assert "— Jaice Singer DuMars, answering “How and when did you first learn about Kubernetes?" in text
            assert set(buttons(reply)) == {"More", "Helpful", "Not helpful"}
            assert emulator.typing == [], "a quick answer needs no typing indicator"
            assert_clean(emulator)

    run(scenario)


def test_a_dm_is_answered_in_the_dm(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            bob = emulator.add_user("bob")
            asked = await emulator.send_dm(bob, "I don't write code, can I still help?")
            reply = await emulator.wait_for_message()
            assert reply["channel_id"] == asked["channel_id"]
            assert "Jaice Singer DuMars" in embed_text(reply)
            assert_clean(emulator)

    run(scenario)


def test_an_off_topic_question_is_declined_with_suggestions(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            bob = emulator.add_user("bob")
            await emulator.send_dm(bob, "What is the capital of Peru?")
            reply = await emulator.wait_for_message()
            text = embed_text(reply)
            assert "I couldn't find an answer to that in the documents I know" in text
            assert "Things I can answer, for example" in text
            assert "How the Kubernetes Community Changed the Life of Jaice Singer DuMars" in text
            assert buttons(reply) == {}
            assert_clean(emulator)

    run(scenario)


def test_slash_ask_defers_then_answers_publicly_or_privately(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            carol = emulator.add_user("carol")
            public = await emulator.invoke("ask", carol, options={"question": "How do I start contributing?"})
            first = await public.wait_response()
            assert first["type"] == 5, "acknowledged at once with a deferral"
            assert not (first.get("data") or {}).get("flags", 0) & EPHEMERAL
            answer = await public.wait_followup()
            assert "Jaice Singer DuMars" in embed_text(answer)
            assert not answer.get("flags", 0) & EPHEMERAL

            private = await emulator.invoke(
                "ask", carol, options={"question": "I feel like an impostor, should I join?", "private": True}
            )
            deferral = await private.wait_response()
            assert deferral["type"] == 5 and deferral["data"]["flags"] & EPHEMERAL, "privacy is set when deferring"
            answer = await private.wait_followup()
            assert answer.get("flags", 0) & EPHEMERAL
            assert "Jaice Singer DuMars" in embed_text(answer)
            assert_clean(emulator)

    run(scenario)


def test_more_shows_further_passages_and_feedback_is_recorded(service: AnswerService, tmp_path: Path):
    database = tmp_path / "bot.sqlite3"

    async def scenario() -> None:
        async with session(service, database) as (emulator, _):
            dave, erin = emulator.add_user("dave"), emulator.add_user("erin")
            await emulator.post_message(
                "general", dave, mention(emulator, "why is the kubernetes community welcoming?")
            )
            reply = await emulator.wait_for_message()
            ids = buttons(reply)
            first_quotes = embed_text(reply)

            more = await emulator.click(reply, ids["More"], erin)
            assert (await more.wait_response())["type"] == 5
            extra = await more.wait_followup()
            assert extra["flags"] & EPHEMERAL
            assert "More on: why is the kubernetes community welcoming?" in embed_text(extra)
            quoted = [line for line in embed_text(extra).splitlines() if line.startswith("> ")]
            assert quoted and not any(line in first_quotes for line in quoted), "More shows passages not yet shown"

            for user, label in ((dave, "Helpful"), (erin, "Not helpful"), (erin, "Helpful")):
                click = await emulator.click(reply, ids[label], user)
                response = await click.wait_response()
                assert response["type"] == 5 and response["data"]["flags"] & EPHEMERAL
                assert "Thanks" in (await click.wait_followup())["content"]
            assert_clean(emulator)

    run(scenario)
    stats = Store(database).stats()
    assert (stats.asked, stats.answered, stats.helpful, stats.not_helpful) == (1, 1, 2, 0)


def test_buttons_keep_working_after_a_restart(service: AnswerService, tmp_path: Path):
    database = tmp_path / "bot.sqlite3"

    async def scenario() -> None:
        async with DiscordEmulator() as emulator:
            async with session(service, database, emulator=emulator):
                frank = emulator.add_user("frank")
                await emulator.post_message("general", frank, mention(emulator, "how can I contribute without coding?"))
                reply = await emulator.wait_for_message()
            async with session(service, database, emulator=emulator):  # the bot restarted; the message is still there
                click = await emulator.click(reply, buttons(reply)["Helpful"], emulator.add_user("grace"))
                await click.wait_response()
                assert "Glad it helped" in (await click.wait_followup())["content"]
            assert_clean(emulator)

    run(scenario)
    assert Store(database).stats().helpful == 1


def test_quote_never_repeats_immediately_in_a_channel(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            user = emulator.add_user("heidi")
            seen = []
            for _ in range(4):
                interaction = await emulator.invoke("quote", user, channel="help")
                await interaction.wait_response()
                quote = await interaction.wait_followup()
                seen.append(quote["embeds"][0]["description"])
                assert "— Jaice Singer DuMars" in seen[-1]
            assert len(set(seen)) == 4
            about = await emulator.invoke("quote", user, options={"topic": "curiosity"})
            await about.wait_response()
            assert "Curiosity is the door" in (await about.wait_followup())["embeds"][0]["description"]
            assert_clean(emulator)

    run(scenario)


def test_sources_lists_the_documents(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            interaction = await emulator.invoke("sources", emulator.add_user("ivan"))
            response = await interaction.wait_response()
            assert response["data"]["flags"] & EPHEMERAL
            description = response["data"]["embeds"][0]["description"]
            assert "How the Kubernetes Community Changed the Life of Jaice Singer DuMars" in description
            assert f"{len(service.snapshot.index.paragraphs)} passages" in description
            assert_clean(emulator)

    run(scenario)


# --- moderators ------------------------------------------------------------------------------------------------------


def test_stats_are_for_moderators_and_show_the_gaps(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            member = emulator.add_user("judy")
            moderator = emulator.add_user("mod", roles=["Moderators"])
            for text in ("How do I get my CLA signed?", "how do I get my CLA signed", "How do I start contributing?"):
                await emulator.send_dm(member, text)
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
            await interaction.wait_response()
            content = await edited_to(interaction, "Reindex failed")
            assert "Nothing to index" in content
            assert "The previous index is still answering questions." in content
            asked = await emulator.send_dm(emulator.owner, "how many reviews does a change need?")
            assert "one review from an owner" in embed_text(await reply_to(emulator, asked))
            assert_clean(emulator)

    run(scenario)
    assert own_service.snapshot is before


# --- conduct ---------------------------------------------------------------------------------------------------------


def test_everyone_and_role_mentions_never_ping(tmp_path: Path, embedder: Embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "announcements.md").write_text(
        "# Announcements\n\nTo announce a release, the release lead writes @everyone and @here in #announcements "
        "and tags <@&123456789012345678> so the release team sees it.\n",
        encoding="utf-8",
    )
    svc = AnswerService(corpus, tmp_path / "index", embedder)
    svc.load(notify=lambda message: None)

    async def scenario() -> None:
        async with session(svc, tmp_path / "bot.sqlite3") as (emulator, _):
            user = emulator.add_user("olivia")
            role = emulator.roles["Moderators"]
            question = f"@everyone <@&{role}> how does the release lead announce a release?"
            await emulator.post_message("general", user, mention(emulator, question))
            reply = await emulator.wait_for_message()
            assert "@everyone and @here" in embed_text(reply)
            interaction = await emulator.invoke("ask", user, options={"question": question})
            await interaction.wait_response()
            await interaction.wait_followup()
            assert_clean(emulator)

    run(scenario)


def test_the_bot_ignores_other_bots_and_itself(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            other = emulator.add_user("helperbot", bot=True)
            await emulator.post_message("general", other, mention(emulator, "how do I start contributing?"))
            await emulator.post_message("general", emulator.bot_user, mention(emulator, "how do I start?"))
            person = emulator.add_user("pat")
            asked = await emulator.post_message("general", person, mention(emulator, "how do I start contributing?"))
            reply = await emulator.wait_for_message()
            assert reply["message_reference"]["message_id"] == str(asked["id"])
            await asyncio.sleep(0.3)
            assert len(emulator.messages) == 1

    run(scenario)


def test_cooldown_gives_a_private_notice(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3", cooldown_questions=2, cooldown_seconds=60) as (
            emulator,
            _,
        ):
            quentin = emulator.add_user("quentin")
            for _ in range(2):
                await emulator.post_message("general", quentin, mention(emulator, "how do I start contributing?"))
                assert (await emulator.wait_for_message())["embeds"]
            await emulator.post_message("general", quentin, mention(emulator, "and how do I find a mentor?"))
            notice = await emulator.wait_for_message()
            assert "You're asking faster than I can keep up with" in notice["content"]
            assert notice["channel_id"] == str(emulator._dm_channels[int(quentin["id"])]), (
                "sent by DM, not in the channel"
            )
            interaction = await emulator.invoke("ask", quentin, options={"question": "how do I start?"})
            response = await interaction.wait_response()
            assert response["type"] == 4 and response["data"]["flags"] & EPHEMERAL
            assert "Please wait" in response["data"]["content"]
            assert_clean(emulator)

    run(scenario)


def test_an_empty_mention_gets_a_hint_and_a_huge_document_stays_within_limits(tmp_path: Path, embedder: Embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    long_title = "Contributor handbook " + "with a very long title " * 30
    long_heading = "How do reviews work " + "and what happens next " * 40
    sentences = " ".join(f"Reviewers check change number {i} carefully before it merges." for i in range(40))
    (corpus / "handbook.md").write_text(
        f"---\ntitle: {long_title}\nsource_url: https://example.org/handbook\n---\n\n## {long_heading}\n\n"
        f"{sentences}\n\n{sentences}\n",
        encoding="utf-8",
    )
    svc = AnswerService(corpus, tmp_path / "index", embedder)
    svc.load(notify=lambda message: None)

    async def scenario() -> None:
        async with session(svc, tmp_path / "bot.sqlite3") as (emulator, _):
            user = emulator.add_user("rita")
            await emulator.post_message("general", user, f"<@{emulator.bot_id}>")
            assert "Ask me a question" in (await emulator.wait_for_message())["content"]
            question = "How do reviewers check changes before they merge? " + "Please explain in detail. " * 36
            assert len(question) < 1000
            interaction = await emulator.invoke("ask", user, options={"question": question})
            await interaction.wait_response()
            answer = await interaction.wait_followup()
            embed = answer["embeds"][0]
            assert len(embed["title"]) <= 256 and embed["title"].endswith("…")
            assert "Reviewers check change number" in embed["description"]
            assert "](https://example.org/handbook)" in embed["description"], "the attribution links the source"
            more = await emulator.click(answer, buttons(answer)["More"], user)
            await more.wait_response()
            assert (await more.wait_followup())["embeds"]
            assert_clean(emulator)

    run(scenario)


# --- auto-answer -----------------------------------------------------------------------------------------------------


def test_auto_answer_channel_answers_confident_questions_only(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3", auto_answer=("help", "questions")) as (
            emulator,
            client,
        ):
            assert emulator.intents is not None and emulator.intents & (1 << 15), "asks for message content"
            sam = emulator.add_user("sam")
            await emulator.post_message("help", sam, "Thanks everyone, my first PR got merged!")
            await emulator.post_message("help", sam, "What is the best pizza topping?")
            await emulator.post_message("general", sam, "how did jaice hear about kubernetes?")
            await emulator.post_message("help", sam, "how did jaice hear about kubernetes?")
            reply = await emulator.wait_for_message()
            assert reply["channel_id"] == str(emulator.channels["help"])
            assert "A colleague eventually told me" in embed_text(reply)

            post = await emulator.create_forum_post(
                "questions", sam, "Impostor syndrome", "I feel like an impostor. Should I even join the community?"
            )
            answer = await emulator.wait_for_message()
            assert answer["channel_id"] == str(post["channel_id"])
            later = await emulator.post_message(post["channel_id"], sam, "Does anyone else feel like an impostor?")
            await emulator.post_message("help", sam, "How did Jaice first learn about Kubernetes?", reply_to=later)
            await asyncio.sleep(0.5)
            assert len(emulator.messages) == 2, "no reply to thanks, off-topic posts, replies or other channels"
            assert_clean(emulator)
            stats = client.store.stats()
            assert (stats.asked, stats.answered) == (2, 2), "only the questions it replied to are counted"

    run(scenario)


def test_without_auto_answer_the_bot_needs_no_privileged_intent(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            assert emulator.intents is not None and not emulator.intents & (1 << 15)
            await emulator.post_message("help", emulator.add_user("uma"), "How did Jaice learn about Kubernetes?")
            await asyncio.sleep(0.3)
            assert emulator.messages == []

    run(scenario)


# --- the gateway -----------------------------------------------------------------------------------------------------


def test_reconnect_resumes_the_session_and_keeps_answering(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            user = emulator.add_user("tina")
            await emulator.reconnect()
            await emulator.post_message("general", user, mention(emulator, "how do I start contributing?"))
            await emulator.wait_until_resumed()
            assert (await emulator.wait_for_message())["embeds"]
            await emulator.drop_connection()
            await emulator.send_dm(user, "is kubernetes welcoming to newcomers?")
            await emulator.wait_until_resumed(count=2)
            assert (await emulator.wait_for_message())["embeds"]
            assert (emulator.identifies, emulator.resumes) == (1, 2)
            assert_clean(emulator)

    run(scenario)


def test_a_burst_of_questions_keeps_the_heartbeat_in_rhythm(service: AnswerService, tmp_path: Path):
    interval = 0.5

    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3", heartbeat_interval=interval) as (emulator, _):
            users = [emulator.add_user(f"user{i}") for i in range(50)]
            await asyncio.sleep(interval * 2)
            start = len(emulator.heartbeats)
            questions = ["how do I start contributing?", "can I help without coding?", "what is a SIG?"]
            for i, user in enumerate(users):
                await emulator.post_message("general", user, mention(emulator, questions[i % 3]))
            for _ in users:
                await emulator.wait_for_message(timeout=60)
            # a quick burst may end within one beat: wait for two more beats so the gaps around it are seen
            settled = len(emulator.heartbeats) + 2
            for _ in range(100):
                if len(emulator.heartbeats) >= settled:
                    break
                await asyncio.sleep(interval / 5)
            beats = emulator.heartbeats[max(start - 1, 0) :]
            gaps = [b - a for a, b in itertools.pairwise(beats)]
            assert len(gaps) >= 2
            assert max(gaps) < 1.5 * interval, gaps
            assert_clean(emulator)

    run(scenario)


def test_commands_sync_only_when_their_definitions_change(service: AnswerService, tmp_path: Path):
    database = tmp_path / "bot.sqlite3"

    async def scenario() -> None:
        async with DiscordEmulator() as emulator:
            async with session(service, database, emulator=emulator) as (_, client):
                assert emulator.command_puts == 1
                names = sorted(c["name"] for c in emulator.commands[emulator.guild_id])
                assert names == ["ask", "corpus", "quote", "reindex", "sources", "stats"]
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
            assert "synced 6 slash commands" in log
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
                "ask",
                "corpus",
                "quote",
                "reindex",
                "sources",
                "stats",
            ]
            assert emulator.identifies == 0, "sync does not connect to the gateway"

    run(scenario)


def test_block_quote_bolds_the_key_sentence_and_escapes_markdown():
    from bot.discord_app.render import block_quote

    text = "I used *Kubernetes* early. A colleague told me about it. It changed my life."
    assert block_quote(text, (27, 56)) == (
        "> I used \\*Kubernetes\\* early. **A colleague told me about it.** It changed my life."
    )
    assert block_quote("Line one.\n\nLine two.") == "> Line one.\n>\n> Line two."


def test_a_mention_of_the_bots_role_gets_a_hint_to_mention_the_bot(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            role = emulator.roles[emulator.bot_user["username"]]
            await emulator.post_message("general", emulator.add_user("vic"), f"<@&{role}> how do I start?")
            hint = await emulator.wait_for_message()
            assert "mentioned my role" in hint["content"]
            assert_clean(emulator)

    run(scenario)


def test_more_pages_through_further_passages(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            walt = emulator.add_user("walt")
            asked = await emulator.post_message("general", walt, mention(emulator, "what advice does jaice give?"))
            reply = await reply_to(emulator, asked)
            seen = {line for line in embed_text(reply).splitlines() if line.startswith("> ")}
            page, pages = reply, 0
            while "More" in buttons(page):
                click = await emulator.click(page, buttons(page)["More"], walt)
                await click.wait_response()
                page = await click.wait_followup()
                quotes = {line for line in embed_text(page).splitlines() if line.startswith("> ")}
                assert quotes and not quotes & seen, "each page shows passages not shown before"
                seen |= quotes
                pages += 1
            assert pages == 3, "pages of three up to twelve passages"
            assert_clean(emulator)

    run(scenario)


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


def test_moving_from_one_server_to_global_commands_removes_the_server_copies(service: AnswerService, tmp_path: Path):
    database = tmp_path / "bot.sqlite3"

    async def scenario() -> None:
        async with DiscordEmulator() as emulator:
            async with session(service, database, emulator=emulator):
                assert len(emulator.commands[emulator.guild_id]) == 6
            async with session(service, database, emulator=emulator, guild_id=None):
                assert emulator.commands[emulator.guild_id] == []
                assert len(emulator.commands["global"]) == 6
            async with session(service, database, emulator=emulator):
                assert emulator.commands["global"] == []
                assert len(emulator.commands[emulator.guild_id]) == 6
            assert emulator.rejected == []

    run(scenario)


def test_missing_channel_permissions_degrade_gracefully(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            xena = emulator.add_user("xena")
            emulator.deny_bot("help", 1 << 16)  # no Read Message History: replies fail, plain messages work
            await emulator.post_message("help", xena, mention(emulator, "how do I start contributing?"))
            plain = await emulator.wait_for_message()
            assert plain["channel_id"] == str(emulator.channels["help"]) and "message_reference" not in plain
            assert plain["embeds"]

            emulator.deny_bot("general", 1 << 11)  # no Send Messages at all: the asker gets the answer by DM
            await emulator.post_message("general", xena, mention(emulator, "how do I start contributing?"))
            dm = await emulator.wait_for_message()
            assert dm["channel_id"] == str(emulator._dm_channels[int(xena["id"])])
            assert "I can't post in #general" in dm["content"] and dm["embeds"]
            assert [r["code"] for r in emulator.rejected] == [50013, 50013, 50013]
            assert emulator.pings == []

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


def test_a_busy_channel_respects_discords_rate_limit(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3", message_rate=(5, 2.0)) as (emulator, _):
            users = [emulator.add_user(f"asker{i}") for i in range(8)]
            started = asyncio.get_running_loop().time()
            asked = []
            for user in users:  # a few milliseconds apart, as people type, not all in the same instant
                asked.append(await emulator.post_message("general", user, mention(emulator, "how do I start?")))
                await asyncio.sleep(0.05)
            replies = [await reply_to(emulator, message) for message in asked]
            took = asyncio.get_running_loop().time() - started
            assert len(replies) == 8, "every question is answered"
            assert took >= 1.5, "the last three waited for the next window"
            # discord.py waits on the rate-limit headers (without them, each of the last three would get a 429); a
            # request landing a moment before the window turns over may still get one and is retried, as on Discord
            assert len(emulator.rate_limited) <= 1
            assert_clean(emulator)

    run(scenario)


def test_a_429_is_retried_and_the_answer_still_arrives(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            emulator.inject_429 = 1
            yara = emulator.add_user("yara")
            asked = await emulator.post_message("general", yara, mention(emulator, "how do I start?"))
            reply = await reply_to(emulator, asked)
            assert reply["embeds"] and len(emulator.rate_limited) == 1
            assert_clean(emulator)

    run(scenario)


def test_a_reply_to_an_answer_is_answered_only_when_it_asks_something(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, client):
            zed = emulator.add_user("zed")
            asked = await emulator.post_message("general", zed, mention(emulator, "how do I start contributing?"))
            answer = await reply_to(emulator, asked)
            await emulator.post_message("general", zed, "thanks, that helps a lot", reply_to=answer)
            follow_up = await emulator.post_message("general", zed, "and how do I find a mentor?", reply_to=answer)
            second = await reply_to(emulator, follow_up)
            assert second["embeds"]
            await asyncio.sleep(0.3)
            assert len(emulator.messages) == 2, "no reply to the thanks"
            assert client.store.stats().asked == 2
            assert_clean(emulator)

    run(scenario)


def test_a_slow_answer_in_a_channel_the_bot_cannot_post_in_still_reaches_the_asker(
    service: AnswerService, tmp_path: Path
):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, client):
            client.typing_after = 0  # every answer counts as slow, so the bot tries to show it is typing
            emulator.deny_bot("general", 1 << 11)
            amy = emulator.add_user("amy")
            await emulator.post_message("general", amy, mention(emulator, "how do I start contributing?"))
            dm = await emulator.wait_for_message()
            assert "I can't post in #general" in dm["content"] and dm["embeds"]
            assert emulator.pings == []

    run(scenario)
