"""What the client, the cogs and the views share: the moderator rule (one app-command check, and the command tree
whose error handler answers a refusal privately), per-user cooldowns, and private replies.

It imports no other module of bot.discord_app but render.py, so imports run one way: client.py imports the cogs
(bot/discord_app/cogs/), the cogs import views.py, and each of them imports this module and render.py. The cogs and
views name the client's type (client.OnboardingBot) for type checkers only.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

import discord
from discord import app_commands

from bot.config import Settings
from bot.discord_app import render

log = logging.getLogger(__name__)

T = TypeVar("T")

SOMETHING_WENT_WRONG = "Something went wrong on my side; the moderators can find the details in the bot's log."


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


def cooldown_notice(settings: Settings, retry_after: float) -> str:
    """The private reply to someone asking (or pressing More) faster than COOLDOWN_QUESTIONS / COOLDOWN_SECONDS."""
    return (
        f"You're asking faster than I can keep up with. Please wait {math.ceil(retry_after)} s and ask again "
        f"(up to {settings.cooldown_questions} questions every {settings.cooldown_seconds:g} s)."
    )


def actor_of(interaction: discord.Interaction) -> str:
    """Who did it, as the audit logs of lessons and corpus changes record it."""
    return f"{interaction.user.name} ({interaction.user.id})"


async def reply_privately(interaction: discord.Interaction, text: str) -> None:
    """A short private reply, as the response or (after a deferral) the followup; never pings. It often repeats what
    someone typed (a question, a phrase, a document name), so all of it is shown as written."""
    text = render.clip(render.escape(text), render.CONTENT_LIMIT)
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=render.NO_PINGS)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=render.NO_PINGS)


# --- the moderator rule -----------------------------------------------------------------------------------------------


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


def moderator_only(action: str) -> Callable[[T], T]:
    """The one moderator rule for slash and context-menu commands: `@moderator_only("reindex")`. A refusal raises
    NotModerator, which the command tree's error handler (CommandTree below) turns into a private reply."""

    async def predicate(interaction: discord.Interaction) -> bool:
        refusal = moderator_refusal(interaction, interaction.client.settings, action)  # type: ignore[attr-defined]
        if refusal is not None:
            raise NotModerator(refusal)
        return True

    predicate.moderator_action = action  # type: ignore[attr-defined]  # what moderator_action() reads
    return app_commands.check(predicate)


def moderator_action(command: app_commands.Command | app_commands.ContextMenu) -> str | None:
    """The action a command's moderator check names ("reindex"), or None for a command everyone may use."""
    for check in command.checks:
        action = getattr(check, "moderator_action", None)
        if action is not None:
            return action
    return None


class CommandTree(app_commands.CommandTree):
    """The bot's slash commands. A failed command answers whoever used it privately: a moderator command used by
    someone else with the refusal, anything unexpected with a short apology (the details go to the log)."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, NotModerator):  # the moderator rule (moderator_only): a private refusal
            await reply_privately(interaction, str(error))
            return
        log.error("/%s failed", interaction.command.name if interaction.command else "?", exc_info=error)
        await reply_privately(interaction, SOMETHING_WENT_WRONG)
