"""QUESTION_RETENTION_DAYS: questions older than that lose who asked them and where.

What goes, in the SQLite file of DATABASE_PATH: a question's `user_id` and `channel_id` (questions table), and the
Discord user ID on the votes readers gave (feedback, and lessons' passage_votes), which becomes an anonymous negative
number unique to that vote, so each vote still counts once. What stays: the question's text and wording key, when
and how it was asked (mention, dm, slash, auto, cli), the server (guild) it was asked in, whether it was answered and
how confidently, the document quoted, and the votes' direction: what /stats counts and lists. Moderators' names on
lessons and corpus changes are an audit log of their actions and are kept.

It runs when the Discord bot starts and then once a day while it runs (`forget_daily`), and on demand from
`python -m bot forget`, which a timer or cron job can call for a bot that is not always running.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import dataclass

from bot.store import Store

log = logging.getLogger(__name__)

DAY_SECONDS = 86400.0


@dataclass(frozen=True)
class Forgotten:
    questions: int  # questions whose user and channel IDs were removed
    votes: int  # votes (answer feedback and passage votes) whose user ID was replaced by an anonymous number

    def __str__(self) -> str:
        return (
            f"removed the user and channel IDs of {self.questions} question{'s' * (self.questions != 1)} and the "
            f"user IDs of {self.votes} vote{'s' * (self.votes != 1)}"
        )


def forget_identities(store: Store, days: float, now: float | None = None) -> Forgotten:
    """Anonymise what is older than `days` days (see the module docstring), in one transaction."""
    cutoff = (time.time() if now is None else now) - days * DAY_SECONDS
    with store._connect() as db:
        questions = db.execute(
            "UPDATE questions SET user_id = NULL, channel_id = NULL"
            " WHERE asked_at < ? AND (user_id IS NOT NULL OR channel_id IS NOT NULL)",
            (cutoff,),
        ).rowcount
        # a vote's key is (question, user): an anonymous number unique to the row keeps one vote one vote
        votes = db.execute(
            "UPDATE feedback SET user_id = -rowid WHERE given_at < ? AND user_id >= 0", (cutoff,)
        ).rowcount
        votes += db.execute(
            "UPDATE passage_votes SET user_id = -rowid WHERE voted_at < ? AND user_id >= 0", (cutoff,)
        ).rowcount
    return Forgotten(questions, votes)


async def forget_daily(store: Store, days: float, every: float = DAY_SECONDS) -> None:
    """In a running bot: forget at once, then every `every` seconds, until cancelled. A failure is logged, and the
    next round tries again; the bot keeps answering either way."""
    while True:
        try:
            forgotten = await asyncio.to_thread(forget_identities, store, days)
            log.info("question retention (%g days): %s", days, forgotten)
        except (sqlite3.Error, OSError) as exc:
            log.error("question retention: could not anonymise old questions in %s: %s", store.path, exc)
        await asyncio.sleep(every)
