"""CorpusManager: previews and changes (add, replace, remove, restore), each checked (checks.py), journaled
(journal.py) and followed by a reindex; and the queries behind list, show, versions, history and autocomplete."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.corpus.checks import check_converted_size, check_filename, decode_text, parse_document, summarize
from bot.corpus.errors import AlreadyExists, CorpusChangeError, UnknownDocument
from bot.corpus.journal import Journal, _sha256
from bot.documents import CorpusError, SkippedFileError, corpus_files, read_text
from bot.html_convert import html_to_markdown
from bot.index import BuildBusy, IndexError_, current_build, read_manifest

log = logging.getLogger(__name__)

_REINDEX_WAIT_SECONDS = 300.0  # how long a change waits for a build already running (a /reindex) to finish


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


class CorpusManager(Journal):
    """Add, replace, remove and restore corpus documents; list them; read the audit log. Thread- and process-safe."""

    def __init__(
        self,
        corpus_dir: Path,
        database: Path,
        archive_dir: Path,
        reindex: Callable[[], object],
        index_dir: Path | None = None,
    ) -> None:
        super().__init__(corpus_dir, database, archive_dir)
        self.reindex = reindex
        self.index_dir = index_dir  # only to show when each document was indexed

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

    def _current(self) -> dict[str, Path]:
        try:
            files = corpus_files(self.corpus_dir)
        except CorpusError as exc:
            raise CorpusChangeError(str(exc)) from exc
        return {p.relative_to(self.corpus_dir).as_posix(): p for p in files}

    def prepare(self, filename: str, data: bytes) -> Preview:
        """Validate and convert an upload and say what it would become; raises CorpusChangeError, changes nothing."""
        return self._prepare(filename, data).preview

    def _prepare(self, filename: str, data: bytes) -> _Prepared:
        name = check_filename(filename)
        text = decode_text(data)
        if Path(filename).suffix.lower() in (".html", ".htm"):
            text = html_to_markdown(text)
            data = text.encode("utf-8")
            check_converted_size(len(data))
        try:
            summary = summarize(parse_document(text, name))
        except SkippedFileError as exc:
            raise CorpusChangeError(f"The file cannot be read: {exc}.") from exc
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
