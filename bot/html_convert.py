"""HTML to Markdown, with the standard library's `html.parser`. Headings, paragraphs, list items, block quotes, code
blocks and http(s)/mailto links are kept, and text is escaped so that Markdown shows it as text. Scripts, styles,
noscript, templates, frames and embedded objects, form controls (textarea, select, button), navigation, tables and
comments are dropped with their text; nothing is ever run.

Why not a library: markdownify 1.2.3 and html2text 2025.4.15 were tried on this module's tests. Out of the box both
keep `javascript:` links and the text of noscript, template, iframe, form controls and nav, turn text such as
`&lt;b&gt;` or `[a](http://x)` into markup, and write no front matter; markdownify also lets a ``` inside <pre> end
the code block. Each would need about as much code as this module to be as safe, and would bring dependencies
(markdownify: beautifulsoup4, soupsieve, six, typing-extensions) or a GPL-3.0 licence (html2text).
"""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import yaml

from bot.errors import CorpusChangeError

_DROPPED = frozenset(
    "script style noscript template iframe object svg math canvas textarea select button nav table".split()
)
_BLOCKS = frozenset(
    "p div section article main header footer aside li ul ol dl dt dd blockquote pre h1 h2 h3 h4 h5 h6 hr "
    "figure figcaption address details summary body html form fieldset legend center".split()
)
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&#])")
_BLOCK_START = re.compile(r"^(\s*)([+\-=|~]|\d+[.)])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The conversion's time budget. Python 3.11's html.parser reads the rest of the page again for each unclosed "<a",
# "<!--" or "</" at its end (fixed in later Pythons): 1 MB of them would take many minutes. A real page of 1 MB
# converts in about a second.
CONVERT_SECONDS = 10.0
TOO_COMPLEX = "The HTML file is too complex to convert (many unclosed tags or comments); nothing was changed."


def _escape(text: str) -> str:
    """Text that Markdown shows as-is: inline markup characters and block markers at the start are escaped."""
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _BLOCK_START.sub(lambda m: m.group(1) + re.sub(r"([^\d\s])", r"\\\1", m.group(2), count=1), text)


def _safe_href(href: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    scheme = href.split(":", 1)[0].lower() if ":" in href.split("/", 1)[0] else ""
    if scheme not in ("", "http", "https", "mailto") or href.startswith("#"):
        return None
    return re.sub(r"[\s()<>\\]", lambda m: f"%{ord(m.group()):02X}", href)


class _HtmlToMarkdown(HTMLParser):
    """Readable text of an HTML page as Markdown blocks: headings, paragraphs, list items, block quotes and code."""

    def __init__(self, seconds: float = CONVERT_SECONDS) -> None:
        super().__init__(convert_charrefs=True)
        self._deadline = time.monotonic() + seconds
        self.blocks: list[str] = []
        self.title: str | None = None
        self.first_h1: str | None = None
        self.description: str | None = None
        self._buffer: list[str] = []
        self._skip = 0
        self._in_title = False
        self._title_parts: list[str] = []
        self._heading = 0
        self._quote = 0
        self._list = 0
        self._item = False
        self._pre = 0
        self._pre_parts: list[str] = []
        self._links: list[str | None] = []  # open <a> elements: their safe href, or None (text kept, no link)
        self._hrefs: list[str] = []  # hrefs of the links in the current block, by number

    def _in_time(self) -> None:
        """Called for every piece the parser hands over, so a page that takes too long is refused while it runs."""
        if time.monotonic() > self._deadline:
            raise CorpusChangeError(TOO_COMPLEX)

    def handle_comment(self, data: str) -> None:
        self._in_time()

    def handle_decl(self, decl: str) -> None:
        self._in_time()

    def handle_pi(self, data: str) -> None:
        self._in_time()

    def unknown_decl(self, data: str) -> None:
        self._in_time()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_time()
        if self._skip:
            if tag in _DROPPED:
                self._skip += 1
            return
        if tag in _DROPPED:
            self._skip = 1
            return
        if tag == "title":
            self._in_title = True
        elif tag == "meta":
            values = dict(attrs)
            if (values.get("name") or "").lower() == "description" and values.get("content"):
                self.description = " ".join((values["content"] or "").split())
        elif self._pre:
            return
        elif tag == "pre":
            self._flush()
            self._pre = 1
        elif tag == "a":
            self._links.append(_safe_href(dict(attrs).get("href")))
            if self._links[-1]:
                self._buffer.append("\x01")  # markers, not text: escaping leaves them alone
        elif tag == "br":
            self._buffer.append(" ")
        elif tag in _BLOCKS:
            self._flush()
            if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self._heading = int(tag[1])
            elif tag == "blockquote":
                self._quote += 1
            elif tag in ("ul", "ol"):
                self._list += 1
            elif tag == "li":
                self._item = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        self._in_time()
        if self._skip:
            if tag in _DROPPED:
                self._skip -= 1
            return
        if tag == "title":
            self._in_title = False
            self.title = self.title or " ".join("".join(self._title_parts).split()) or None
        elif tag == "pre" and self._pre:
            code = "".join(self._pre_parts).strip("\n")
            if code.strip():
                fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", code)), default=0))
                self.blocks.append(f"{fence}\n{code}\n{fence}")
            self._pre, self._pre_parts = 0, []
        elif self._pre:
            return
        elif tag == "a" and self._links:
            href = self._links.pop()
            if href:
                self._hrefs.append(href)
                self._buffer.append(f"\x02{len(self._hrefs) - 1}\x03")
        elif tag in _BLOCKS:
            self._flush()
            if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self._heading = 0
            elif tag == "blockquote":
                self._quote = max(self._quote - 1, 0)
            elif tag in ("ul", "ol"):
                self._list = max(self._list - 1, 0)
            elif tag == "li":
                self._item = False

    def handle_data(self, data: str) -> None:
        self._in_time()
        if self._skip:
            return
        if self._in_title:
            self._title_parts.append(data)
        elif self._pre:
            self._pre_parts.append(data)
        else:
            self._buffer.append(_CONTROL.sub("", data))

    def _flush(self) -> None:
        raw = " ".join("".join(self._buffer).split())
        hrefs, self._buffer, self._hrefs = self._hrefs, [], []
        plain = re.sub(r"\x02\d+\x03", "", raw).replace("\x01", "").strip()
        if not re.search(r"\w", plain):
            return
        # a link is \x01 text \x02 number \x03: escape the text, then turn the markers into Markdown link syntax
        text = _escape(raw).replace("\x01", "[")
        text = re.sub(r"\x02(\d+)\x03", lambda m: f"]({hrefs[int(m.group(1))]})", text)
        text = re.sub(r"\[\s*\]\([^)]*\)", "", text).strip()  # a link with no visible text
        if self._heading:
            if self._heading == 1 and self.first_h1 is None:
                self.first_h1 = plain
            self.blocks.append("#" * self._heading + " " + text)
        elif self._item or self._list:
            self.blocks.append("- " + text)
        elif self._quote:
            self.blocks.append("> " + text)
        else:
            self.blocks.append(text)

    def close(self) -> None:
        super().close()
        self._flush()


def html_to_markdown(text: str, seconds: float = CONVERT_SECONDS) -> str:
    """Markdown for an HTML page, with a YAML front matter title; CorpusChangeError when it has no readable text or
    takes longer than `seconds` to convert."""
    parser = _HtmlToMarkdown(seconds)
    parser.feed(text)
    parser.close()
    if not parser.blocks:
        raise CorpusChangeError("The HTML file has no readable text (scripts, styles and markup are not read).")
    meta: dict[str, str] = {}
    title = parser.title or parser.first_h1
    if title:
        meta["title"] = title
    if parser.description:
        meta["description"] = parser.description
    front = ""
    if meta:
        dumped = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=10_000)
        front = f"---\n{dumped}---\n\n"
    return front + "\n\n".join(parser.blocks) + "\n"
