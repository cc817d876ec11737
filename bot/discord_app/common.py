"""What client.py, commands.py and views.py share: the moderator rule, the types the client hands out, and `Bot`, the
part of the client that commands and buttons use. It imports no other module of bot.discord_app, so imports run one
way: client.py imports commands.py, commands.py imports views.py, and each of them imports this module and render.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import discord
from discord import app_commands

from bot.config import Settings
from bot.corpus import CorpusManager
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
    """Per-user rate limit: `rate` questions per `per` seconds, one discord.py token bucket (`app_commands.Cooldown`,
    through its public methods only) per user."""

    FORGET_AFTER = 1000  # users remembered before those whose window has passed are forgotten

    def __init__(self, rate: int, per: float) -> None:
        self.rate = rate
        self.per = per
        self._buckets: dict[int, app_commands.Cooldown] = {}
        self._noticed: dict[int, float] = {}  # when each user was last told to wait (time.monotonic)

    def retry_after(self, user_id: int) -> float:
        """0 when the user may ask now (and counts the question), else seconds until they may."""
        if self.per <= 0:
            return 0.0
        if len(self._buckets) > self.FORGET_AFTER:
            # a bucket back at full tokens is one whose window has passed: the user is as good as new
            self._buckets = {u: b for u, b in self._buckets.items() if b.get_tokens() < b.rate}
            now = time.monotonic()
            self._noticed = {u: t for u, t in self._noticed.items() if now - t < self.per}
        bucket = self._buckets.setdefault(user_id, app_commands.Cooldown(self.rate, self.per))
        return bucket.update_rate_limit() or 0.0

    def should_notify(self, user_id: int) -> bool:
        """One wait notice per user per window, so someone who keeps asking does not get a DM for each try."""
        now = time.monotonic()
        if now - self._noticed.get(user_id, -self.per) < self.per:
            return False
        self._noticed[user_id] = now
        return True


def wait_notice(retry_after: float) -> str:
    """The private reply to someone pressing a button or drawing quotes faster than the cooldown allows."""
    return f"That's a lot at once. Please wait {math.ceil(retry_after)} s and try again."


class Bot(Protocol):
    """The client as commands.py and views.py see it (`interaction.client`); client.OnboardingBot is the one."""

    settings: Settings
    service: AnswerService
    store: Store
    corpus: CorpusManager
    corpus_progress: tuple[int, int] | None  # (done, total) of the reindex after a corpus change
    cooldowns: Cooldowns
    more_cooldowns: Cooldowns
    quote_cooldowns: Cooldowns
    feedback_cooldowns: Cooldowns

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

    async def question_answered_by(self, message: discord.Message) -> str | None: ...


class NotModerator(app_commands.CheckFailure):
    """A moderator command, panel or button used by someone who is not a moderator here; the message is the private
    reply, and nothing happens."""


MODERATION_OFF = (
    "Moderation from Discord is off for this bot: whoever runs it sets MODERATOR_GUILD_IDS (or DISCORD_GUILD_ID) "
    "to the community's server to turn it on."
)
NOT_HOME = "Moderator commands work only in the community's own server; in this one no one is my moderator."


def moderator_refusal(interaction: discord.Interaction, settings: Settings, action: str) -> str | None:
    """None for a moderator, else the private reply saying why not.

    A moderator is someone with Manage Server or one of MODERATOR_ROLE_IDS, in one of the community's own servers
    (MODERATOR_GUILD_IDS, default DISCORD_GUILD_ID): an admin of any other server the bot was added to is not one,
    since every server's answers come from the one corpus. Checked by the bot itself: `default_permissions` only
    hides a command in Discord's client."""
    home = settings.moderation_guild_ids
    if not home:
        return MODERATION_OFF
    if interaction.guild_id is None or interaction.guild_id not in home:
        return NOT_HOME
    member = interaction.user
    if isinstance(member, discord.Member) and (
        interaction.permissions.manage_guild or any(role.id in settings.moderator_role_ids for role in member.roles)
    ):
        return None
    return f"Only moderators can {action} (Manage Server permission or a moderator role)."


def is_moderator(interaction: discord.Interaction, settings: Settings) -> bool:
    return moderator_refusal(interaction, settings, "do that") is None


def moderator_only(action: str) -> Callable[[T], T]:
    """The one moderator rule for slash and context-menu commands: `@moderator_only("reindex")`. A refusal raises
    NotModerator, which the command tree's error handler turns into a private reply."""

    async def predicate(interaction: discord.Interaction) -> bool:
        refusal = moderator_refusal(interaction, interaction.client.settings, action)  # type: ignore[attr-defined]
        if refusal is not None:
            raise NotModerator(refusal)
        return True

    return app_commands.check(predicate)
