"""render.escape, the one escaping function for what the bot shows in Discord, and render.masked_link (issue 21).

Each trick is read back as a Discord client reads it (tests/discord_markdown.py): after escaping nothing is a link,
a mention, an emoji, a heading, a list, a quote or formatted, and the reader sees exactly the text that was given.
"""

from __future__ import annotations

import re

import pytest

from bot.corpus import AuditEntry, DocumentInfo, Preview
from bot.discord_app import render
from bot.lessons import Lesson, LessonEntry
from bot.quotes import Quote
from bot.retrieval import Answer, Result
from bot.service import Source
from bot.store import Gap, Stats
from tests.discord_markdown import is_plain
from tests.discord_markdown import render as discord_render

TRICKS = {
    "masked link": "[docs](https://x.example)",
    "two masked links": "join? [docs](https://x.example) [Moderator verification required](https://evil.example/login)",
    "masked link with a title": '[safe](https://evil.example "Discord")',
    "masked link to an autolink": "[safe](<https://evil.example>)",
    "nested brackets": "[[a]](https://evil.example)",
    "autolink": "<https://evil.example/login>",
    "bold": "**free nitro**",
    "italics": "*really* _really_",
    "underline": "__important__",
    "strikethrough": "~~old~~",
    "spoiler": "||secret||",
    "inline code": "`rm -rf /`",
    "double-backtick code": "``a`b``",
    "code block": "```py\nprint(1)\n```",
    "heading": "# Official announcement",
    "small heading": "### notice",
    "subtext": "-# small print",
    "list": "- one\n* two\n+ three\n1. four\n  2) five",
    "block quote": "> quoted\n>>> all of it",
    "user mention": "<@123456789012345678> <@!123456789012345678>",
    "role mention": "<@&123456789012345678>",
    "channel": "<#123456789012345678>",
    "slash command": "</verify:123456789012345678>",
    "everyone": "@everyone and @here, @Everyone",
    "timestamp": "<t:1700000000:R>",
    "custom emoji": "<:pepe:123456789012345678> <a:dance:123456789012345678>",
    "shortcode emoji": ":smile: and 10:30:45",
    "guild navigation": "<id:customize>",
    "backslashes": "C:\\Users\\ and \\[x\\](https://evil.example) and \\*",
    "link across lines": "[first\nsecond](https://evil.example)",
    "everything at once": "# [**@everyone**](https://evil.example) ||<@&1>|| ~~`x`~~ :ok:",
}
URLS = {
    "bare url": "see https://evil.example/login now",
    "url in brackets": "(https://evil.example/login)",
    "url with markup": "https://evil.example/a_b*c~d|e",
    "upper-case scheme": "HTTPS://evil.example",
    "other scheme": "steam://run/1 and ftp://files.example",
}


@pytest.mark.parametrize("text", [*TRICKS.values(), *URLS.values()], ids=[*TRICKS, *URLS])
def test_escaped_text_is_plain_and_reads_as_written(text: str) -> None:
    """Plain text, but for URLs shown as code (never clickable)."""
    escaped = render.escape(text)
    shown = discord_render(escaped)
    assert shown.links == shown.urls == shown.mentions == shown.formats == [], shown
    assert all(re.fullmatch(r"(?i)[a-z]+://\S+", code) for code in shown.code), shown
    assert is_plain(escaped) or "://" in text
    assert shown.visible == text == render.unescape(escaped)


@pytest.mark.parametrize("text", TRICKS.values(), ids=TRICKS)
def test_every_markdown_character_is_escaped(text: str) -> None:
    escaped = render.escape(text)
    bare = re.sub(r"`[a-z]+://[^`\s]+`", "", re.sub(r"\\[^0-9A-Za-z\s]", "", escaped))  # escapes and URLs gone
    assert not re.search(r"[\\\[\]<>*_~`|]", bare), escaped  # each markdown character had its backslash
    assert "](" not in bare  # so no "](" can end a link label
    for line in escaped.split("\n"):
        assert not re.match(r"\s*(?:[#>*+-]|\d+[.)])", line), line  # nothing starts a heading, list or quote


@pytest.mark.parametrize("text", URLS.values(), ids=URLS)
def test_a_persons_url_is_never_clickable(text: str) -> None:
    """A URL someone typed (a question in /stats or a title) shows whole, as code, which Discord never links."""
    shown = discord_render(render.escape(text))
    assert shown.urls == [] and shown.links == []
    assert all("://" in code for code in shown.code)


def test_a_documents_url_stays_clickable_and_shows_where_it_goes() -> None:
    text = "Read https://github.com/kubernetes/community/blob/master/README_(x).md. Then [x](https://evil.example)."
    shown = discord_render(render.escape(text, keep_urls=True))
    assert shown.links == []
    assert shown.urls == ["https://github.com/kubernetes/community/blob/master/README_(x).md", "https://evil.example"]
    assert shown.visible == text
    assert discord_render(render.escape("steam://run/1", keep_urls=True)).urls == []  # only http(s)


def test_invisible_characters_are_dropped() -> None:
    text = "@\u200beveryone [\u2060x](https://evil.example) \u202egol.exe\u202c ok\ufeff"
    escaped = render.escape(text)
    assert escaped == render.escape("@everyone [x](https://evil.example) gol.exe ok")
    assert discord_render(escaped).links == discord_render(escaped).mentions == []
    assert render.escape("👩\u200d💻 می\u200cخواهم") == "👩\u200d💻 می\u200cخواهم"  # joiners that scripts need stay


def test_pieces_escaped_apart_cannot_form_markup_when_joined() -> None:
    left, right = "[notes. *Then verify", "](https://evil.example/login)* here <@1"
    joined = render.escape(left) + "**" + render.escape(right) + ">"
    shown = discord_render(joined)
    assert shown.links == [] and shown.mentions == []


def test_the_key_sentence_is_bold_around_escaped_text() -> None:
    text = "Use *stars*. See [a](https://evil.example/x) now. Fine."
    start = text.index("See")
    quote = render.block_quote(text, (start, text.index(" Fine")))
    shown = discord_render(quote)
    assert shown.links == [] and shown.formats == ["blockquote", "bold"]
    assert shown.visible == text.replace("https://evil.example/x", "https://evil.example/x")
    assert shown.urls == ["https://evil.example/x"]  # the document's own URL, shown as itself


def test_code_in_a_quote_shows_literally_and_nothing_leaks_out_of_it() -> None:
    text = "Run ``` ``a``` and [x](https://evil.example) then\nx `y`` z\ncat ```` file"
    spans = [(4, text.index(" then")), (text.index("x `y"), text.index("\ncat")), (text.index("cat"), len(text))]
    quote = render.block_quote(text, None, spans)
    shown = discord_render(quote)
    assert shown.links == [] and shown.urls == [] and shown.mentions == []
    assert [c.replace("\u200b", "").strip() for c in shown.code] == [
        "``` ``a``` and [x](https://evil.example)",
        "x `y`` z",
        "cat ```` file",
    ]


def test_masked_link_escapes_its_label_and_accepts_only_web_addresses() -> None:
    shown = discord_render(render.masked_link("The **Guide** [v2]", "https://docs.example/guide?a=1#part"))
    assert shown.links == [("The \\*\\*Guide\\*\\* \\[v2\\]", "https://docs.example/guide?a=1#part")]
    assert shown.visible == "The **Guide** [v2]" and shown.formats == []
    for url in ("javascript:alert(1)", "/docs/page/", "data:text/html,hi", "file:///etc/passwd", "", None, "https://"):
        assert render.masked_link("Guide", url) == "Guide", url
    for url in ("https://discord.com@evil.example/", "https://evil.example/a b", "https://evil.exa\u200bmple/"):
        assert render.masked_link("Guide", url) == "Guide", url


def test_masked_link_encodes_what_could_end_the_link_early() -> None:
    link = render.masked_link("Guide", "https://docs.example/a_(b)/<c>\"d'`e`\\f|g")
    shown = discord_render(link)
    assert shown.links == [("Guide", "https://docs.example/a_%28b%29/%3Cc%3E%22d%27%60e%60%5Cf%7Cg")]
    assert render.masked_link("Bücher", "https://bücher.example/") == "[Bücher](https://xn--bcher-kva.example/)"


def test_masked_link_never_hides_a_web_address_behind_another() -> None:
    """A label naming one address over a link to another shows the real address beside it."""
    for label in ("discord.com/verify", "https://discord.com", "www.discord.com"):
        shown = discord_render(render.masked_link(label, "https://evil.example/login"))
        assert shown.links == [] and shown.urls == ["https://evil.example/login"]
        assert shown.visible == f"{label} (https://evil.example/login)"
    honest = discord_render(render.masked_link("kubernetes.io docs", "https://kubernetes.io/docs/"))
    assert honest.links == [("kubernetes.io docs", "https://kubernetes.io/docs/")]


DOCUMENT_URLS = {"https://evil.example", "https://evil.example/login", "https://x.example"}  # in HOSTILE
HOSTILE = TRICKS["everything at once"] + " " + URLS["bare url"] + " " + TRICKS["two masked links"]


def _texts(embed: object) -> list[str]:
    data = embed.to_dict()  # type: ignore[attr-defined]
    texts = [data.get("title", ""), data.get("description", "")]
    return texts + [t for f in data.get("fields", []) for t in (f["name"], f["value"])]


def test_no_embed_the_bot_builds_makes_a_link_from_hostile_text() -> None:
    """Every renderer, fed the hostile text wherever a person or a document supplies text: no masked link, no
    mention, and a clickable URL only where a document's own text holds one (shown as itself) or as a document's
    address (a title naming other web addresses shows it beside the title instead of behind it)."""
    result = Result(quote=HOSTILE, source=HOSTILE, section=HOSTILE, score=0.9, speaker=HOSTILE, url="javascript:x")
    quote = Quote(text=HOSTILE, speaker=HOSTILE, source=HOSTILE, section=HOSTILE, window=0)
    source = Source(name=HOSTILE, title=HOSTILE, passages=1, indexed_at=HOSTILE, url="https://docs.example/")
    info = DocumentInfo(HOSTILE, HOSTILE, 10, 1, [HOSTILE], "https://docs.example/", HOSTILE, [HOSTILE])
    embeds = [
        render.answer_embed(Answer(HOSTILE, True, [result, result])),
        render.answer_embed(Answer(HOSTILE, True, [result, result]), first=1, title=f"More on: {HOSTILE}"),
        render.decline_embed(HOSTILE, [HOSTILE], [source]),
        render.quote_embed(quote),
        render.sources_embed([source]),
        render.stats_embed(Stats(2, 0, 2, 0, 1, [Gap(HOSTILE, 2)], [Gap(HOSTILE, 1)])),
        render.corpus_preview_embed(Preview(HOSTILE, HOSTILE, [HOSTILE], 1, 1, 10, True, "d"), "x.md"),
        render.corpus_list_embed([info]),
        render.corpus_document_embed(info),
        render.corpus_history_embed([AuditEntry(1, 0.0, HOSTILE, HOSTILE, HOSTILE, 1, HOSTILE)], HOSTILE),
        render.teach_panel_embed(HOSTILE, [result]),
        render.lessons_embed([Lesson(1, 0.0, HOSTILE, HOSTILE, HOSTILE, HOSTILE)], {1}),
        render.lesson_history_embed([LessonEntry(0.0, HOSTILE, HOSTILE, 1, HOSTILE)]),
    ]
    for embed in embeds:
        for text in _texts(embed):
            shown = discord_render(text)
            assert shown.links == [] and [m for m in shown.mentions if not m.startswith("<t:")] == [], text
            assert set(shown.urls) <= {*DOCUMENT_URLS, "https://docs.example/"}, text
    for text in (render.corpus_progress_text("Adding", HOSTILE, (1, 2)), render.escape(HOSTILE)):
        shown = discord_render(text)
        assert shown.links == shown.urls == shown.mentions == [], text


def test_a_declined_questions_title_reads_back_as_the_question() -> None:
    """Fix this answer reads a declined answer's question back from its title."""
    title = render.decline_embed(HOSTILE, [], []).title or ""
    assert render.unescape(title[3:]) == HOSTILE
