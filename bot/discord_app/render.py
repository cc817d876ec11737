"""Discord messages built from the core's answers, always within Discord's limits.

Limits (Discord API reference, "Embed limits" and "Create Message"): content 2000 characters; embed title 256,
description 4096, field name 256, field value 1024, footer 2048, and 6000 for all of an embed's text together.
Quotes go into embeds, which never notify anyone; every send also passes `allowed_mentions` none.

Every text from a person or a document reaches Discord through `escape` (issue 21: nothing becomes a link or a ping
that was not one); the bot's own formatting (bold, code, block quotes) is added around escaped text, never escaped
text cut apart afterwards. Links come only from `masked_link` (a document's own link, http or https only).

It stays one module of about 600 lines on purpose: every message any cog sends is built here, so escaping and the
limits above are applied, and reviewed, in one place.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Sequence

import discord

from bot.corpus import AuditEntry, DocumentInfo, Preview, Version
from bot.documents import authority_label
from bot.lessons import Lesson, LessonEntry, TaughtResult, passage_of
from bot.quotes import Quote
from bot.retrieval import Answer, Result
from bot.scope import scope_line
from bot.service import ReindexReport, Repository, Source
from bot.store import Stats

CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000

COLOUR = discord.Colour.blurple()
DECLINE_COLOUR = discord.Colour.light_grey()
NO_PINGS = discord.AllowedMentions.none()


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary, with an ellipsis when anything was cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


# --- escaping: one function for all text that is not the bot's own ------------------------------------------------

# Characters that start Discord markdown anywhere in a line: bold, italics, underline, strikethrough, spoilers, code,
# masked links, block quotes, and the angle brackets of mentions, channels, roles, timestamps and custom emoji. A
# backslash before any symbol shows the symbol itself (Discord's escape rule), so escaping them changes nothing a
# reader sees.
_MARKUP = re.compile(r"[\\*_~`|\[\]<>]")
# What starts a heading (#, ##, ###), subtext (-#), a list item (-, *, +, 1.) or a quote only at the start of a line.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_START = re.compile(rf"(?:^|(?<=[{_LINE_BREAKS}]))([^\S{_LINE_BREAKS}]*)(?:([#+-])|(\d+)([.)]))")
# @everyone and @here (embeds never ping, but message content would show them highlighted); a colon that opens an
# emoji shortcode such as :smile:.
_EVERYONE = re.compile(r"@(?=(?:everyone|here)\b)", re.IGNORECASE)
_EMOJI_OPEN = re.compile(r":(?=[^\s:]+:)")
# Characters nobody sees that can hide or reorder text: zero-width spaces and joiners used to split words, bidi
# overrides and isolates that reverse what follows, word joiners, invisible operators, soft hyphens, BOMs, Hangul
# fillers. (ZWJ and ZWNJ stay: emoji sequences and several scripts need them.)
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u200e\u200f\u202a-\u202e\u2060-\u206f"
    "\u3164\ufe00-\ufe0e\ufeff\uffa0\U000e0000-\U000e007f]"
)
# A URL: a scheme, "://", then up to whitespace or a character that could close or open markdown (balanced
# parentheses allowed, as in Wikipedia's addresses); punctuation at its end belongs to the sentence.
_URL_CHAR = r"[^\s<>\[\]()|`\"\\{}]"
_URL = re.compile(rf"(?i)\b[a-z][a-z0-9+.-]*://(?:{_URL_CHAR}|\({_URL_CHAR}*\))*")
_URL_TAIL = ".,:;!?'*_~"


def escape(text: str, *, keep_urls: bool = False) -> str:
    """`text` as Discord shows it literally: every markdown character escaped with a backslash, so no link, mention,
    emoji, heading, list, quote or formatting forms from it, alone or next to the bot's own markup; invisible
    characters that hide or reorder text are dropped.

    A URL in the text is shown whole. With `keep_urls` (a document's own words) an http(s) URL stays clickable, as
    the autolink `<url>` that shows exactly where it goes; otherwise (anything a person typed: questions, names,
    topics) every URL is inline code, which Discord never makes clickable."""
    text = _INVISIBLE.sub("", text)
    out: list[str] = []
    pos = 0
    for match in _URL.finditer(text):
        url = match.group().rstrip(_URL_TAIL)
        if "://" not in url or url.endswith("://"):
            continue
        out.append(_escape_words(text[pos : match.start()]))
        clickable = keep_urls and url.lower().startswith(("http://", "https://"))
        out.append(f"<{url}>" if clickable else f"`{url}`")
        pos = match.start() + len(url)
    out.append(_escape_words(text[pos:]))
    return "".join(out)


def _escape_words(text: str) -> str:
    """Text without URLs, escaped; its start counts as the start of a line (escaping one too many is harmless)."""
    text = _MARKUP.sub(r"\\\g<0>", text)
    text = _EVERYONE.sub(r"\\@", text)
    text = _EMOJI_OPEN.sub(r"\\:", text)

    def line_start(match: re.Match[str]) -> str:
        space, mark, number, dot = match.groups()
        return f"{space}\\{mark}" if mark else f"{space}{number}\\{dot}"

    return _LINE_START.sub(line_start, text)


_UNESCAPE = re.compile(r"\\([^0-9A-Za-z\s])|`([^`]+)`|<([a-z][a-z0-9+.-]*://[^ >]+)>", re.IGNORECASE)


def unescape(text: str) -> str:
    """The text `escape` was given (less invisible characters), as a reader sees it: escapes, the code spans of URLs
    and the brackets of autolinks removed."""
    return _UNESCAPE.sub(lambda m: m[1] or m[2] or m[3], text)


_DOMAIN = re.compile(r"(?i)(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}")


def safe_url(url: str | None) -> str | None:
    """`url` when it is an absolute http(s) URL without credentials, percent-encoded so nothing in it can end a
    masked link early; None for anything else (other schemes, relative paths, spaces, invisible characters)."""
    if not url:
        return None
    url = url.strip()
    if _INVISIBLE.search(url) or any(ch.isspace() or not ch.isprintable() for ch in url):
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        port = parts.port
        if parts.scheme.lower() not in ("http", "https") or not host or parts.username or parts.password:
            return None
        if "[" in parts.netloc:  # IPv6 literals: no community document links to one
            return None
        host = host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    netloc = host + (f":{port}" if port is not None else "")
    keep = "/:?#&=+;,@!$*%~-._"
    rest = urllib.parse.quote(urllib.parse.urlunsplit(("", "", parts.path, parts.query, parts.fragment)), safe=keep)
    return f"{parts.scheme.lower()}://{netloc}{rest}"


def masked_link(label: str, url: str | None) -> str:
    """`[label](url)` for a document's own link: the label escaped, the URL through `safe_url`. A URL that is not
    safe gives the escaped label alone; a label that names a web address other than the link's own (the classic
    phishing mask) gives the label followed by the real address, so the reader sees where the link goes."""
    target = safe_url(url)
    shown = escape(" ".join(label.split()))
    if target is None:
        return shown
    if not shown:
        return f"<{target}>"
    host = (urllib.parse.urlsplit(target).hostname or "").removeprefix("www.")
    named = {d.lower().removeprefix("www.") for d in _DOMAIN.findall(label)}
    if "://" in label or any(d != host and not host.endswith(f".{d}") for d in named):
        return f"{shown} (<{target}>)"
    return f"[{shown}]({target})"


def _code_span(text: str) -> str:
    """Inline code showing `text` literally, one span per line; no run of backticks inside can close it early."""
    spans = []
    for line in text.split("\n"):
        if not line.strip():
            spans.append(line)
        elif "`" in line:
            spans.append(f"`` {_break_backticks(line)} ``")
        else:
            spans.append(f"`{line}`")
    return "\n".join(spans)


def _break_backticks(text: str) -> str:
    """No two backticks in a row (a zero-width space between them), so no code fence or span can close inside."""
    return re.sub(r"`(?=`)", "`\u200b", text)


def markup(
    text: str,
    key: tuple[int, int] | None = None,
    code: Sequence[tuple[int, int]] = (),
    *,
    keep_urls: bool = True,
    links: Sequence[tuple[int, int, str]] = (),
) -> str:
    """A document's text for Discord: escaped, its code as code (a span filling its own lines as a fenced block),
    the `key` span in bold when the text holds no code, and the document's own `links` ((start, end, absolute URL)
    of a link's text) as masked links. Each piece is escaped on its own and the markup added around it, so no markup
    can form across the pieces; a link that a piece boundary or code cuts stays plain text."""

    def plain(start: int, end: int) -> str:
        out, pos = [], start
        for a, b, url in sorted(links):
            if a < pos or b > end or b <= a:
                continue
            out += [escape(text[pos:a], keep_urls=keep_urls), masked_link(text[a:b], url)]
            pos = b
        out.append(escape(text[pos:end], keep_urls=keep_urls))
        return "".join(out)

    pieces: list[str] = []
    pos = 0
    for start, end in sorted(code):
        if start < pos or end <= start:
            continue
        pieces.append(plain(pos, start))
        piece = text[start:end]
        whole_lines = (start == 0 or text[start - 1] == "\n") and (end == len(text) or text[end] == "\n")
        if whole_lines and (start > 0 or "\n" in piece):
            pieces.append("```\n" + _break_backticks(piece) + "\n```")
        else:
            pieces.append(_code_span(piece))
        pos = end
    if not code and key and "\n" not in text[key[0] : key[1]] and text[key[0] : key[1]].strip():
        start, end = key
        pieces += [plain(0, start), f"**{plain(start, end)}**"]
        pos = end
    pieces.append(plain(pos, len(text)))
    return "".join(pieces)


def block_quote(
    text: str,
    key: tuple[int, int] | None = None,
    code: Sequence[tuple[int, int]] = (),
    links: Sequence[tuple[int, int, str]] = (),
) -> str:
    """A Markdown block quote of a document's text shown as written (`markup`): commands and code as code, the `key`
    span (the sentence closest to the question) in bold when the quote holds no code, the document's links linked."""
    escaped = markup(text, key, code, links=links)
    return "\n".join(f"> {line}" if line.strip() else ">" for line in escaped.splitlines())


def _source_link(title: str, url: str | None) -> str:
    """A document's title, linked to the document's own http(s) address when it has one, else in italics."""
    return masked_link(title, url) if safe_url(url) else f"*{escape(title)}*"


def attribution(result: Result | Quote, limit: int = 300) -> str:
    """ "— Jaice Singer DuMars, answering “How did you…?”, in [Title](url)" or "— Title › Section"."""

    def shown(text: str, length: int) -> str:
        return escape(clip(" ".join(text.split()), length), keep_urls=True)

    asked = getattr(result, "asked", None)
    source = _source_link(clip(" ".join(result.source.split()), 120), getattr(result, "url", None))
    speaker = shown(result.speaker, 80) if result.speaker else None
    if speaker and asked:
        text = f"— {speaker}, answering “{shown(asked, 150)}”, in {source}"
    elif speaker:
        text = f"— {speaker}, in {source}"
    else:
        text = f"— {source}" + (f" › {shown(result.section, 150)}" if result.section else "")
    return text if len(text) <= limit else clip(f"— {source}", limit)


def quoted(
    text: str,
    key: tuple[int, int] | None,
    credit: str,
    limit: int,
    code: Sequence[tuple[int, int]] = (),
    links: Sequence[tuple[int, int, str]] = (),
) -> str:
    """A block quote followed by its attribution, within `limit` characters: the quote is shortened if it must be
    (then without code markup or links, which a cut could leave open), the attribution never."""
    body = block_quote(text, key, code, links)
    room = limit - len(credit) - 1
    cut = len(text)
    while len(body) > room and cut > 20:  # escaping and "> " prefixes can more than double the length
        cut = min(cut - 1, int(cut * room / len(body)))
        body = block_quote(clip(text, cut))
    return f"{body}\n{credit}"


def answer_embed(answer: Answer, first: int = 0, title: str | None = None) -> discord.Embed:
    """The best quote as a block quote with its attribution, then further passages as fields."""
    results = answer.results[first:]
    best, more = results[0], results[1:]
    heading = escape(title) if title else f"Q: {escape(answer.question)}"
    # the title links to the best quote's page at its section (an embed's url is a link target, never markdown)
    link = safe_url(best.url) if best.url else None
    embed = discord.Embed(colour=COLOUR, title=clip(heading, TITLE_LIMIT), url=link)
    embed.description = quoted(
        best.quote, best.key_sentence, attribution(best), DESCRIPTION_LIMIT, best.code, getattr(best, "links", ())
    )
    for result in more:
        value = quoted(
            result.quote, None, attribution(result), FIELD_VALUE_LIMIT, result.code, getattr(result, "links", ())
        )
        embed.add_field(name="Also relevant", value=value, inline=False)
    footer = "Quoted word for word from the community's documents."
    if isinstance(best, TaughtResult):
        footer += " " + CHOSEN
    embed.set_footer(text=footer)
    return fit(embed)


CHOSEN = "The first passage was chosen by the moderators for this question."


def decline_embed(
    question: str,
    topics: Sequence[str],
    sources: Sequence[Source],
    taught: bool = False,
    scope: tuple[str, str] | None = None,
) -> discord.Embed:
    """The "I won't guess" reply; with `scope` (a moderators' topic and its pointer, bot/scope.py), where to ask
    instead comes first."""
    text = (
        "I couldn't find an answer to that in the documents I know, so I won't guess. "
        "A moderator can see unanswered questions and add a document that covers them."
    )
    if taught:
        text = "The moderators have noted that the documents I know don't answer this question, so I won't guess."
    if scope is not None:
        text = f"{escape(scope_line(clip(scope[0], 100)))}\n\n{pointer_text(clip(scope[1], 1000))}"
    embed = discord.Embed(colour=DECLINE_COLOUR, title=clip(f"Q: {escape(question)}", TITLE_LIMIT), description=text)
    if topics:
        lines = "\n".join(f"• {_plain(t, 200)}" for t in topics)
        embed.add_field(name="Things I can answer, for example", value=clip(lines, FIELD_VALUE_LIMIT), inline=False)
    if sources:
        names = "\n".join(f"• {_plain(s.title, 200)}" for s in sources[:8])
        embed.add_field(name="What I've read", value=clip(names, FIELD_VALUE_LIMIT), inline=False)
    return fit(embed)


def pointer_text(pointer: str) -> str:
    """A moderator's pointer (scopes.toml) for Discord: its words escaped, each http(s) URL through `safe_url` as an
    autolink that shows where it goes; any other URL as code, never a link."""
    out: list[str] = []
    pos = 0
    for match in _URL.finditer(pointer):
        url = match.group().rstrip(_URL_TAIL)
        target = safe_url(url)
        if target is None:
            continue  # left in the text, which escape() shows as code
        out += [escape(pointer[pos : match.start()]), f"<{target}>"]
        pos = match.start() + len(url)
    out.append(escape(pointer[pos:]))
    return "".join(out)


def quote_embed(quote: Quote) -> discord.Embed:
    return fit(
        discord.Embed(colour=COLOUR, description=quoted(quote.text, None, attribution(quote), DESCRIPTION_LIMIT))
    )


def sources_embed(sources: Sequence[Source], ignored: int = 0) -> discord.Embed:
    embed = discord.Embed(colour=COLOUR, title="Documents I quote from")
    lines = []
    for s in sources:
        name = _source_link(clip(" ".join(s.title.split()), 150), s.url)
        weight = f" · authority {authority_label(s.authority)}" if s.authority != 1.0 else ""
        lines.append(f"{name}\n{_code(s.name)} · {s.passages} passages · indexed {_plain(s.indexed_at, 40)}{weight}")
    embed.description = clip("\n\n".join(lines) or "No documents are indexed.", DESCRIPTION_LIMIT)
    footer = f"{len(sources)} documents, {sum(s.passages for s in sources)} passages"
    if ignored:
        footer += f"; {ignored} files kept out by the corpus's .botignore"
    embed.set_footer(text=footer)
    return fit(embed)


def stats_embed(stats: Stats) -> discord.Embed:
    embed = discord.Embed(colour=COLOUR, title="Questions and answers")
    rate = f"{stats.helpful_rate:.0%}" if stats.helpful_rate is not None else "no votes yet"
    embed.description = (
        f"Asked: **{stats.asked}** · answered: **{stats.answered}** · declined: **{stats.declined}**\n"
        f"Helpful: **{rate}** ({stats.helpful} helpful, {stats.not_helpful} not helpful)"
    )
    for name, gaps in (
        ("Most frequent questions I could not answer", stats.gaps),
        ("Answers readers found unhelpful", stats.unhelpful),
    ):
        if gaps:
            lines = "\n".join(f"{g.count}× {_plain(g.question, 150)}" for g in gaps)
            embed.add_field(name=name, value=clip(lines, FIELD_VALUE_LIMIT), inline=False)
    if not stats.gaps and stats.asked:
        embed.add_field(name="Gaps", value="Every question so far found an answer.", inline=False)
    return fit(embed)


def add_repositories(embed: discord.Embed, repositories: Sequence[Repository]) -> None:
    """A field listing the git sources: name, commit, last sync and documents (names are plain, commits hex)."""
    lines = []
    for r in repositories:
        commit = f"`{r.commit[:12]}`" if r.commit else "not synced yet"
        lines.append(f"`{r.name}` · commit {commit} · synced {r.synced_at or 'never'} · {r.documents} documents")
    embed.add_field(name="Git sources", value=clip("\n".join(lines), FIELD_VALUE_LIMIT), inline=False)
    fit(embed)


def reindex_summary(report: ReindexReport) -> str:
    build = report.build
    lines = []
    if report.sync is not None:
        for r in report.sync.results:
            if r.removed_source:
                lines.append(f"Source `{r.name}` removed: {len(r.removed)} documents left the index.")
            elif r.error:
                kept = f"it keeps commit `{r.commit[:12]}`" if r.commit else "none of its documents are indexed yet"
                lines.append(f"Source `{r.name}` could not be synced; {kept} (the reason was sent to you).")
            else:
                lines.append(
                    f"Synced source `{r.name}` at commit `{(r.commit or '')[:12]}`: {len(r.added)} added, "
                    f"{len(r.changed)} changed, {len(r.removed)} removed."
                )
    lines += [
        f"Reindexed in {build.seconds:.1f} s: {build.documents} documents, {build.paragraphs} passages.",
        f"Passages: {report.passages_added} added, {report.passages_removed} removed, "
        f"{report.passages_unchanged} unchanged.",
    ]
    if build.documents > build.embedded_documents:
        lines.append(
            f"Embedded only what changed: {build.embedded_documents} document(s); "
            f"reused {build.documents - build.embedded_documents} unchanged."
        )
    for label, names in (("Added", build.added), ("Changed", build.changed), ("Removed", build.removed)):
        if names:
            lines.append(f"{label}: " + ", ".join(_code(n) for n in names))
    if build.skipped:
        lines.append(f"Skipped {len(build.skipped)}:")
        lines += [f"• {_code(s.name)}: {escape(s.reason)}" for s in build.skipped]
    return clip("\n".join(lines), CONTENT_LIMIT)


def progress_text(done: int, total: int) -> str:
    share = done / total if total else 1.0
    filled = round(share * 20)
    return f"Reindexing… `{'█' * filled}{'░' * (20 - filled)}` {share:.0%} ({done}/{total} texts embedded)"


def fit(embed: discord.Embed) -> discord.Embed:
    """Drop trailing fields until the embed's total text is within Discord's 6000 characters."""
    while len(embed) > EMBED_TOTAL_LIMIT and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    return embed


# --- /corpus -------------------------------------------------------------------------------------------------------

CHOICE_LIMIT = 100  # Discord: an autocomplete choice's name and a string value are at most 100 characters
CORPUS_LIST_SHOWN = 40  # documents listed by /corpus list; the rest are counted


def _plain(text: str, limit: int) -> str:
    """User- or document-supplied text on one line, shown as written: clipped, then escaped."""
    return escape(clip(" ".join(text.split()), limit))


def _code(name: str) -> str:
    """A file name in code style, on one line (a backtick in it would end the code span early)."""
    return f"`{clip(' '.join(_INVISIBLE.sub('', name).split()).replace('`', 'ˋ'), 100) or '?'}`"


def _count(number: int, word: str) -> str:
    return f"{number} {word}" if number == 1 else f"{number} {word}s"


def _size(size: int) -> str:
    return f"{size / 1000:.1f} kB" if size >= 1000 else f"{size} bytes"


def _timestamp(at: float) -> str:
    """A Discord timestamp: every reader sees it in their own time zone."""
    return f"<t:{int(at)}:f>"


def corpus_preview_embed(preview: Preview, uploaded_as: str) -> discord.Embed:
    """What `/corpus add` would do, before it does it."""
    verb = "Replace" if preview.replaces else "Add"
    embed = discord.Embed(colour=COLOUR, title=clip(f"{verb} {escape(preview.name)}?", TITLE_LIMIT))
    lines = [
        f"**{_plain(preview.title, 200)}**",
        f"{_count(len(preview.sections), 'section')} · {_count(preview.paragraphs, 'paragraph')} · "
        f"**{_count(preview.passages, 'passage')}** · {_size(preview.size)}",
    ]
    if preview.name != uploaded_as:
        lines.append(f"Stored as {_code(preview.name)} (converted to Markdown text; scripts and styles dropped).")
    if preview.replaces:
        lines.append(
            f"A document named {_code(preview.name)} already exists: its current text is kept as an archived "
            "version that `/corpus restore` can bring back."
        )
    embed.description = clip("\n".join(lines), DESCRIPTION_LIMIT)
    if preview.sections:
        sections = "\n".join(f"• {_plain(section, 150)}" for section in preview.sections[:15])
        if len(preview.sections) > 15:
            sections += f"\n… and {len(preview.sections) - 15} more"
        embed.add_field(name="Sections", value=clip(sections, FIELD_VALUE_LIMIT), inline=False)
    embed.set_footer(text=f"{verb}: the index is updated at once, and answers quote it right away.")
    return fit(embed)


def corpus_list_embed(documents: Sequence[DocumentInfo]) -> discord.Embed:
    embed = discord.Embed(colour=COLOUR, title="Documents in the corpus")
    lines = []
    for doc in documents[:CORPUS_LIST_SHOWN]:
        indexed = f" · indexed {_plain(doc.indexed_at, 40)}" if doc.indexed_at else " · not indexed yet"
        lines.append(
            f"**{_plain(doc.title, 120)}**\n{_code(doc.name)} · {_count(doc.passages, 'passage')} · "
            f"{_size(doc.size)}{indexed}"
        )
    text = "\n".join(lines) or "The corpus is empty."
    if len(documents) > CORPUS_LIST_SHOWN:
        text += f"\n… and {len(documents) - CORPUS_LIST_SHOWN} more (`python -m bot corpus list` shows all)."
    embed.description = clip(text, DESCRIPTION_LIMIT)
    embed.set_footer(text=f"{len(documents)} documents, {sum(d.passages for d in documents)} passages")
    return fit(embed)


def corpus_document_embed(doc: DocumentInfo) -> discord.Embed:
    # Discord rejects an embed whose link is not absolute (front matter such as `url: /docs/page/` is common)
    embed = discord.Embed(colour=COLOUR, title=clip(escape(doc.title), TITLE_LIMIT), url=safe_url(doc.url))
    indexed = _plain(doc.indexed_at, 40) if doc.indexed_at else "not indexed yet"
    embed.description = clip(
        f"{_code(doc.name)} · {_count(doc.passages, 'passage')} · {_size(doc.size)} · indexed {indexed}",
        DESCRIPTION_LIMIT,
    )
    if doc.sections:
        sections = "\n".join(f"• {_plain(section, 150)}" for section in doc.sections[:15])
        if len(doc.sections) > 15:
            sections += f"\n… and {len(doc.sections) - 15} more"
        embed.add_field(name="Sections", value=clip(sections, FIELD_VALUE_LIMIT), inline=False)
    for number, passage in enumerate(doc.first_passages[:3], start=1):
        embed.add_field(
            name=f"Passage {number}", value=clip(block_quote(clip(passage, 900)), FIELD_VALUE_LIMIT), inline=False
        )
    return fit(embed)


def corpus_history_embed(entries: Sequence[AuditEntry], name: str | None = None) -> discord.Embed:
    title = f"Changes to {_plain(name, 100)}" if name else "Corpus changes"
    embed = discord.Embed(colour=COLOUR, title=clip(title, TITLE_LIMIT))
    lines = []
    for entry in entries:
        version = f" · old text kept as version {entry.version}" if entry.version else ""
        detail = f" · {_plain(entry.detail, 200)}" if entry.detail else ""
        lines.append(
            f"{_timestamp(entry.at)} · {_plain(entry.actor, 80)} · **{_plain(entry.action, 40)}** {_code(entry.name)}"
            f"{version}{detail}"
        )
    embed.description = clip("\n".join(lines) or "No changes recorded yet.", DESCRIPTION_LIMIT)
    embed.set_footer(text="Newest first. Every replaced or removed version can be restored with /corpus restore.")
    return fit(embed)


def version_choice(version: Version) -> str:
    """An autocomplete line for a version: "name · date · reason", within Discord's 100 characters."""
    when = dt.datetime.fromtimestamp(version.archived_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    tail = f" · {when} · {version.reason} · #{version.id}"
    return clip(version.name, CHOICE_LIMIT - len(tail)) + tail


def choice_name(text: str) -> str:
    """Text for an autocomplete choice name (1-100 characters, one line)."""
    return clip(" ".join(text.split()), CHOICE_LIMIT) or "?"


def corpus_progress_text(action: str, name: str, progress: tuple[int, int] | None) -> str:
    if progress is None:
        return f"{action} {_code(name)}… updating the index."
    done, total = progress
    share = done / total if total else 1.0
    filled = round(share * 20)
    return f"{action} {_code(name)}… `{'█' * filled}{'░' * (20 - filled)}` {share:.0%} ({done}/{total})"


# --- /teach ---------------------------------------------------------------------------------------------------------


def option_label(text: str, number: int | None = None) -> str:
    """A select option's label or description: one line, 1-100 characters."""
    line = " ".join(text.split())
    return clip(f"{number}. {line}" if number is not None else line, CHOICE_LIMIT) or "?"


def teach_panel_embed(question: str, candidates: Sequence[Result]) -> discord.Embed:
    embed = discord.Embed(colour=COLOUR, title=clip(f"Teach: {escape(question)}", TITLE_LIMIT))
    lines = [
        f"**{number}.** {_plain(passage_of(r), 200)}\n— {_plain(r.source, 80)}"
        for number, r in enumerate(candidates, start=1)
    ]
    intro = "Pick the passage that answers this question, or say the documents don't answer it."
    if not candidates:
        intro = "I found no passages for this question."
    search = "Not listed? Find it by a phrase: `/teach add question: … phrase: …`."
    embed.description = clip("\n".join([intro, "", *lines, "", search]), DESCRIPTION_LIMIT)
    embed.set_footer(text="The choice holds for this question and close wordings of it; /teach list shows lessons.")
    return fit(embed)


def lessons_embed(lessons: Sequence[Lesson], flagged: set[int]) -> discord.Embed:
    embed = discord.Embed(colour=COLOUR, title="Lessons")
    lines = []
    for lesson in lessons:
        if lesson.passage is None:
            answer = "no answer in the documents"
        else:
            answer = f"{_code(lesson.document or '')} “{_plain(lesson.passage, 150)}”"
        mark = "\n⚠️ **Flagged:** the document no longer holds this text; not applied." if lesson.id in flagged else ""
        lines.append(
            f"**#{lesson.id}** “{_plain(lesson.question, 150)}” → {answer}\n"
            f"{_plain(lesson.actor, 80)} · {_timestamp(lesson.taught_at)}{mark}"
        )
    embed.description = clip("\n\n".join(lines) or "No lessons yet.", DESCRIPTION_LIMIT)
    embed.set_footer(text=f"{len(lessons)} lessons, {len(flagged)} flagged. Remove one with /teach remove.")
    return fit(embed)


def lesson_history_embed(entries: Sequence[LessonEntry]) -> discord.Embed:
    embed = discord.Embed(colour=COLOUR, title="Lessons taught and removed")
    lines = [
        f"{_timestamp(e.at)} · {_plain(e.actor, 80)} · **{_plain(e.action, 40)}** #{e.lesson} · {_plain(e.detail, 300)}"
        for e in entries
    ]
    embed.description = clip("\n".join(lines) or "No lessons taught yet.", DESCRIPTION_LIMIT)
    embed.set_footer(text="Newest first.")
    return fit(embed)
