"""The bot's question log: questions asked, feedback, and small settings such as the hash of the last slash-command
sync, in the SQLite file of DATABASE_PATH (its tables and connection settings: bot/database.py). Created on first use;
survives restarts. Safe to call from several threads (they share one connection, one call at a time)."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.database import open_database


class StoreError(Exception):
    """The database file cannot be opened or written; the message names it."""


@dataclass(frozen=True)
class Gap:
    question: str  # the most recent wording
    count: int


@dataclass(frozen=True)
class Stats:
    asked: int
    answered: int
    declined: int
    helpful: int
    not_helpful: int
    gaps: list[Gap] = field(default_factory=list)
    unhelpful: list[Gap] = field(default_factory=list)  # answered, but readers said the answer did not help

    @property
    def helpful_rate(self) -> float | None:
        votes = self.helpful + self.not_helpful
        return self.helpful / votes if votes else None


_NOT_WORD = re.compile(r"[^\w\s]+")


def normalize_question(question: str) -> str:
    """Lower case, no punctuation, single spaces: so "How do I start?" and "how do i start" count as one gap."""
    return " ".join(_NOT_WORD.sub(" ", question.lower()).split())


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            # one connection shared by the worker threads (serialised by the lock): opening one per call costs more
            # than the write itself when twenty questions arrive at once
            self._db = open_database(path)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from exc

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:  # commits, or rolls back on error
            yield self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record_question(
        self,
        question: str,
        *,
        answered: bool,
        confidence: float,
        via: str,
        top_source: str | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
    ) -> int:
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO questions (asked_at, via, guild_id, channel_id, user_id, question, normalized, answered,"
                " confidence, top_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    via,
                    guild_id,
                    channel_id,
                    user_id,
                    question,
                    normalize_question(question),
                    int(answered),
                    confidence,
                    top_source,
                ),
            )
            return int(cursor.lastrowid or 0)

    def question_text(self, question_id: int) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT question FROM questions WHERE id = ?", (question_id,)).fetchone()
            return row[0] if row else None

    def record_feedback(self, question_id: int, user_id: int, helpful: bool) -> bool:
        """One vote per person per answer; voting again changes the vote. False when the question is unknown."""
        with self._connect() as db:
            if db.execute("SELECT 1 FROM questions WHERE id = ?", (question_id,)).fetchone() is None:
                return False
            db.execute(
                "INSERT INTO feedback (question_id, user_id, helpful, given_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (question_id, user_id) DO UPDATE SET helpful = excluded.helpful,"
                " given_at = excluded.given_at",
                (question_id, user_id, int(helpful), time.time()),
            )
            return True

    def stats(self, top: int = 5, guild_id: int | None = None) -> Stats:
        where, args = ("WHERE guild_id = ?", (guild_id,)) if guild_id is not None else ("", ())
        with self._connect() as db:
            asked, answered = db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions {where}", args
            ).fetchone()
            helpful, not_helpful = db.execute(
                "SELECT COALESCE(SUM(f.helpful), 0), COALESCE(SUM(1 - f.helpful), 0)"
                f" FROM feedback f JOIN questions q ON q.id = f.question_id {where.replace('guild_id', 'q.guild_id')}",
                args,
            ).fetchone()
            gaps = self._grouped(db, "q.answered = 0", where, args, top)
            unhelpful = self._grouped(
                db,
                "q.answered = 1 AND (SELECT SUM(1 - f.helpful) - SUM(f.helpful) FROM feedback f"
                " WHERE f.question_id = q.id) > 0",
                where,
                args,
                top,
            )
        return Stats(asked, answered, asked - answered, helpful, not_helpful, gaps, unhelpful)

    @staticmethod
    def _grouped(db: sqlite3.Connection, condition: str, where: str, args: tuple, top: int) -> list[Gap]:
        scope = where.replace("WHERE guild_id", "AND q.guild_id")
        # SQLite takes a bare column (question) from the row that holds the group's max(): the latest wording
        rows = db.execute(
            f"SELECT q.question, COUNT(*) AS n, MAX(q.id) AS latest FROM questions q WHERE {condition} {scope}"
            " GROUP BY q.normalized ORDER BY n DESC, latest DESC LIMIT ?",
            (*args, top),
        ).fetchall()
        return [Gap(question, count) for question, count, _ in rows]

    def get_meta(self, key: str) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
