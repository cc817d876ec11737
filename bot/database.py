"""The bot's SQLite file (DATABASE_PATH): every table in it, the migrations that bring an older file up to date, and how
every connection to it is set up.

Three parts of the bot keep their records here, each through `open_database`: bot/store.py the question log (questions,
feedback, meta), bot/lessons.py moderators' lessons and readers' votes, bot/corpus/journal.py the corpus audit log and
the archived versions. One file, so a backup (bot/backup.py) is one consistent copy of all of them.

The file's schema version is SQLite's `PRAGMA user_version`. A file made before this module has version 0: its tables
were created piecemeal, each part creating its own on first use, so it may hold any of them. Opening a file runs the
migrations it lacks, in one transaction that holds the write lock, so two processes opening it together migrate it
once. A file from a newer version of the bot (a restored backup, a downgrade) is refused with SchemaError rather than
written with older assumptions.

To change the schema: append a migration to MIGRATIONS (never edit one that has shipped), and describe the tables as
they now are in its comment; tests/test_database.py opens a file of every earlier version.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

BUSY_TIMEOUT = 10.0  # seconds a connection waits for another's write lock before failing
DURABLE_BUSY_TIMEOUT = 30.0  # the corpus journal's: a corpus change is rare, and must not fail for a busy question log

# Version 1: every table as the parts of the bot created them before this module, so a version-0 file of any age
# gains the tables it lacks and keeps its rows. shown_passages.question_id is a questions.id, but not declared as a
# foreign key: LessonBook remembers a passage for whatever id its caller recorded the answer under (the Discord layer's
# question log; the tests' own numbers), and a declared key would refuse the second.
_VERSION_1 = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY,
    asked_at REAL NOT NULL,
    via TEXT NOT NULL,                -- mention, dm, slash, auto, cli
    guild_id INTEGER,
    channel_id INTEGER,
    user_id INTEGER,
    question TEXT NOT NULL,
    normalized TEXT NOT NULL,
    answered INTEGER NOT NULL,
    confidence REAL NOT NULL,
    top_source TEXT
);
CREATE INDEX IF NOT EXISTS questions_gaps ON questions (answered, normalized);
CREATE INDEX IF NOT EXISTS questions_wording ON questions (normalized, id);
CREATE TABLE IF NOT EXISTS feedback (
    question_id INTEGER NOT NULL REFERENCES questions (id),
    user_id INTEGER NOT NULL,
    helpful INTEGER NOT NULL,
    given_at REAL NOT NULL,
    PRIMARY KEY (question_id, user_id)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS lessons (
    id INTEGER PRIMARY KEY,
    taught_at REAL NOT NULL,
    actor TEXT NOT NULL,
    question TEXT NOT NULL,
    document TEXT,                    -- NULL with passage NULL: "no answer in the documents"
    passage TEXT,                     -- the quoted window's text, as it was when taught
    removed_at REAL,
    removed_by TEXT
);
CREATE TABLE IF NOT EXISTS lesson_audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,             -- teach | remove
    lesson INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS shown_passages (
    question_id INTEGER PRIMARY KEY,  -- questions.id: the first passage that answer showed
    question TEXT NOT NULL,
    document TEXT NOT NULL,
    passage TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passage_votes (
    user_id INTEGER NOT NULL,
    document TEXT NOT NULL,
    passage TEXT NOT NULL,
    question TEXT NOT NULL,           -- the question it was shown for (the latest, when voted again)
    helpful INTEGER NOT NULL,
    voted_at REAL NOT NULL,
    PRIMARY KEY (user_id, document, passage)
);

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

MIGRATIONS: tuple[str, ...] = (_VERSION_1,)  # MIGRATIONS[n] brings a file from version n to n + 1
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(sqlite3.DatabaseError):
    """The file was written by a newer version of the bot; the message says so. A sqlite3.Error, so every caller's
    handling of an unusable database covers it."""


def open_database(path: Path, *, durable: bool = False) -> sqlite3.Connection:
    """A connection to the database at `path` (created, with its folder, on first use), its schema brought up to date.

    Every connection reads and writes in write-ahead-log mode (readers never wait for the writer), enforces declared
    foreign keys, and may be used from any thread (its owner serialises the calls). Commits are synced at checkpoints
    only (a question or a vote needs no full sync), or with `durable` at every commit, which then also waits longer
    for the write lock: the corpus journal's, whose rows must survive a power cut. Raises OSError or sqlite3.Error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=DURABLE_BUSY_TIMEOUT if durable else BUSY_TIMEOUT, check_same_thread=False)
    try:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection) -> None:
    """Run the migrations the file lacks, all in one transaction (none when it is current)."""
    if _checked_version(db) == SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")  # the write lock first: another process may be migrating the same file
    try:
        version = _checked_version(db)  # read again under the lock
        for script in MIGRATIONS[version:]:
            for statement in _statements(script):
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.commit()
    except BaseException:
        db.rollback()
        raise


def _checked_version(db: sqlite3.Connection) -> int:
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"it was written by a newer version of the bot (schema version {version}; this version knows up to "
            f"{SCHEMA_VERSION}): upgrade the bot, or restore a backup taken with this version"
        )
    return version


def _statements(script: str) -> list[str]:
    """A script's statements one by one (sqlite3's executescript would commit the migration's transaction)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"an incomplete SQL statement in a migration: {pending.strip()[:60]}")
    return statements
