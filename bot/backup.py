"""`python -m bot backup DIR` and `python -m bot restore DIR`: everything the bot cannot rebuild, in one folder.

A backup folder holds:

    bot.sqlite3       the database (questions, feedback, lessons and votes, the corpus audit log and version list),
                      copied with SQLite's online backup API: a consistent copy that includes what is still in the
                      write-ahead log (-wal file), taken while the bot runs; saved as one self-contained file
    corpus/           the documents (the shipped ones and moderators' uploads)
    corpus-archive/   every replaced or removed version of a document, restorable with `corpus restore`
    manifest.json     when and from where it was taken, the database's schema version, the row counts, and the sha256
                      of every file

The index and the encoder cache are not in it: both are rebuilt from the documents and the model on the next start.
The backup holds the corpus lock (the one every corpus change takes), so no change falls between the database copy
and the files; it is written into a hidden folder beside DIR and renamed to DIR when complete.

Restore checks the manifest and every file first, refuses a database from a newer version of the bot (its schema
version, bot/database.py: an older one is brought up to date when the bot next opens it), refuses while a bot serves
from the index directory (stop it first), and refuses to replace an existing database, documents folder or archive
without --force; with --force each of them is moved aside (renamed `<name>.before-restore-<time>`), never deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import __version__
from bot.corpus.journal import Journal
from bot.database import SCHEMA_VERSION, schema_version
from bot.index import IndexError_, current_build

BACKUP_FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "bot.sqlite3"
CORPUS = "corpus"
ARCHIVE = "corpus-archive"
LOCK_WAIT_SECONDS = 120.0  # a corpus change (with its reindex) holding the corpus lock finishes well within this
_COUNTED = ("questions", "feedback", "lessons", "passage_votes", "corpus_versions", "corpus_audit")


class BackupError(Exception):
    """A backup or restore that cannot go ahead; nothing was changed. The message says why."""


@dataclass(frozen=True)
class Places:
    """Where the bot keeps what a backup holds (from the settings, --corpus overriding the documents folder)."""

    database: Path
    corpus_dir: Path
    archive_dir: Path
    index_dir: Path


# --- backup ---------------------------------------------------------------------------------------------------------


def backup(places: Places, target: Path, wait: float = LOCK_WAIT_SECONDS) -> dict[str, Any]:
    """Write a backup folder at `target` (which must not exist, or be empty); returns its manifest."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} already exists and is not an empty folder; back up into a new folder.")
    if not places.database.is_file():
        raise BackupError(f"There is no database at {places.database} to back up (check DATA_DIR / DATABASE_PATH).")
    if not places.corpus_dir.is_dir():
        raise BackupError(f"The documents folder {places.corpus_dir} does not exist.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
    except OSError as exc:
        raise BackupError(f"Cannot write in {target.parent}: {exc.strerror or exc}.") from None
    try:
        with _corpus_lock(places.database, wait):
            schema, counts = _copy_database(places.database, staging / DATABASE)
            _copy_tree(places.corpus_dir, staging / CORPUS)
            _copy_tree(places.archive_dir, staging / ARCHIVE)
        manifest = {
            "format": BACKUP_FORMAT,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "bot_version": __version__,
            "taken_from": {
                "database": str(places.database),
                "corpus_dir": str(places.corpus_dir),
                "archive_dir": str(places.archive_dir),
            },
            "schema_version": schema,
            "rows": counts,
            "files": {path: _sha256(staging / path) for path in _files(staging)},
        }
        _write_json(staging / MANIFEST, manifest)
        if target.exists():
            target.rmdir()  # the empty folder given
        staging.rename(target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise BackupError(f"The backup failed and was removed: {exc.strerror or exc} ({exc.filename}).") from None
        if isinstance(exc, sqlite3.Error):
            raise BackupError(f"The database {places.database} could not be copied: {exc}.") from None
        raise
    return manifest


def _copy_database(source: Path, target: Path) -> tuple[int, dict[str, int]]:
    """SQLite's online backup: pages from the database file and its write-ahead log, as one consistent snapshot.
    Returns the copy's schema version and row counts."""
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True, timeout=30)  # never creates one
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # one file, no -wal beside it
            if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"The copy of {source} fails SQLite's integrity check; the backup was not kept.")
            return schema_version(dst), _counts(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _counts(db: sqlite3.Connection) -> dict[str, int]:
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {name: db.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0] for name in _COUNTED if name in tables}


def _copy_tree(source: Path, target: Path) -> None:
    """A folder's files (none when it does not exist yet), without the temp files of a change in progress."""
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.corpus-tmp-*"))
    else:
        target.mkdir()


@contextlib.contextmanager
def _corpus_lock(database: Path, wait: float) -> Iterator[None]:
    """The lock every corpus change holds (bot/corpus/journal.py), waiting up to `wait` seconds for one to end."""
    lock_path = Journal(Path(), database, Path()).lock_path
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fh = lock_path.open("a")
    except OSError as exc:
        raise BackupError(f"Cannot create the lock file {lock_path}: {exc.strerror or exc}.") from None
    with fh:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BackupError("A corpus change is in progress; try again when it ends.") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- restore --------------------------------------------------------------------------------------------------------


def read_backup(source: Path) -> dict[str, Any]:
    """The backup's manifest, once every file it lists is there with its recorded sha256."""
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{source} is not a backup (it has no {MANIFEST}).") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"The {MANIFEST} of {source} cannot be read ({exc.__class__.__name__}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT:
        raise BackupError(f"{source} is not a backup this version can restore (unknown manifest format).")
    files = manifest.get("files")
    if not isinstance(files, dict) or DATABASE not in files:
        raise BackupError(f"The {MANIFEST} of {source} lists no database.")
    for name, digest in files.items():
        path = source / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise BackupError(f"The {MANIFEST} of {source} names a file outside it: {name}.")
        if not path.is_file():
            raise BackupError(f"The backup {source} is incomplete: {name} is missing.")
        if _sha256(path) != digest:
            raise BackupError(f"The backup {source} is damaged: {name} does not match its manifest.")
    extra = sorted(set(_files(source)) - set(files) - {MANIFEST})
    if extra:
        raise BackupError(f"The backup {source} holds files its manifest does not list, e.g. {extra[0]}.")
    return manifest


def restore(places: Places, source: Path, force: bool = False) -> list[Path]:
    """Put a backup back; returns where the replaced database and folders were moved (empty without --force)."""
    read_backup(source)
    _refuse_newer_schema(source / DATABASE)
    _refuse_while_served(places.index_dir)
    targets = [
        (source / DATABASE, places.database),
        (source / CORPUS, places.corpus_dir),
        (source / ARCHIVE, places.archive_dir),
    ]
    existing = [target for _, target in targets if _holds_data(target)]
    existing += [p for p in _sidecars(places.database) if p.exists() and places.database not in existing]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise BackupError(
            f"Restoring would replace {names}. Stop the bot, then add --force to restore; what is there now is "
            "moved aside (renamed *.before-restore-<time>), not deleted."
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    staged: list[tuple[Path, Path]] = []
    moved: list[Path] = []
    with _corpus_lock(places.database, 0):
        try:
            for origin, target in targets:  # copy everything next to its place first: the renames below are quick
                target.parent.mkdir(parents=True, exist_ok=True)
                temp = target.with_name(f".{target.name}.restoring-{uuid.uuid4().hex[:8]}")
                if origin.is_dir():
                    shutil.copytree(origin, temp)
                else:
                    shutil.copyfile(origin, temp)
                staged.append((temp, target))
            for _, target in targets:
                for path in (target, *(_sidecars(target) if target == places.database else ())):
                    if path.exists():
                        aside = path.with_name(f"{path.name}.before-restore-{stamp}")
                        path.rename(aside)
                        moved.append(aside)
            for temp, target in staged:
                temp.rename(target)
        except OSError as exc:
            for temp, _ in staged:
                if temp.is_dir():
                    shutil.rmtree(temp, ignore_errors=True)
                else:
                    temp.unlink(missing_ok=True)
            raise BackupError(
                f"The restore failed: {exc.strerror or exc} ({exc.filename})."
                + (f" What was there is kept as {', '.join(str(p) for p in moved)}." if moved else "")
            ) from None
    return moved


def _refuse_newer_schema(database: Path) -> None:
    """A database a newer version of the bot wrote would be refused at the next start: refused here, before anything
    is replaced. An older one is fine (bot/database.py migrates it when it is opened)."""
    try:
        db = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = schema_version(db)
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise BackupError(f"The database in the backup cannot be read: {exc}.") from None
    if version > SCHEMA_VERSION:
        raise BackupError(
            f"The backup's database was written by a newer version of the bot (schema version {version}; this "
            f"version knows up to {SCHEMA_VERSION}): restore it with that version."
        )


def _holds_data(path: Path) -> bool:
    if path.is_dir():
        return any(path.iterdir())
    return path.exists()


def _sidecars(database: Path) -> list[Path]:
    """SQLite's write-ahead log and shared-memory files beside a database (they belong to the file they sit by)."""
    return [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm")]


def _refuse_while_served(index_dir: Path) -> None:
    """A serving bot holds a shared lock on its build (bot/lease.py) for as long as it runs."""
    try:
        build = current_build(index_dir)
    except IndexError_:
        return
    if build is None or not build.is_dir():
        return
    fd = os.open(build, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"A bot is running on the index in {index_dir}; stop it first (e.g. systemctl stop onboarding-bot)."
            ) from None
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --- files ----------------------------------------------------------------------------------------------------------


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
