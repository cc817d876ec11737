"""Reading the corpus: Markdown and plain-text documents into attributed paragraphs of quotable prose.

Markdown front matter gives the title, source URL and, for interviews, who speaks. Headings give sections. Link
syntax, images and badges, HTML, tables and code blocks are removed from quotable text, so what the bot quotes is
what a reader of the rendered page sees.

Over 500 lines because it is one pipeline read top to bottom (files and ignore rules, front matter, Markdown blocks,
plain text, the parse budget) whose parts share the `Paragraph`/`Block` types and each other's helpers; split apart,
each piece would import most of the others.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pathspec
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.errors import CorpusChangeError
from bot.html_convert import html_to_markdown

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt")
HTML_SUFFIXES = (".html", ".htm")  # read from a source's repository (corpus uploads are converted to Markdown)
MAX_FILE_BYTES = 5_000_000
# A parse budget: one document is at most this many paragraphs and headings, so a crafted file (a million one-line
# paragraphs) cannot hold a build or a preview for long. Large real documents hold a few thousand of each.
MAX_PARAGRAPHS = 20_000
MAX_HEADINGS = 5_000

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
# Hugo shortcodes, {{< … >}} and {{% … %}}, are cut out by `_drop_shortcodes`: an opening mark, then the first closing
# mark after it. (One lazy pattern for both read the rest of the text again from every unclosed opening mark.)
_SHORTCODE_OPEN = re.compile(r"\{\{[<%]")
_SHORTCODE_CLOSE = re.compile(r"[%>]\}\}")
_ATTRIBUTION = re.compile(r"^[–—-]{1,2}\s*(?P<name>[^\W\d][\w .,'’-]{1,80})$")
_MIN_WORDS = 4


class CorpusError(Exception):
    """The corpus as a whole cannot be used (missing, not a directory, nothing indexable)."""


class SkippedFileError(Exception):
    """One file cannot be indexed; the message says why in a few words."""


Span = tuple[int, int]


@dataclass(frozen=True)
class Block:
    """A list item or code block that a lead-in paragraph introduces ("Here are some things you can do:")."""

    kind: str  # item | code
    text: str
    code: tuple[Span, ...] = ()  # inline code spans in `text` (a code block is code throughout)
    depth: int = 0  # nesting of a list item (0 for a top-level item)


@dataclass(frozen=True)
class Paragraph:
    text: str
    section: tuple[str, ...] = ()
    speaker: str | None = None
    kind: str = "prose"  # prose | list | quote
    code: tuple[Span, ...] = ()  # offsets of inline code in `text`, shown as code
    follow: tuple[Block, ...] = ()  # for a paragraph ending with ":", the list or code it introduces
    heading: int = -1  # the Markdown heading it is under, by number in `Document.headings` (-1: none, the page top)
    links: tuple[tuple[int, int, str], ...] = ()  # offsets of each link's text in `text`, and its target as written


@dataclass(frozen=True)
class Document:
    name: str  # path relative to the corpus directory, with forward slashes
    title: str
    paragraphs: tuple[Paragraph, ...]
    url: str | None = None
    speaker: str | None = None
    interviewer: str | None = None
    is_interview: bool = False
    digest: str = ""
    about: str = ""  # title, description and headings: what the document is about, for ranking documents
    authority: float = 1.0  # front matter `authority`: how much a moderator trusts this document to answer
    headings: tuple[str, ...] = ()  # every Markdown heading's text as a browser shows it, in order, for anchors


@dataclass(frozen=True)
class SkippedFile:
    name: str
    reason: str


@dataclass
class CorpusLoad:
    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


IGNORE_FILE = ".botignore"  # in the corpus directory: files to keep out of the index, in gitignore syntax


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every non-hidden file under the corpus directory that its ignore file does not exclude, in a stable order."""
    return corpus_listing(corpus_dir)[0]


def corpus_listing(corpus_dir: Path) -> tuple[list[Path], list[str]]:
    """The corpus's files, and the names of those its ignore file (`.botignore`, gitignore syntax) keeps out."""
    if not corpus_dir.exists():
        raise CorpusError(f"Corpus directory {corpus_dir} does not exist.")
    if not corpus_dir.is_dir():
        raise CorpusError(f"Corpus path {corpus_dir} is not a directory.")
    try:
        paths = [
            p
            for p in corpus_dir.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
        ]
        ignore = ignore_spec(corpus_dir)
    except OSError as exc:
        raise CorpusError(f"Cannot read corpus directory {corpus_dir}: {exc.strerror or exc}.") from exc
    paths.sort(key=lambda p: p.relative_to(corpus_dir).as_posix())
    if ignore is None:
        return paths, []
    kept: list[Path] = []
    ignored: list[str] = []
    for path in paths:
        name = path.relative_to(corpus_dir).as_posix()
        if ignore.match_file(name):
            ignored.append(name)
        else:
            kept.append(path)
    return kept, ignored


def ignore_spec(corpus_dir: Path) -> pathspec.GitIgnoreSpec | None:
    """The corpus's ignore patterns, or None when it has no ignore file."""
    path = corpus_dir / IGNORE_FILE
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return pathspec.GitIgnoreSpec.from_lines(lines)


def load_corpus(corpus_dir: Path) -> CorpusLoad:
    """Parse every supported file; files that cannot be used are reported, never fatal."""
    result = CorpusLoad()
    for path in corpus_files(corpus_dir):
        name = path.relative_to(corpus_dir).as_posix()
        try:
            result.documents.append(load_document(path, name))
        except SkippedFileError as exc:
            result.skipped.append(SkippedFile(name, str(exc)))
    return result


def read_text(path: Path, html: bool = False) -> tuple[str, str]:
    """Return (text, sha256 of the bytes) for a corpus file, or raise SkippedFileError saying why not."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES + (HTML_SUFFIXES if html else ()):
        raise SkippedFileError(f"unsupported file type {path.suffix or '(none)'!r}; use .md or .txt")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SkippedFileError(f"too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,})")
        data = path.read_bytes()
    except OSError as exc:
        raise SkippedFileError(f"cannot be read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise SkippedFileError("empty file")
    if b"\x00" in data:
        raise SkippedFileError("binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SkippedFileError(f"not UTF-8 text (invalid byte at offset {exc.start})") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n"), hashlib.sha256(data).hexdigest()


def load_document(path: Path, name: str | None = None, authority: float | None = None, html: bool = False) -> Document:
    """Parse one file. `authority` is what a document whose front matter sets none gets (its source's); `html`
    reads HTML pages too (a source's)."""
    name = name or path.name
    text, digest = read_text(path, html)
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        try:
            text = html_to_markdown(text)
        except CorpusChangeError as exc:
            raise SkippedFileError("no readable text in the HTML") from exc
    doc = parse_text(text, name if suffix not in HTML_SUFFIXES else f"{name}.md", authority)
    if suffix in HTML_SUFFIXES:  # an HTML page's anchors are its own ids, not its headings' slugs
        doc = Document(**{**doc.__dict__, "name": name, "headings": ()})
    if not doc.paragraphs:
        raise SkippedFileError("no quotable prose (only code, tables, links or very short lines)")
    return Document(**{**doc.__dict__, "digest": digest})


def parse_text(text: str, name: str, authority: float | None = None) -> Document:
    """The document in `text` stored as `name` (.txt is plain text, anything else Markdown; `authority` is what a
    Markdown document whose front matter sets none gets). Whatever goes wrong in parsing one file is
    SkippedFileError saying why, so that the file is skipped and never stops a build."""
    try:
        if name.lower().endswith(".txt"):
            return parse_plain_text(text, name)
        return parse_markdown(text, name, authority)
    except SkippedFileError:
        raise
    except (RecursionError, MemoryError) as exc:
        raise SkippedFileError(f"too complex to read ({exc.__class__.__name__})") from exc
    except Exception as exc:  # a parser bug on one odd file: skip the file, keep the traceback for the log
        log.warning("cannot parse %s", name, exc_info=True)
        raise SkippedFileError(f"cannot be parsed ({exc.__class__.__name__})") from exc


def _over_budget(paragraphs: int, headings: int) -> None:
    if paragraphs > MAX_PARAGRAPHS:
        raise SkippedFileError(f"too many paragraphs (over {MAX_PARAGRAPHS:,}); split it into smaller documents")
    if headings > MAX_HEADINGS:
        raise SkippedFileError(f"too many headings (over {MAX_HEADINGS:,}); split it into smaller documents")


# --- plain text -------------------------------------------------------------------------------------------------


def parse_plain_text(text: str, name: str) -> Document:
    """Blank lines separate paragraphs; a short line without end punctuation standing alone is a heading."""
    blocks = [" ".join(line.strip() for line in block.splitlines()) for block in re.split(r"\n\s*\n", text)]
    blocks = [b for b in blocks if b.strip()]
    _over_budget(len(blocks), 0)
    title = Path(name).stem.replace("-", " ").replace("_", " ").strip() or name
    if blocks and _looks_like_heading(blocks[0]):
        title = blocks.pop(0)
    paragraphs: list[Paragraph] = []
    section: tuple[str, ...] = ()
    for block in blocks:
        if _looks_like_heading(block):
            section = (block,)
        elif _quotable(block):
            paragraphs.append(Paragraph(block, section))
    return Document(name=name, title=title, paragraphs=tuple(paragraphs))


def _looks_like_heading(block: str) -> bool:
    return len(block) <= 100 and not block.rstrip().endswith((".", "!", "?", ":", ",", ";", "”", '"'))


def _quotable(text: str) -> bool:
    return len(re.findall(r"\w+", text)) >= _MIN_WORDS


# --- Markdown ---------------------------------------------------------------------------------------------------

_MARKDOWN = MarkdownIt("commonmark").enable("table")


MAX_FRONT_MATTER_CHARS = 65_536  # a title, a URL, a description and a few words more; never a document's worth
MAX_FRONT_MATTER_DEPTH = 16  # nesting of lists and mappings, which the bot never reads but must get through


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML for front matter, bounded: no anchors or aliases (a few hundred bytes of nested aliases expand to
    gigabytes, "billion laughs"), and lists and mappings nested at most MAX_FRONT_MATTER_DEPTH deep (deeper ones
    exhausted Python's recursion limit)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise SkippedFileError("front matter uses YAML anchors or aliases (&, *), which are not read")
        if self._depth >= MAX_FRONT_MATTER_DEPTH:
            raise SkippedFileError(f"front matter is nested more than {MAX_FRONT_MATTER_DEPTH} levels deep")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The front matter's YAML mapping and the text after it; SkippedFileError saying why front matter cannot be
    read. Only its plain values (text and numbers) are ever used."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    if len(match.group(1)) > MAX_FRONT_MATTER_CHARS:
        raise SkippedFileError(
            f"front matter is too long ({len(match.group(1)):,} characters; at most {MAX_FRONT_MATTER_CHARS:,})"
        )
    loader = _FrontMatterLoader(match.group(1))
    try:
        meta = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise SkippedFileError(f"front matter is not valid YAML ({exc.__class__.__name__})") from exc
    except (ValueError, RecursionError) as exc:  # a number too long to convert, for one
        raise SkippedFileError(f"front matter cannot be read ({exc.__class__.__name__})") from exc
    finally:
        loader.dispose()
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise SkippedFileError("front matter is not a YAML mapping")
    return meta, text[match.end() :]


def _drop_shortcodes(text: str) -> str:
    """`text` without its Hugo shortcodes, in one pass: each search starts where the last one ended."""
    kept: list[str] = []
    pos = 0
    while (opening := _SHORTCODE_OPEN.search(text, pos)) is not None:
        closing = _SHORTCODE_CLOSE.search(text, opening.end())
        if closing is None:  # no closing mark after this opening mark, so none after any later one either
            break
        kept.append(text[pos : opening.start()])
        pos = closing.end()
    kept.append(text[pos:])
    return "".join(kept)


def _meta_text(meta: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = meta.get(key)
        if isinstance(value, str | int | float) and str(value).strip():
            return " ".join(str(value).split())
    return None


AUTHORITY_WORDS = {"high": 1.5, "normal": 1.0, "low": 0.5, "never": 0.0}


def authority_of(meta: dict[str, Any], default: float = 1.0) -> float:
    """Front matter `authority`: high, normal, low or never, or a number from 0 to 2 (1 is normal)."""
    value = meta.get("authority")
    if value is None:
        return default
    if isinstance(value, str) and value.strip().lower() in AUTHORITY_WORDS:
        return AUTHORITY_WORDS[value.strip().lower()]
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 2:
        return float(value)
    raise SkippedFileError(f"front matter authority {value!r} is not high, normal, low, never or a number from 0 to 2")


def authority_label(value: float) -> str:
    """high, normal, low or never for the named levels, else the number."""
    names = {v: k for k, v in AUTHORITY_WORDS.items()}
    return names.get(value, f"{value:g}")


def parse_markdown(text: str, name: str, authority: float | None = None) -> Document:
    meta, body = split_front_matter(text)
    body = _drop_shortcodes(body)
    is_interview = str(meta.get("format", "")).strip().lower() == "interview"
    speaker = _meta_text(meta, "speaker", "author")
    title = _meta_text(meta, "title")
    paragraphs: list[Paragraph] = []
    follows: dict[int, list[Block]] = {}
    # a front-matter description says what the page is for ("This doc has some tips…"): it tells which document
    # answers, but it is a pointer, not an answer, so it is never quoted. An interview's is its subtitle, the
    # editor's introduction of who is speaking ("An interview with …, Sr. Director of …"): quoted first, in the
    # editor's name, as the interview's other words before its first question are
    description = _meta_text(meta, "description", "summary") or ""
    editor = _meta_text(meta, "interviewer") or "the editor"
    headings: list[tuple[int, str]] = []
    all_headings: list[str] = []
    slugs: list[str] = []  # every heading as GitHub reads it for its anchor, the title's too
    under = -1  # the heading the next paragraphs are under (-1: the top of the page)
    lead: int | None = None  # the paragraph ending with ":" whose list or code block may follow
    for block in _blocks(_MARKDOWN.parse(body)):
        if block.kind in ("heading", "link-heading"):
            slugs.append(block.slug_text)
            under = len(slugs) - 1
        if block.kind == "link-heading":  # a heading that is only a link: an anchor, never a section
            continue
        if block.kind == "heading":
            lead = None
            if block.level == 1 and title is None:
                title = block.text
                under = -1
                continue
            if block.level == 1 and block.text == title:
                under = -1
                continue
            headings = [(lvl, txt) for lvl, txt in headings if lvl < block.level] + [(block.level, block.text)]
            all_headings.append(block.text)
            _over_budget(len(paragraphs), len(all_headings))
            continue
        if block.kind in ("list", "code") and lead is not None:
            kind = "code" if block.kind == "code" else "item"
            follows[lead].append(Block(kind, block.text, block.code, max(block.level - 1, 0)))
        elif block.kind not in ("list", "code"):
            lead = None
        if block.kind == "code":
            continue
        section = tuple(txt for _, txt in headings)
        if block.kind == "prose" and block.text.endswith(":"):
            lead = len(paragraphs)
            follows[lead] = []
        if not _quotable(block.text) and lead != len(paragraphs):
            continue
        block_speaker = None
        if block.kind == "quote":
            block_speaker = block.attribution or (speaker if is_interview else None)
        elif is_interview:
            block_speaker = speaker if section else editor  # before the first question: the editor introducing
        paragraphs.append(
            Paragraph(block.text, section, block_speaker, block.kind, block.code, heading=under, links=block.links)
        )
        _over_budget(len(paragraphs), len(all_headings))

    paragraphs = [
        Paragraph(p.text, p.section, p.speaker, p.kind, p.code, tuple(follows.get(i, ())), p.heading, p.links)
        for i, p in enumerate(paragraphs)
        if _quotable(p.text) or follows.get(i)
    ]
    if is_interview and description and _quotable(description):
        paragraphs.insert(0, Paragraph(description, (), editor))
    title = title or Path(name).stem.replace("-", " ").replace("_", " ")
    return Document(
        name=name,
        title=title,
        paragraphs=tuple(paragraphs),
        url=_meta_text(meta, "source_url", "url", "source", "link"),
        speaker=speaker,
        interviewer=_meta_text(meta, "interviewer"),
        is_interview=is_interview,
        about=" \n".join(dict.fromkeys(t for t in (title, description, *all_headings) if t)),
        authority=authority_of(meta, 1.0 if authority is None else authority),
        headings=tuple(slugs),
    )


@dataclass
class _Block:
    kind: str  # heading | link-heading (a heading that is only a link) | prose | list | quote | code
    text: str
    level: int = 0  # a heading's level; a list item's nesting depth (1 for a top-level item)
    attribution: str | None = None
    code: tuple[Span, ...] = ()
    slug_text: str = ""  # a heading's text as the page shows it (code spans and link text kept, markup dropped)
    links: tuple[LinkSpan, ...] = ()


def _blocks(tokens: list[Token]) -> Iterator[_Block]:
    """Flatten markdown-it's token stream into headings and paragraphs, skipping code, tables and raw HTML."""
    skip_depth = 0  # inside a table
    list_depth = 0
    quote_lines: list[str] | None = None
    for i, token in enumerate(tokens):
        if token.type == "table_open":
            skip_depth += 1
        elif token.type == "table_close":
            skip_depth -= 1
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif token.type == "blockquote_open" and quote_lines is None:
            quote_lines = []
        elif token.type == "blockquote_close" and quote_lines is not None and token.level == 0:
            yield from _quote_block(quote_lines)
            quote_lines = None
        elif token.type in ("fence", "code_block") and not skip_depth and quote_lines is None:
            if token.content.strip():
                yield _Block("code", token.content.strip("\n"), level=list_depth)
        elif token.type == "inline" and not skip_depth:
            previous = tokens[i - 1].type if i else ""
            rendered = render_inline_links(token)
            if rendered is None:
                if previous == "heading_open":
                    yield _Block("link-heading", "", level=int(tokens[i - 1].tag[1]), slug_text=heading_text(token))
                continue
            text, code, links = rendered
            if previous == "heading_open":
                level = int(tokens[i - 1].tag[1])
                yield _Block("heading", text, level=level, slug_text=heading_text(token))
            elif quote_lines is not None:
                quote_lines.append(text)
            else:
                yield _Block("list" if list_depth else "prose", text, level=list_depth, code=code, links=links)


def _quote_block(lines: list[str]) -> Iterator[_Block]:
    attribution = None
    if lines and (match := _ATTRIBUTION.match(lines[-1])):
        attribution = match.group("name").strip()
        lines = lines[:-1]
    for line in lines:
        yield _Block("quote", line, attribution=attribution)


_CODE_OPEN, _CODE_CLOSE = "\ue000", "\ue001"  # private-use marks around inline code while the text is cleaned
_LINK_OPEN, _LINK_CLOSE = "\ue002", "\ue003"  # and around a link's text
_CONTENTS_SEPARATOR = re.compile(r"\s*[-–—:]\s")


def heading_text(token: Token) -> str:
    """A heading's text as a browser shows it, which GitHub and GitLab make its anchor from: text, code spans and
    link text, without images, raw HTML or emphasis marks."""
    parts = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)


LinkSpan = tuple[int, int, str]  # offsets of a link's text, and where it leads (as written: maybe relative)


def render_inline(token: Token) -> tuple[str, tuple[Span, ...]] | None:
    """Visible text of an inline token and the offsets of its inline code (see `render_inline_links`)."""
    rendered = render_inline_links(token)
    return None if rendered is None else rendered[:2]


def render_inline_links(token: Token) -> tuple[str, tuple[Span, ...], tuple[LinkSpan, ...]] | None:
    """Visible text of an inline token and the offsets of its inline code; None for lines that are only links
    (tables of contents, link lists) and for contents entries ("[Your First Contribution](…) - things to know")."""
    parts: list[str] = []
    outside_link = []
    link_depth = 0
    has_link = False
    children = [c for c in token.children or [] if not (c.type == "text" and not c.content.strip())]
    targets: list[str] = []
    for n, child in enumerate(children):
        if child.type == "link_open":
            link_depth += 1
            has_link = True
            parts.append(_LINK_OPEN)
            targets.append(str(child.attrGet("href") or ""))
        elif child.type == "link_close":
            link_depth -= 1
            parts.append(_LINK_CLOSE)
            after = children[n + 1] if n + 1 < len(children) else None
            first_link = children[0].type == "link_open" and link_depth == 0 and not outside_link
            if first_link and after is not None and after.type == "text" and _CONTENTS_SEPARATOR.match(after.content):
                return None  # a contents entry: a link to a page or section, then what it holds
        elif child.type == "text":
            parts.append(child.content)
            if not link_depth:
                outside_link.append(child.content)
        elif child.type == "code_inline":
            parts.append(f"{_CODE_OPEN}{child.content}{_CODE_CLOSE}")
            if not link_depth:
                outside_link.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        # images (badges), raw HTML and emphasis markers contribute no text
    marked = "".join(parts)
    text = _tidy_inline(re.sub(f"[{_LINK_OPEN}{_LINK_CLOSE}]", "", marked))
    if has_link and not re.search(r"\w", "".join(outside_link)):
        return None
    if not text:
        return None
    plain, code, _ = _code_spans(text)
    linked, _, links = _code_spans(_tidy_inline(marked), targets)
    # the marks can change how the text is tidied (a link's text at an end, an empty link in brackets): the text
    # is then kept exactly as it is without them, and its links are not kept
    return plain, code, links if linked == plain else ()


def _join_lines(text: str) -> str:
    """Line breaks with the spaces and tabs around them as one space, in linear time (the pattern
    `[ \t]*\n[ \t]*` read a long run of spaces again from each of its positions)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    inner = [line.strip(" \t") for line in lines[1:-1]]
    return " ".join([lines[0].rstrip(" \t"), *inner, lines[-1].lstrip(" \t")])


def _tidy_inline(text: str) -> str:
    text = _join_lines(text).strip()
    return re.sub(r"\(\s*\)", "", text).strip()


def _code_spans(marked: str, targets: list[str] | None = None) -> tuple[str, tuple[Span, ...], tuple[LinkSpan, ...]]:
    """Remove the inline-code and link marks, returning the plain text, where the code was and where each link's
    text is with its target."""
    text: list[str] = []
    spans: list[Span] = []
    links: list[LinkSpan] = []
    pending = iter(targets or [])
    length = 0
    start = None
    link_start: int | None = None
    for piece in re.split(f"([{_CODE_OPEN}{_CODE_CLOSE}{_LINK_OPEN}{_LINK_CLOSE}])", marked):
        if piece == _CODE_OPEN:
            start = length
        elif piece == _CODE_CLOSE:
            if start is not None and length > start:
                spans.append((start, length))
            start = None
        elif piece == _LINK_OPEN:
            link_start = length
        elif piece == _LINK_CLOSE:
            target = next(pending, "")
            if link_start is not None and length > link_start and target:
                links.append((link_start, length, target))
            link_start = None
        else:
            text.append(piece)
            length += len(piece)
    return "".join(text), tuple(spans), tuple(links)
