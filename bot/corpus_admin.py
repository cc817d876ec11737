"""Managing the corpus safely: add, replace, remove and restore documents, with an audit log and every old version kept.

The Discord `/corpus` commands and `python -m bot corpus ...` both go through `CorpusManager`; nothing here imports
discord.

Safety rules, in the order a change runs:

1. Validation happens before anything is touched: a plain file name (no folders, no `..`, no control characters, not
   hidden), at most MAX_UPLOAD_BYTES, UTF-8 text without NUL bytes, not empty, and at least one quotable passage when
   parsed by the project's own parser (`bot.documents`) and cut by the index's own chunking (`bot.index`). HTML is
   converted to Markdown with the standard library's `html.parser`; scripts, styles and comments are dropped, never run.
2. One change at a time: an exclusive `flock` on `<database>.corpus.lock`, taken without waiting; a second change (in
   this process or another) gets CorpusBusy. The reindex callable runs while the lock is held.
3. Every change is journaled, so a kill at any point leaves a state `recover()` can finish or roll back:
   a. the bytes the change will overwrite or delete are copied into the archive (`<archive>/<sha256[:2]>/<sha256>`,
      content-addressed, written to a temp file, fsynced, renamed, directory fsynced);
   b. a `pending` row (action, name, old and new sha256) is committed to `corpus_audit`;
   c. the corpus file is replaced atomically (temp file in the same directory, fsync, os.replace, directory fsync) or
      unlinked (directory fsync), only ever inside the corpus directory;
   d. in one transaction the archived version is recorded in `corpus_versions` and the audit row marked `done`;
   e. the index is rebuilt (`reindex`).
   recover() looks at each pending row: the file holds the new bytes (or is gone, for a removal) → step d is
   completed; the file still holds the old bytes → nothing changed, the row is marked `abandoned`. Old bytes are in
   the archive before the file is touched, so no version is ever lost. A stale index is rebuilt wherever the index is
   loaded (the CLI's ask/chat/run and the bot's start-up compare per-file hashes), or by the next change.

Both tables live in the SQLite file of DATABASE_PATH (the file bot.store uses) but are created and written here:
a corpus change needs its own transactions, ordered with file operations, from the CLI as well as the bot, and
bot.store's Store is the bot's question log with one shared connection.

Fault injection for the crash tests: when the environment variable ONBOARDING_CRASH_AT names a step (`writing`: a temp
file is written but not yet renamed, in the archive or the corpus; `archived`: step a; `journaled`: b; `written`: c;
`recorded`: d), the process sends itself SIGKILL right after that step. This is a real kill of a real process, used
by tests/test_corpus_cli.py to check recover(); the variable is read nowhere else and unset in normal use.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import signal
import sqlite3
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import yaml

from bot.config import Settings
from bot.documents import (
    CorpusError,
    Document,
    SkippedFileError,
    corpus_files,
    parse_markdown,
    parse_plain_text,
    read_text,
)
from bot.index import BuildBusy, IndexError_, _chunk, current_build, fsync_path, read_manifest

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 1_000_000
ALLOWED_SUFFIXES = (".md", ".txt", ".html", ".htm")
MAX_NAME_CHARS = 100
CRASH_ENV = "ONBOARDING_CRASH_AT"
BUSY_MESSAGE = "Another corpus change is in progress; try again in a moment."
_REINDEX_WAIT_SECONDS = 300.0  # how long a change waits for a build already running (a /reindex) to finish
_TMP_MARK = ".corpus-tmp-"

SCHEMA = """
CREATE TABLE IF NOT EXISTS corpus_versions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,               -- path relative to the corpus directory
    digest TEXT NOT NULL,             -- sha256 of the archived bytes: <archive>/<digest[:2]>/<digest>
    size INTEGER NOT NULL,
    archived_at REAL NOT NULL,
    reason TEXT NOT NULL,             -- replaced | removed
    actor TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS corpus_versions_name ON corpus_versions (name, id);
CREATE TABLE IF NOT EXISTS corpus_audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,             -- add | replace | remove | restore
    name TEXT NOT NULL,
    corpus TEXT NOT NULL,             -- resolved corpus directory the change applies to
    state TEXT NOT NULL,              -- pending | done | abandoned
    old_digest TEXT,                  -- sha256 of the file before the change (NULL: it did not exist)
    old_size INTEGER,
    new_digest TEXT,                  -- sha256 of the file after the change (NULL: removed)
    version INTEGER REFERENCES corpus_versions (id),  -- the version archived by this change
    restored_from INTEGER,            -- for restore: the version put back
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS corpus_audit_state ON corpus_audit (state, id);
"""


class CorpusChangeError(Exception):
    """A change was refused or failed before touching anything; the message is short, plain and user-facing."""


class CorpusBusy(CorpusChangeError):
    """Another corpus change is running; try again in a moment."""


class UnknownDocument(CorpusChangeError):
    """No current document (or archived version) has that name or number."""


class AlreadyExists(CorpusChangeError):
    """add() without replace=True for a name that is already in the corpus."""


@dataclass(frozen=True)
class Preview:
    name: str
    title: str
    sections: list[str]
    paragraphs: int
    passages: int
    size: int
    replaces: bool
    digest: str


@dataclass(frozen=True)
class Change:
    action: str  # add | replace | remove | restore
    name: str
    archived_version: int | None
    summary: str


@dataclass(frozen=True)
class Version:
    id: int
    name: str
    digest: str
    size: int
    archived_at: float
    reason: str  # replaced | removed
    actor: str


@dataclass(frozen=True)
class DocumentInfo:
    name: str
    title: str
    size: int
    passages: int
    sections: list[str]
    url: str | None
    indexed_at: str | None
    first_passages: list[str]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    name: str
    version: int | None
    detail: str


@dataclass(frozen=True)
class _Prepared:
    preview: Preview
    data: bytes  # the bytes that will be stored


@dataclass(frozen=True)
class _Summary:
    title: str
    sections: list[str]
    paragraphs: int
    passages: int
    url: str | None
    first_passages: list[str]


# --- validation ---------------------------------------------------------------------------------------------------


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
    """The document the index would read from `text` stored as `name` (same dispatch as bot.documents)."""
    parse = parse_plain_text if name.lower().endswith(".txt") else parse_markdown
    return parse(text, name)


def summarize(doc: Document, first: int = 3) -> _Summary:
    """Sections, paragraph and passage counts exactly as the index cuts them (the index's own chunking)."""
    part = _chunk(doc)
    sections = list(dict.fromkeys(" › ".join(p["section"]) for p in part.paragraphs if p["section"]))
    quotable = [p["text"] for p in part.paragraphs[:first]]
    return _Summary(doc.title, sections, len(part.paragraphs), len(part.windows), doc.url, quotable)


# --- HTML to Markdown ---------------------------------------------------------------------------------------------

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

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
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

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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


def html_to_markdown(text: str) -> str:
    """Markdown for an HTML page, with a YAML front matter title; CorpusChangeError when it has no readable text."""
    parser = _HtmlToMarkdown()
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


# --- files --------------------------------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomically(target: Path, data: bytes) -> None:
    """Replace `target` with `data` in one rename: readers (and a kill) see the old bytes or the new, never half."""
    tmp = target.with_name(f".{target.name}{_TMP_MARK}{uuid.uuid4().hex[:8]}")
    try:
        with tmp.open("xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _crash_point("writing")
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(target.parent)


def _crash_point(step: str) -> None:
    """Fault injection for the crash tests (see the module docstring): a real SIGKILL of this process."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


# --- the manager --------------------------------------------------------------------------------------------------


class CorpusManager:
    """Add, replace, remove and restore corpus documents; list them; read the audit log. Thread- and process-safe."""

    def __init__(
        self,
        corpus_dir: Path,
        database: Path,
        archive_dir: Path,
        reindex: Callable[[], object],
        index_dir: Path | None = None,
    ) -> None:
        self.corpus_dir = corpus_dir
        self.database = database
        self.archive_dir = archive_dir
        self.reindex = reindex
        self.index_dir = index_dir  # only to show when each document was indexed
        # beside the database that journals the changes: processes sharing a corpus must share its database too
        self.lock_path = database.with_name(database.name + ".corpus.lock")
        self._schema_ready = False

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        reindex: Callable[[], object],
        corpus_dir: Path | None = None,
        index_dir: Path | None = None,
    ) -> CorpusManager:
        """The manager for the configured corpus, database and archive (directories overridable, as in the CLI)."""
        return cls(
            corpus_dir or settings.corpus_dir,
            settings.database,
            settings.archive_dir,
            reindex,
            index_dir=index_dir or settings.index_dir,
        )

    # --- storage --------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction (committed on success, rolled back on error), closed afterwards."""
        try:
            self.database.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.database, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise CorpusChangeError(f"Cannot open the database {self.database}: {exc}.") from exc
        try:
            if not self._schema_ready:
                db.execute("PRAGMA journal_mode = WAL")
                db.executescript(SCHEMA)
                self._schema_ready = True
            db.execute("PRAGMA synchronous = FULL")  # a committed journal row survives a power cut
            with db:
                yield db
        except sqlite3.Error as exc:
            raise CorpusChangeError(f"The database {self.database} could not be used: {exc}.") from exc
        finally:
            db.close()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The corpus lock, across threads and processes; CorpusBusy at once when someone else holds it."""
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            fh = self.lock_path.open("a")
        except OSError as exc:
            raise CorpusChangeError(f"Cannot create the lock file {self.lock_path}: {exc.strerror or exc}.") from exc
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CorpusBusy(BUSY_MESSAGE) from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _corpus_root(self) -> Path:
        if not self.corpus_dir.is_dir():
            raise CorpusChangeError(f"The corpus directory {self.corpus_dir} does not exist.")
        return self.corpus_dir.resolve()

    def _path(self, name: str) -> Path:
        """The file of a document name, refusing anything that would resolve outside the corpus directory."""
        root = self._corpus_root()
        path = (root / name).resolve()
        if path == root or root not in path.parents or name != path.relative_to(root).as_posix():
            raise CorpusChangeError(f"{name!r} is not a file inside the corpus directory.")
        return path

    def _archive_path(self, digest: str) -> Path:
        return self.archive_dir / digest[:2] / digest

    def _archive(self, data: bytes) -> str:
        """Store `data` in the archive (fsynced) and return its sha256; a copy already there is reused."""
        digest = _sha256(data)
        path = self._archive_path(digest)
        try:
            if path.is_file() and _sha256(path.read_bytes()) == digest:
                return digest
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, data)
            fsync_path(path.parent.parent)
        except OSError as exc:
            raise CorpusChangeError(f"Cannot write the archive {self.archive_dir}: {exc.strerror or exc}.") from exc
        return digest

    def _archived_bytes(self, digest: str) -> bytes:
        try:
            data = self._archive_path(digest).read_bytes()
        except OSError:
            data = b""
        if _sha256(data) != digest:
            raise CorpusChangeError("The archived copy of that version is missing or damaged; nothing was changed.")
        return data

    def _current(self) -> dict[str, Path]:
        try:
            files = corpus_files(self.corpus_dir)
        except CorpusError as exc:
            raise CorpusChangeError(str(exc)) from exc
        return {p.relative_to(self.corpus_dir).as_posix(): p for p in files}

    # --- preview and changes ----------------------------------------------------------------------------------------

    def prepare(self, filename: str, data: bytes) -> Preview:
        """Validate and convert an upload and say what it would become; raises CorpusChangeError, changes nothing."""
        return self._prepare(filename, data).preview

    def _prepare(self, filename: str, data: bytes) -> _Prepared:
        name = check_filename(filename)
        text = decode_text(data)
        if Path(filename).suffix.lower() in (".html", ".htm"):
            text = html_to_markdown(text)
            data = text.encode("utf-8")
        try:
            doc = parse_document(text, name)
        except SkippedFileError as exc:
            raise CorpusChangeError(f"The file cannot be read: {exc}.") from exc
        summary = summarize(doc)
        if not summary.passages:
            raise CorpusChangeError(
                "The file has no quotable text (only code, tables, links or very short lines); nothing to add."
            )
        replaces = self._path(name).exists()
        preview = Preview(
            name=name,
            title=summary.title,
            sections=summary.sections,
            paragraphs=summary.paragraphs,
            passages=summary.passages,
            size=len(data),
            replaces=replaces,
            digest=_sha256(data),
        )
        return _Prepared(preview, data)

    def add(self, filename: str, data: bytes, actor: str, replace: bool = False, expected: str | None = None) -> Change:
        """Add a document (or replace one with replace=True; the old text is archived first), then reindex."""
        prepared = self._prepare(filename, data)
        preview = prepared.preview
        if expected is not None and expected != preview.digest:
            raise CorpusChangeError("The file is not the one previewed; preview it again.")
        with self._locked():
            self._recover_locked()
            path = self._path(preview.name)
            old = self._read_current(path)
            if old is not None and not replace:
                raise AlreadyExists(f"{preview.name} already exists; replace it to change it (the old text is kept).")
            if old is not None and _sha256(old) == preview.digest:
                raise CorpusChangeError(f"{preview.name} already holds exactly this text; nothing changed.")
            action = "replace" if old is not None else "add"
            detail = f"{plural(preview.passages, 'passage')}, {preview.size:,} bytes"
            version = self._change(action, preview.name, path, old, prepared.data, actor, detail)
            verb = "Replaced" if action == "replace" else "Added"
            kept = f" (old text kept as version {version})" if version else ""
            what = f"{verb} {preview.name}{kept}: {plural(preview.passages, 'passage')}"
            return Change(action, preview.name, version, self._reindex(what))

    def remove(self, name: str, actor: str) -> Change:
        """Remove a document; its text is archived first and can be restored."""
        with self._locked():
            self._recover_locked()
            current = self._current()
            if name not in current:
                raise UnknownDocument(f"There is no document named {name!r} in the corpus.")
            path = self._path(name)
            if not any(self._indexable(p) for n, p in current.items() if n != name):
                raise CorpusChangeError(
                    f"{name} is the only document that can be quoted; add another before removing it."
                )
            old = self._read_current(path)
            if old is None:
                raise UnknownDocument(f"There is no document named {name!r} in the corpus.")
            version = self._change("remove", name, path, old, None, actor, f"{len(old):,} bytes archived")
            return Change("remove", name, version, self._reindex(f"Removed {name} (kept as version {version})"))

    def restore(self, version: int, actor: str) -> Change:
        """Put an archived version back under its name; the current text, if any, is archived first."""
        with self._locked():
            self._recover_locked()
            found = self._version(version)
            data = self._archived_bytes(found.digest)
            path = self._path(found.name)
            old = self._read_current(path)
            if old is not None and _sha256(old) == found.digest:
                raise CorpusChangeError(f"{found.name} already holds version {version}; nothing changed.")
            detail = f"version {version} ({found.reason} {_when(found.archived_at)})"
            archived = self._change("restore", found.name, path, old, data, actor, detail, restored_from=version)
            kept = f"; the text it replaced is version {archived}" if archived else ""
            return Change("restore", found.name, archived, self._reindex(f"Restored {found.name}{kept}"))

    def _read_current(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise CorpusChangeError(f"{path.name} is a folder in the corpus, not a document.") from None
        except OSError as exc:
            raise CorpusChangeError(f"Cannot read {path.name}: {exc.strerror or exc}.") from exc

    def _indexable(self, path: Path) -> bool:
        try:
            text, _ = read_text(path)
            return summarize(parse_document(text, path.name)).passages > 0
        except SkippedFileError:
            return False

    def _change(
        self,
        action: str,
        name: str,
        path: Path,
        old: bytes | None,
        new: bytes | None,
        actor: str,
        detail: str,
        restored_from: int | None = None,
    ) -> int | None:
        """Steps a-d of the module docstring. Returns the id of the version archived (None when nothing was)."""
        old_digest = self._archive(old) if old is not None else None
        _crash_point("archived")
        with self._db() as db:
            row = db.execute(
                "INSERT INTO corpus_audit (at, actor, action, name, corpus, state, old_digest, old_size, new_digest,"
                " restored_from, detail) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    actor,
                    action,
                    name,
                    str(self._corpus_root()),
                    old_digest,
                    None if old is None else len(old),
                    None if new is None else _sha256(new),
                    restored_from,
                    detail,
                ),
            )
            audit_id = int(row.lastrowid or 0)
        _crash_point("journaled")
        try:
            if new is None:
                path.unlink()
                fsync_path(path.parent)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                _write_atomically(path, new)
        except OSError as exc:
            with self._db() as db:
                db.execute(
                    "UPDATE corpus_audit SET state = 'abandoned', detail = detail || ? WHERE id = ?",
                    (f"; failed: {exc.strerror or exc}", audit_id),
                )
            raise CorpusChangeError(f"Cannot change {name}: {exc.strerror or exc}; nothing was changed.") from exc
        _crash_point("written")
        with self._db() as db:
            version = self._complete(db, audit_id)
        _crash_point("recorded")
        return version

    @staticmethod
    def _complete(db: sqlite3.Connection, audit_id: int, note: str = "") -> int | None:
        """Step d: record the archived version (if the change overwrote or deleted a file) and mark the row done."""
        at, actor, action, name, old_digest, old_size = db.execute(
            "SELECT at, actor, action, name, old_digest, old_size FROM corpus_audit WHERE id = ?", (audit_id,)
        ).fetchone()
        version = None
        if old_digest is not None:
            reason = "removed" if action == "remove" else "replaced"
            row = db.execute(
                "INSERT INTO corpus_versions (name, digest, size, archived_at, reason, actor)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name, old_digest, old_size, at, reason, actor),
            )
            version = int(row.lastrowid or 0)
        db.execute(
            "UPDATE corpus_audit SET state = 'done', version = ?, detail = detail || ? WHERE id = ?",
            (version, note, audit_id),
        )
        return version

    def _reindex(self, what: str) -> str:
        """Rebuild the index (waiting for a build already running); the summary line says how it went."""
        started = time.monotonic()
        deadline = started + _REINDEX_WAIT_SECONDS
        while True:
            try:
                self.reindex()
                break
            except BuildBusy:
                if time.monotonic() > deadline:
                    return f"{what}; the index was not updated (a build is running): reindex when it ends."
                time.sleep(0.5)
            except Exception as exc:  # the change itself is made and recorded; only the index lags behind
                log.warning("reindex after a corpus change failed: %s", exc)
                return f"{what}; the index was not updated ({exc}): reindex to retry."
        return f"{what}; index updated in {time.monotonic() - started:.1f} s."

    # --- recovery -----------------------------------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Finish or roll back changes interrupted by a kill; one line per repair. Run at start-up (bot and CLI).

        When another process is in the middle of a change (it holds the lock), its change is its own: nothing is done.
        """
        try:
            with self._locked():
                return self._recover_locked()
        except CorpusBusy:
            return []

    def _recover_locked(self) -> list[str]:
        repairs: list[str] = []
        self._remove_temp_files()
        root = str(self.corpus_dir.resolve())
        with self._db() as db:
            pending = db.execute(
                "SELECT id, action, name, corpus, old_digest, new_digest FROM corpus_audit WHERE state = 'pending'"
                " ORDER BY id"
            ).fetchall()
            for audit_id, action, name, corpus, old_digest, new_digest in pending:
                if corpus != root:
                    continue  # a change to another corpus directory: recovered when that corpus is used
                try:
                    data = (Path(corpus) / name).read_bytes()
                    now: str | None = _sha256(data)
                except FileNotFoundError:
                    now = None
                except OSError:
                    continue
                if now == new_digest:
                    self._complete(db, audit_id, "; completed after an interruption")
                    repairs.append(f"Completed the interrupted {action} of {name}.")
                elif now == old_digest:
                    db.execute(
                        "UPDATE corpus_audit SET state = 'abandoned', detail = detail || ? WHERE id = ?",
                        ("; interrupted before the file changed", audit_id),
                    )
                    repairs.append(f"Rolled back the interrupted {action} of {name} (it had not changed yet).")
                else:  # edited by hand since: not this change's doing, but the text it archived stays restorable
                    version = self._complete(db, audit_id, "; interrupted, and the file was changed by someone else")
                    db.execute("UPDATE corpus_audit SET state = 'abandoned' WHERE id = ?", (audit_id,))
                    kept = f"; its earlier text is version {version}" if version else ""
                    repairs.append(f"The interrupted {action} of {name} found the file changed by hand{kept}.")
        for line in repairs:
            log.info("%s", line)
        return repairs

    def _remove_temp_files(self) -> None:
        """Temp files a kill left behind (hidden, so never indexed): in the corpus and in the archive."""
        for base in (self.corpus_dir, self.archive_dir):
            if base.is_dir():
                for path in base.rglob(f".*{_TMP_MARK}*"):
                    with contextlib.suppress(OSError):
                        path.unlink()

    # --- reading ------------------------------------------------------------------------------------------------------

    def _version(self, version: int) -> Version:
        if not 0 < version < 2**63:  # SQLite's integers; a larger number cannot name a version
            raise UnknownDocument(f"There is no archived version {version}.")
        with self._db() as db:
            row = db.execute(
                "SELECT id, name, digest, size, archived_at, reason, actor FROM corpus_versions WHERE id = ?",
                (version,),
            ).fetchone()
        if row is None:
            raise UnknownDocument(f"There is no archived version {version}.")
        return Version(*row)

    def versions(self, name: str | None = None) -> list[Version]:
        """Archived versions, newest first (of one document when `name` is given)."""
        where, args = ("WHERE name = ?", (name,)) if name is not None else ("", ())
        with self._db() as db:
            rows = db.execute(
                f"SELECT id, name, digest, size, archived_at, reason, actor FROM corpus_versions {where}"
                " ORDER BY id DESC",
                args,
            ).fetchall()
        return [Version(*row) for row in rows]

    def names(self, prefix: str = "", limit: int = 25) -> list[str]:
        """Current documents whose name starts with `prefix` (then those containing it), for autocomplete."""
        try:
            names = list(self._current())
        except CorpusChangeError:
            return []
        return _matching(names, prefix, limit)

    def removed_names(self, prefix: str = "", limit: int = 25) -> list[str]:
        """Names that have archived versions (removed or replaced documents), for restore's autocomplete."""
        with self._db() as db:
            rows = db.execute("SELECT name FROM corpus_versions GROUP BY name ORDER BY MAX(id) DESC").fetchall()
        return _matching([r[0] for r in rows], prefix, limit)

    def list(self) -> list[DocumentInfo]:
        """Every current document with its title, size and passage count (a file that cannot be read: 0 passages)."""
        indexed = self._indexed_at()
        return [self._info(name, path, indexed) for name, path in self._current().items()]

    def show(self, name: str) -> DocumentInfo:
        current = self._current()
        if name not in current:
            raise UnknownDocument(f"There is no document named {name!r} in the corpus.")
        return self._info(name, current[name], self._indexed_at())

    def _info(self, name: str, path: Path, indexed: dict[str, str]) -> DocumentInfo:
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        try:
            text, _ = read_text(path)
            summary = summarize(parse_document(text, name))
        except SkippedFileError:  # listed so it can be removed, but it has nothing to quote
            return DocumentInfo(name, name, size, 0, [], None, indexed.get(name), [])
        return DocumentInfo(
            name=name,
            title=summary.title,
            size=size,
            passages=summary.passages,
            sections=summary.sections,
            url=summary.url,
            indexed_at=indexed.get(name),
            first_passages=summary.first_passages,
        )

    def _indexed_at(self) -> dict[str, str]:
        if self.index_dir is None:
            return {}
        try:
            build = current_build(self.index_dir)
            return read_manifest(build).get("indexed_at", {}) if build else {}
        except IndexError_:
            return {}

    def history(self, limit: int = 20, name: str | None = None) -> list[AuditEntry]:
        """Completed changes, newest first: who did what to which document, and when."""
        where, args = ("AND name = ?", (name,)) if name is not None else ("", ())
        with self._db() as db:
            rows = db.execute(
                "SELECT id, at, actor, action, name, version, detail FROM corpus_audit"
                f" WHERE state = 'done' {where} ORDER BY id DESC LIMIT ?",
                (*args, max(limit, 0)),
            ).fetchall()
        return [AuditEntry(*row) for row in rows]


def _matching(names: list[str], prefix: str, limit: int) -> list[str]:
    needle = prefix.strip().lower()
    first = [n for n in names if n.lower().startswith(needle)]
    rest = [n for n in names if needle in n.lower() and n not in first]
    return (first + rest)[: max(limit, 0)]


def plural(count: int, noun: str) -> str:
    """ "1 passage", "12 passages"."""
    return f"{count:,} {noun}{'s' * (count != 1)}"


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at))
