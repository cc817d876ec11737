"""A reader of Discord's message markdown for tests: what a Discord client would make of the text the bot sent.

It follows the rules of Discord's parser (simple-markdown with Discord's additions) that matter for safety: a
backslash before any symbol shows the symbol itself; code spans and blocks show their text literally; masked links
`[label](url)`, autolinks `<scheme:/…>`, bare `http(s)://` URLs, mentions, channel and role links, slash-command
mentions, timestamps, custom and shortcode emoji, `@everyone`/`@here`; bold, italics, underline, strikethrough and
spoilers; headings, subtext, lists and block quotes at the start of a line.

It is stricter than Discord where that is simpler: every rule is tried at every position (Discord's text rule skips
ahead over letters and digits), and a lone `*`, `_`, `~` or `|` that no escape covers counts as formatting even when
Discord would find no partner for it. So a text this reader calls plain is plain in Discord.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ESCAPE = re.compile(r"\\([^0-9A-Za-z\s])")
_CODE_BLOCK = re.compile(r"```(?:[a-z0-9_+\-.#]+?\n)?\n*([^\n][\s\S]*?)\n*```")
_INLINE_CODE = re.compile(r"(`+)([\s\S]*?[^`])\1(?!`)")
_LINK = re.compile(
    r"\[((?:\[[^\]]*\]|[^\[\]]|\](?=[^\[]*\]))*)\]"
    r"\(\s*<?((?:\([^)]*\)|[^\s\\]|\\.)*?)>?(?:\s+['\"]([\s\S]*?)['\"])?\s*\)"
)
_AUTOLINK = re.compile(r"<([^: >]+:/[^ >]+)>")
_ANGLE_SYNTAX = re.compile(r"<(?:@!?\d+|@&\d+|#\d+|/[^\s:>]+:\d+|t:-?\d+(?::[tTdDfFR])?|a?:\w+:\d+|id:\w+)>")
_EVERYONE = re.compile(r"@(?:everyone|here)")
_URL = re.compile(r"(?i)(?:https?|steam)://[^\s<]+[^<.,:;\"')\]\s]")
_EMOJI = re.compile(r":([^\s:]+?(?:::skin-tone-\d)?):")
_BOLD = re.compile(r"\*\*((?:\\[\s\S]|[^\\])+?)\*\*(?!\*)")
_LINE_BLOCK_QUOTE = re.compile(r"(?:>>> |> |>$)")
_LINE_MARK = re.compile(r"[^\S\n]*(?:#{1,3}\s|-#\s|[*+-]\s|\d+[.)]\s)")


@dataclass
class Rendered:
    """What a reader sees: the visible text, and everything that is not plain text."""

    visible: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # masked links: (label, target)
    urls: list[str] = field(default_factory=list)  # clickable URLs shown as themselves (bare or <autolink>)
    mentions: list[str] = field(default_factory=list)  # <@…>, <#…>, <t:…>, <:emoji:…>, @everyone, :shortcode:
    formats: list[str] = field(default_factory=list)  # bold, stray markup characters, headings, lists, quotes
    code: list[str] = field(default_factory=list)  # text shown as code


def render(text: str) -> Rendered:
    out = Rendered()
    lines = []
    for line in text.split("\n"):
        while mark := _LINE_BLOCK_QUOTE.match(line):  # block-quote markers (the bot's own quotes are block quotes)
            out.formats.append("blockquote")
            line = line[mark.end() :]
        lines.append(line)
    body = "\n".join(lines)
    blocks = [m.span() for m in _CODE_BLOCK.finditer(body)]
    start = 0
    for line in lines:  # headings, subtext and lists, outside code blocks
        inside = any(a <= start < b for a, b in blocks)
        if not inside and (mark := _LINE_MARK.match(line)):
            out.formats.append(f"line:{mark.group().strip()}")
        start += len(line) + 1
    _inline(body, out)
    return out


def _inline(text: str, out: Rendered) -> None:
    pos = 0
    while pos < len(text):
        if m := _ESCAPE.match(text, pos):
            out.visible += m[1]
        elif m := _CODE_BLOCK.match(text, pos):
            out.code.append(m[1])
            out.visible += m[1]
        elif m := _INLINE_CODE.match(text, pos):
            out.code.append(m[2])
            out.visible += m[2]
        elif m := _LINK.match(text, pos):
            out.links.append((m[1], m[2]))
            _inline(m[1], out)
        elif m := _ANGLE_SYNTAX.match(text, pos):
            out.mentions.append(m[0])
            out.visible += m[0]
        elif m := _AUTOLINK.match(text, pos):
            out.urls.append(m[1])
            out.visible += m[1]
        elif m := _URL.match(text, pos):
            out.urls.append(m[0])
            out.visible += m[0]
        elif (m := _EVERYONE.match(text, pos)) or (m := _EMOJI.match(text, pos)):
            out.mentions.append(m[0])
            out.visible += m[0]
        elif m := _BOLD.match(text, pos):
            out.formats.append("bold")
            _inline(m[1], out)
        else:
            char = text[pos]
            if char in "*_~|":
                out.formats.append(f"stray:{char}")
            out.visible += char
            pos += 1
            continue
        pos = m.end()


def is_plain(text: str) -> bool:
    """True when Discord would show `text` with no link, mention, emoji, formatting or code."""
    shown = render(text)
    return not (shown.links or shown.urls or shown.mentions or shown.formats or shown.code)
