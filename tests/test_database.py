"""The SQLite file's schema, migrations and connection settings (bot/database.py), on real files: files made before
the schema had a version open with their rows intact, a newer file is refused, and a backup carries the version."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bot.backup import BackupError, Places, backup, restore
from bot.corpus import CorpusManager
from bot.database import SCHEMA_VERSION, open_database, schema_version
from bot.lessons import LessonBook, LessonError
from bot.store import Store, StoreError

# What the bot wrote before bot/database.py (up to commit a46c72d), verbatim: each part created its own tables, with
# its own connection settings, and none set PRAGMA user_version (so such a file has version 0).
STORE_BEFORE = """
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
"""
LESSONS_BEFORE = """
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
"""
JOURNAL_BEFORE = """
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
TABLES = {
    "questions",
    "feedback",
    "meta",
    "lessons",
    "lesson_audit",
    "shown_passages",
    "passage_votes",
    "corpus_versions",
    "corpus_audit",
}


def old_database(path: Path, *schemas: str) -> None:
    """A file as the bot made it before its schema had a version, with a row in every table the schemas create."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    for schema in schemas:
        db.executescript(schema)
    with db:
        db.execute(
            "INSERT INTO questions (id, asked_at, via, guild_id, channel_id, user_id, question, normalized, answered,"
            " confidence, top_source) VALUES (7, 1.0e9, 'slash', 1, 2, 3, 'How do I start?', 'how do i start', 1,"
            " 0.8, 'welcome.md')"
        )
        db.execute("INSERT INTO feedback (question_id, user_id, helpful, given_at) VALUES (7, 3, 1, 1.0e9)")
        db.execute("INSERT INTO meta (key, value) VALUES ('commands:1', 'global abc')")
        if LESSONS_BEFORE in schemas:
            db.execute(
                "INSERT INTO lessons (id, taught_at, actor, question, document, passage) VALUES"
                " (1, 1.0e9, 'mod', 'can I bring my dog?', NULL, NULL)"
            )
            db.execute(
                "INSERT INTO lesson_audit (at, actor, action, lesson, detail) VALUES (1.0e9, 'mod', 'teach', 1, 'x')"
            )
            db.execute(
                "INSERT INTO shown_passages VALUES (7, 'How do I start?', 'welcome.md', 'Find something to fix.')"
            )
            db.execute(
                "INSERT INTO passage_votes VALUES (3, 'welcome.md', 'Find something to fix.', 'How do I start?', 1,"
                " 1.0e9)"
            )
        if JOURNAL_BEFORE in schemas:
            db.execute(
                "INSERT INTO corpus_versions (id, name, digest, size, archived_at, reason, actor) VALUES"
                " (1, 'notes.md', 'ab12', 10, 1.0e9, 'replaced', 'ana')"
            )
            db.execute(
                "INSERT INTO corpus_audit (at, actor, action, name, corpus, state, version) VALUES"
                " (1.0e9, 'ana', 'replace', 'notes.md', '/srv/corpus', 'done', 1)"
            )
    assert schema_version(db) == 0
    db.close()


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_file_from_before_the_schema_version_opens_with_its_rows(tmp_path: Path):
    database = tmp_path / "bot.sqlite3"
    old_database(database, STORE_BEFORE, LESSONS_BEFORE, JOURNAL_BEFORE)

    store = Store(database)
    assert store.question_text(7) == "How do I start?"
    assert (store.stats().asked, store.stats().helpful) == (1, 1)
    assert store.get_meta("commands:1") == "global abc"
    book = LessonBook(database)
    assert [(lesson.id, lesson.question, lesson.no_answer) for lesson in book.lessons()] == [
        (1, "can I bring my dog?", True)
    ]
    assert book.history()[0].detail == "x"
    assert book.vote(7, 4, helpful=False)  # the passage shown before the upgrade still takes votes
    manager = CorpusManager(tmp_path / "corpus", database, tmp_path / "archive", reindex=lambda: None)
    assert [(v.id, v.name, v.actor) for v in manager.versions()] == [(1, "notes.md", "ana")]
    assert [(e.action, e.name, e.version) for e in manager.history()] == [("replace", "notes.md", 1)]
    store.close()
    book.close()

    with sqlite3.connect(database) as db:
        assert schema_version(db) == SCHEMA_VERSION
        assert db.execute("SELECT COUNT(*) FROM passage_votes").fetchone() == (2,)
    assert tables(database) == TABLES


def test_a_file_with_only_the_question_log_gains_the_other_tables(tmp_path: Path):
    """A bot that never had a lesson taught nor a document changed: its file held the question log's tables only."""
    database = tmp_path / "bot.sqlite3"
    old_database(database, STORE_BEFORE)
    book = LessonBook(database)
    lesson = book.teach_no_answer("what is the wifi password?", "mod")
    assert [item.id for item in book.lessons()] == [lesson.id]
    book.close()
    store = Store(database)
    assert store.question_text(7) == "How do I start?"
    store.close()
    assert tables(database) == TABLES
    with sqlite3.connect(database) as db:
        assert schema_version(db) == SCHEMA_VERSION


def test_every_connection_has_the_same_settings_and_a_current_file_is_not_migrated_again(tmp_path: Path):
    database = tmp_path / "nested" / "bot.sqlite3"
    for durable, synchronous, timeout in ((False, 1, 10_000), (True, 2, 30_000)):
        db = open_database(database, durable=durable)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert db.execute("PRAGMA synchronous").fetchone() == (synchronous,)  # NORMAL, FULL
        assert db.execute("PRAGMA busy_timeout").fetchone() == (timeout,)
        assert schema_version(db) == SCHEMA_VERSION
        with pytest.raises(sqlite3.IntegrityError):  # declared foreign keys hold
            db.execute("INSERT INTO feedback (question_id, user_id, helpful, given_at) VALUES (999, 1, 1, 0)")
        db.close()
    with sqlite3.connect(database) as db:
        db.execute("DROP TABLE meta")
    open_database(database).close()
    assert "meta" not in tables(database)  # a current file is only read: its migrations never run again


def test_processes_opening_a_new_file_together_migrate_it_once(tmp_path: Path):
    database = tmp_path / "bot.sqlite3"
    old_database(database, STORE_BEFORE)
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            open_database(database).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert tables(database) == TABLES


def test_a_file_from_a_newer_version_is_refused_and_left_alone(tmp_path: Path):
    database = tmp_path / "bot.sqlite3"
    Store(database).close()
    with sqlite3.connect(database) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="written by a newer version of the bot"):
        Store(database)
    with pytest.raises(LessonError, match="written by a newer version of the bot"):
        LessonBook(database)
    with sqlite3.connect(database) as db:
        assert schema_version(db) == SCHEMA_VERSION + 1


def test_backup_and_restore_carry_the_schema_version(tmp_path: Path):
    corpus = tmp_path / "data" / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "welcome.md").write_text("# Welcome\n\nFind something to fix, and say hello in the channel.\n")
    database = tmp_path / "data" / "bot.sqlite3"
    old_database(database, STORE_BEFORE, LESSONS_BEFORE)  # never opened by this version: backed up as it is
    places = Places(database, corpus, tmp_path / "data" / "archive", tmp_path / "data" / "index")

    manifest = backup(places, tmp_path / "old")
    assert manifest["schema_version"] == 0
    assert manifest["rows"]["questions"] == 1 and manifest["rows"]["lessons"] == 1
    restore(places, tmp_path / "old", force=True)
    book = LessonBook(database)  # the restored old file is brought up to date when opened
    assert [lesson.question for lesson in book.lessons()] == ["can I bring my dog?"]
    book.close()
    with sqlite3.connect(database) as db:
        assert schema_version(db) == SCHEMA_VERSION

    current = backup(places, tmp_path / "current")
    assert current["schema_version"] == SCHEMA_VERSION
    newer = tmp_path / "newer"
    backup(places, newer)
    with sqlite3.connect(newer / "bot.sqlite3") as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    _rehash(newer)
    with pytest.raises(BackupError, match="newer version of the bot"):
        restore(places, newer, force=True)
    with sqlite3.connect(database) as db:
        assert schema_version(db) == SCHEMA_VERSION  # nothing was replaced


def _rehash(folder: Path) -> None:
    """Update a backup's manifest after the test edited its database (as a newer version would have written it)."""
    import hashlib
    import json

    manifest = json.loads((folder / "manifest.json").read_text())
    data = (folder / "bot.sqlite3").read_bytes()
    manifest["files"]["bot.sqlite3"] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
