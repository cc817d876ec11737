"""Issue 21: nothing becomes a link or a ping that was not one. End to end over the emulator (the text Discord would
receive, read as a Discord client reads it: tests/discord_markdown.py) and through the renderer's quote markup: a
question's links in /stats and titles, `.txt` documents, escaped brackets in Markdown, links across the bolded key
sentence, inline code holding double backticks, and a /quote topic echoed back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.discord_app import render
from bot.embedding import Embedder
from bot.service import AnswerService
from tests.discord_helpers import assert_clean, embed_text, mention, reply_to, run, session
from tests.discord_markdown import render as discord_render

PHISHING = "how do I join? [docs](https://x.example) [Moderator verification required](https://evil.example/login)"


@pytest.fixture
def tricky_service(tmp_path: Path, embedder: Embedder) -> AnswerService:
    """A corpus whose documents hold text that looks like links but is not one in the source document."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "welcome.md").write_text(
        "---\ntitle: Welcome guide\n---\n\n## Meetings\n\nThe community meets every Thursday at 17:00 UTC. "
        "Everyone is welcome to join.\n\n## Reviews\n\nEvery change needs one review from an owner.\n",
        encoding="utf-8",
    )
    (corpus / "passwords.txt").write_text(
        "Passwords\n\nTo reset your wiki password, read [the wiki guide](https://wiki.example) first, then open "
        "[x](https://evil.example) and follow the steps it shows.\n",
        encoding="utf-8",
    )
    (corpus / "badges.md").write_text(
        "# Badges\n\nTo claim your contributor badge, see \\[the rules\\](https://rules.example), then write "
        "\\[x\\](https://evil.example) in the badge request form and a maintainer approves it.\n",
        encoding="utf-8",
    )
    svc = AnswerService(corpus, tmp_path / "index", embedder)
    svc.load(notify=lambda message: None)
    return svc


def _no_masked_links(message: dict) -> None:
    for embed in message.get("embeds", []):
        texts = [embed.get("title", ""), embed.get("description", "")]
        texts += [text for f in embed.get("fields", []) for text in (f["name"], f["value"])]
        for text in texts:
            assert discord_render(text).links == [], text
    assert discord_render(message.get("content") or "").links == []


def test_a_question_with_links_asked_twice_shows_no_live_link_in_stats(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            member = emulator.add_user("mallory")
            for _ in range(2):  # in the server: /stats shows only the server's questions
                asked = await emulator.post_message("general", member, mention(emulator, PHISHING))
                assert (await reply_to(emulator, asked))["embeds"][0]["title"].startswith("Q: ")  # declined

            moderator = emulator.add_user("mod", roles=["Moderators"])
            interaction = await emulator.invoke("stats", moderator, granted=True)
            await interaction.wait_response()
            followup = await interaction.wait_followup()
            gaps = followup["embeds"][0]["fields"][0]["value"]
            shown = discord_render(gaps)
            assert shown.links == []
            assert shown.visible == f"2× {PHISHING}"  # the moderator reads the question as it was asked
            assert shown.urls == [] and shown.formats == []  # and nothing in it is clickable
            _no_masked_links(followup)
            assert_clean(emulator)

    run(scenario)


def test_the_decline_reply_shows_the_questions_links_as_text(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            asked = await emulator.send_dm(emulator.add_user("mallory"), PHISHING)
            reply = await reply_to(emulator, asked)
            _no_masked_links(reply)
            title = discord_render(reply["embeds"][0]["title"])
            assert title.urls == [] and title.visible == f"Q: {PHISHING}"
            assert_clean(emulator)

    run(scenario)


def test_a_txt_document_quoted_shows_its_brackets_as_written_not_as_a_masked_link(
    tricky_service: AnswerService, tmp_path: Path
):
    async def scenario() -> None:
        async with session(tricky_service, tmp_path / "bot.sqlite3") as (emulator, _):
            asked = await emulator.send_dm(emulator.add_user("erin"), "how do I reset my wiki password?")
            reply = await reply_to(emulator, asked)
            assert "wiki password" in embed_text(reply)
            _no_masked_links(reply)
            shown = discord_render(reply["embeds"][0]["description"])
            assert "open [x](https://evil.example) and follow" in shown.visible
            assert shown.urls == ["https://wiki.example", "https://evil.example"]  # the document's own URLs, in full
            assert_clean(emulator)

    run(scenario)


def test_escaped_brackets_in_a_markdown_document_do_not_become_a_masked_link(
    tricky_service: AnswerService, tmp_path: Path
):
    async def scenario() -> None:
        async with session(tricky_service, tmp_path / "bot.sqlite3") as (emulator, _):
            asked = await emulator.send_dm(emulator.add_user("erin"), "how do I claim my contributor badge?")
            reply = await reply_to(emulator, asked)
            assert "contributor badge" in embed_text(reply)
            _no_masked_links(reply)
            shown = discord_render(reply["embeds"][0]["description"])
            assert "write [x](https://evil.example) in the badge request form" in shown.visible
            assert_clean(emulator)

    run(scenario)


def test_a_quote_topic_echoed_back_shows_no_link(service: AnswerService, tmp_path: Path):
    async def scenario() -> None:
        async with session(service, tmp_path / "bot.sqlite3") as (emulator, _):
            topic = "[Moderator verification](https://evil.example/login) quasar marmalade [x](https://evil.example)"
            interaction = await emulator.invoke("quote", emulator.add_user("erin"), options={"topic": topic})
            await interaction.wait_response()
            followup = await interaction.wait_followup()
            _no_masked_links(followup)
            shown = discord_render(followup["content"])
            assert topic in shown.visible and shown.urls == []
            assert_clean(emulator)

    run(scenario)


# --- the quote markup: the bolded key sentence and inline code -------------------------------------------------------


def test_a_link_across_the_bolded_key_sentence_does_not_survive():
    text = "Read the [notes. Then verify](https://evil.example/login) here. The rest is fine."
    key = (text.index("Then"), text.index("here.") + len("here."))
    shown = discord_render(render.block_quote(text, key))
    assert shown.links == []
    assert shown.formats.count("bold") == 1 and shown.visible == text


def test_inline_code_holding_a_double_backtick_does_not_close_early():
    text = "Type a``b [x](https://evil.example) to quote."
    code = ((len("Type "), len("Type a``b [x](https://evil.example)")),)
    shown = discord_render(render.block_quote(text, None, code))
    assert shown.links == [] and shown.urls == []
    assert shown.code == ["a``b [x](https://evil.example)"] or shown.code == [" a`\u200b`b [x](https://evil.example) "]
