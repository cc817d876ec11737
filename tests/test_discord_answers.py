"""The Discord bot answering people, end to end: the real discord.py client over real sockets against the loopback
emulator. Mentions, DMs and /ask, More and feedback, /quote and /sources, what the bot never does (ping, answer bots),
the auto-answer channels, and how answers read.

Each test starts a fresh emulator and bot; the answering service (model and index) is shared where a test only reads.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from bot.embedding import Embedder
from bot.service import AnswerService
from bot.store import Store
from tests.conftest import CORPUS
from tests.discord_helpers import EPHEMERAL, assert_clean, buttons, embed_text, mention, reply_to, run, session
from tests.discord_markdown import render as discord_render
from tests.emulator import DiscordEmulator

# --- asking ----------------------------------------------------------------------------------------------------------


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
        async with session(service, tmp_path / "bot.sqlite3", cooldown_seconds=0) as (emulator, _):
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
            assert "authority high" in description  # the interview's front matter says so
            assert_clean(emulator)

    run(scenario)


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
            shown = discord_render(embed_text(reply))  # as a Discord client shows it: the words, no mention
            assert "@everyone and @here" in shown.visible and shown.mentions == []
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


# --- how answers read, role mentions, paging and follow-ups ----------------------------------------------------------


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


FOLLOW_UPS = (  # (question, reply to its answer, words its first quote holds): each reply alone is declined
    ("How do shadows learn the release role?", "how long does it take?", "one cycle"),
    ("When does the community meet?", "is that online?", "on video"),
    ("What does every change need?", "how many do I need?", "one review"),
)


def test_a_reply_to_an_answer_is_asked_together_with_its_question(tmp_path: Path, embedder: Embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "community.md").write_text(
        "# Community\n\n## Meetings\n\nThe community meets every Thursday at 17:00 UTC on video. The docs team meets "
        "every Tuesday at 09:00 UTC instead.\n\n## Release team\n\nThe release team ships a new version every four "
        "months. Shadows learn the role by pairing with a release lead for one cycle.\n\n## Asking\n\nLong questions "
        "belong on the discussion forum. Every thread there is archived and searchable.\n\n## Reviews\n\nEvery "
        "change needs one review from an owner.\n",
        encoding="utf-8",
    )
    service = AnswerService(corpus, tmp_path / "index", embedder)
    service.load(notify=lambda message: None)

    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3", cooldown_seconds=0) as (emulator, _):
            zed = emulator.add_user("zed")
            for question, follow, expected in FOLLOW_UPS:
                answer = await reply_to(
                    emulator, await emulator.post_message("general", zed, mention(emulator, question))
                )
                reply = await emulator.post_message("general", zed, follow, reply_to=answer)
                second = await reply_to(emulator, reply)
                assert expected in second["embeds"][0]["description"].split("\n\n")[0], (follow, embed_text(second))
                assert second["embeds"][0]["title"] == f"Q: {question} {follow}"
                assert not service.ask(follow, 3).answered  # without the question it follows, nothing answers it
            assert_clean(emulator)

    run(scenario)
