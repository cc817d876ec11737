"""What client.py, commands.py and views.py share: the moderator rule, the types the client hands out, and `Bot`, the
part of the client that commands and buttons use. It imports no other module of bot.discord_app, so imports run one
way: client.py imports commands.py, commands.py imports views.py, and each of them imports this module and render.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import discord
from discord import app_commands

from bot.config import Settings
from bot.corpus import CorpusManager
from bot.lessons import LessonBook
from bot.retrieval import Answer
from bot.service import AnswerService
from bot.store import Store

T = TypeVar("T")


@dataclass(frozen=True)
class Asked:
    answer: Answer
    question_id: int  # 0 when not recorded
    embed: discord.Embed
    buttons_for: int | None  # the question id the More / feedback buttons refer to


class Cooldowns:
    """Per-user rate limit: `rate` questions per `per` seconds (discord.py's own token bucket)."""

    def __init__(self, rate: int, per: float) -> None:
        self.rate = rate
        self.per = per
        self._buckets: dict[int, app_commands.Cooldown] = {}
        self._noticed: dict[int, float] = {}  # when each user was last told to wait

    def retry_after(self, user_id: int) -> float:
        """0 when the user may ask now (and counts the question), else seconds until they may."""
        if self.per <= 0:
            return 0.0
        if len(self._buckets) > 1000:  # forget users whose window has passed
            now = time.time()
            self._buckets = {u: b for u, b in self._buckets.items() if b._window + b.per > now}
            self._noticed = {u: t for u, t in self._noticed.items() if t + self.per > now}
        bucket = self._buckets.setdefault(user_id, app_commands.Cooldown(self.rate, self.per))
        return bucket.update_rate_limit() or 0.0

    def should_notify(self, user_id: int) -> bool:
        """One wait notice per user per window, so someone who keeps asking does not get a DM for each try."""
        now = time.monotonic()
        if now - self._noticed.get(user_id, -self.per) < self.per:
            return False
        self._noticed[user_id] = now
        return True


class Bot(Protocol):
    """The client as commands.py and views.py see it (`interaction.client`); client.OnboardingBot is the one."""

    settings: Settings
    service: AnswerService
    store: Store
    corpus: CorpusManager
    lessons: LessonBook
    corpus_progress: tuple[int, int] | None  # (done, total) of the reindex after a corpus change
    cooldowns: Cooldowns
    more_cooldowns: Cooldowns

    @property
    def guilds(self) -> Sequence[discord.Guild]: ...

    async def _db(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T: ...

    async def ask(
        self,
        question: str,
        *,
        via: str,
        user: discord.abc.User,
        channel_id: int | None,
        guild_id: int | None,
        record: Callable[[Answer], bool] = ...,
    ) -> Asked: ...

    def reply_for(self, asked: Asked) -> tuple[discord.Embed, discord.ui.View | None]: ...

    def cooldown_notice(self, retry_after: float) -> str: ...


def is_moderator(interaction: discord.Interaction, role_ids: frozenset[int]) -> bool:
    """Manage Server permission, or one of MODERATOR_ROLE_IDS. Checked by the bot itself: `default_permissions` only
    hides a command in Discord's client."""
    if interaction.guild is None or not isinstance(interaction.user, discord.Member):
        return False
    if interaction.permissions.manage_guild:
        return True
    return any(role.id in role_ids for role in interaction.user.roles)
