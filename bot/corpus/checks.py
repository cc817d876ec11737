"""What an upload must pass before anything is touched: a plain file name (no folders, no `..`, no control
characters, not hidden), at most MAX_UPLOAD_BYTES, UTF-8 text without NUL bytes, not empty, and at least one quotable
passage when parsed by the project's own parser (`bot.documents`) and cut by the index's own chunking (`bot.index`)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from bot.corpus.errors import CorpusChangeError
from bot.documents import Document, parse_text
from bot.index import _chunk

MAX_UPLOAD_BYTES = 1_000_000
ALLOWED_SUFFIXES = (".md", ".txt", ".html", ".htm")
MAX_NAME_CHARS = 100
MAX_NAME_BYTES = 100  # in UTF-8, as the file system counts (most refuse names over 255 bytes): 25 emoji, say


@dataclass(frozen=True)
class _Summary:
    title: str
    sections: list[str]
    paragraphs: int
    passages: int
    url: str | None
    first_passages: list[str]


def check_filename(filename: str) -> str:
    """The name as it will be stored in the corpus, or CorpusChangeError saying what is wrong with it."""
    if not filename or not filename.strip():
        raise CorpusChangeError("The file needs a name, such as guide.md.")
    # control and format characters, lone surrogates (a name that was not valid UTF-8), private-use, unassigned,
    # and line or paragraph separators
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in filename):
        raise CorpusChangeError("The file name contains control characters; use a plain name such as guide.md.")
    if "/" in filename or "\\" in filename:
        raise CorpusChangeError("The file name must be a plain name such as guide.md, not a path.")
    if filename.startswith("."):
        raise CorpusChangeError("The file name must not start with a dot (hidden files are not read).")
    if filename != filename.strip():
        raise CorpusChangeError("The file name must not start or end with a space.")
    if len(filename) > MAX_NAME_CHARS:
        raise CorpusChangeError(f"The file name is too long ({len(filename)} characters; at most {MAX_NAME_CHARS}).")
    if len(filename.encode("utf-8")) > MAX_NAME_BYTES:
        raise CorpusChangeError(
            f"The file name is too long ({len(filename.encode('utf-8'))} bytes in UTF-8; at most {MAX_NAME_BYTES})."
        )
    suffix = Path(filename).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        shown = f"{suffix!r} files are" if suffix else "Files without an extension are"
        raise CorpusChangeError(f"{shown} not supported; use .md, .txt or .html.")
    stem = filename[: -len(suffix)]
    if not stem.strip(" ."):
        raise CorpusChangeError("The file name needs more than an extension, such as guide.md.")
    return f"{stem}.md" if suffix in (".html", ".htm") else filename


def check_size(size: int) -> None:
    """Refuse an upload over MAX_UPLOAD_BYTES, before it is read (Discord: attachment.size; CLI: the file's size)."""
    if size > MAX_UPLOAD_BYTES:
        raise CorpusChangeError(f"The file is too large ({size:,} bytes; the limit is {MAX_UPLOAD_BYTES:,}).")


def check_converted_size(size: int) -> None:
    """Refuse Markdown converted from HTML that is over MAX_UPLOAD_BYTES (escaping can double the text)."""
    if size > MAX_UPLOAD_BYTES:
        raise CorpusChangeError(
            f"The file converted to Markdown is too large ({size:,} bytes; the limit is {MAX_UPLOAD_BYTES:,})."
        )


def decode_text(data: bytes) -> str:
    """UTF-8 text with normalised line ends, or CorpusChangeError (too large, empty, binary or not UTF-8)."""
    check_size(len(data))
    if not data.strip():
        raise CorpusChangeError("The file is empty.")
    if b"\x00" in data:
        raise CorpusChangeError("The file is binary or not UTF-8 text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CorpusChangeError("The file is binary or not UTF-8 text.") from None
    if not text.strip():
        raise CorpusChangeError("The file is empty.")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_document(text: str, name: str) -> Document:
    """The document the index would read from `text` stored as `name` (bot.documents' own dispatch)."""
    return parse_text(text, name)


def summarize(doc: Document, first: int = 3) -> _Summary:
    """Sections, paragraph and passage counts exactly as the index cuts them (the index's own chunking)."""
    part = _chunk(doc)
    sections = list(dict.fromkeys(" › ".join(p["section"]) for p in part.paragraphs if p["section"]))
    quotable = [p["text"] for p in part.paragraphs[:first]]
    return _Summary(doc.title, sections, len(part.paragraphs), len(part.windows), doc.url, quotable)
