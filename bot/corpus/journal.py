"""How a corpus change stays safe: one at a time, and journaled so that a kill at any point can be repaired.

1. One change at a time: an exclusive `flock` on `<database>.corpus.lock`, taken without waiting; a second change (in
   this process or another) gets CorpusBusy. The reindex callable runs while the lock is held.
2. Every change is journaled, so a kill at any point leaves a state `recover()` can finish or roll back:
   a. the bytes the change will overwrite or delete are copied into the archive (`<archive>/<sha256[:2]>/<sha256>`,
      content-addressed, written to a temp file, fsynced, renamed, directory fsynced);
   b. a `pending` row (action, name, old and new sha256) is committed to `corpus_audit`;
   c. the corpus file is replaced atomically (temp file in the same directory, fsync, os.replace, directory fsync) or
      unlinked (directory fsync), only ever inside the corpus directory;
   d. in one transaction the archived version is recorded in `corpus_versions` and the audit row marked `done`;
   e. the index is rebuilt (`reindex`, by the manager).
   recover() looks at each pending row: the file holds the new bytes (or is gone, for a removal) → step d is
   completed; the file still holds the old bytes → nothing changed, the row is marked `abandoned`. Old bytes are in
   the archive before the file is touched, so no version is ever lost. A stale index is rebuilt wherever the index is
   loaded (the CLI's ask/chat/run and the bot's start-up compare per-file hashes), or by the next change.

Both tables (corpus_versions, corpus_audit) live in the SQLite file of DATABASE_PATH, whose schema bot/database.py
holds, but are written only here, each transaction on a connection of its own, synced at every commit: a corpus
change needs its own transactions, ordered with file operations, from the CLI as well as the bot, and bot.store's
Store is the bot's question log with one shared connection.

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
import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from bot.corpus.errors import CorpusBusy, CorpusChangeError
from bot.database import open_database
from bot.index import fsync_path

log = logging.getLogger(__name__)

CRASH_ENV = "ONBOARDING_CRASH_AT"
BUSY_MESSAGE = "Another corpus change is in progress; try again in a moment."
_TMP_MARK = ".corpus-tmp-"


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


class Journal:
    """The corpus directory, the database that journals its changes, and the archive of every old version; the
    lock, steps a-d of a change and recovery. CorpusManager is built on it."""

    def __init__(self, corpus_dir: Path, database: Path, archive_dir: Path) -> None:
        self.corpus_dir = corpus_dir
        self.database = database
        self.archive_dir = archive_dir
        # beside the database that journals the changes: processes sharing a corpus must share its database too
        self.lock_path = database.with_name(database.name + ".corpus.lock")

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction (committed on success, rolled back on error), closed afterwards."""
        try:
            db = open_database(self.database, durable=True)  # a committed journal row survives a power cut
        except (OSError, sqlite3.Error) as exc:
            raise CorpusChangeError(f"Cannot open the database {self.database}: {exc}.") from exc
        try:
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
