"""/sources for everyone (the documents quoted, and the git sources' commits), and /reindex for moderators: sync the
git sources, rebuild the index and swap it in, through the same service as `python -m bot index` and the scheduled
sync of the sources."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import render
from bot.discord_app.common import MODERATION_OFF, moderator_only
from bot.documents import CorpusError
from bot.embedding import ModelError
from bot.index import BuildBusy, IndexError_

if TYPE_CHECKING:
    from bot.discord_app.client import OnboardingBot

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1.0  # seconds between edits of the /reindex progress message

_PATH = re.compile(r"(?<![\w.:/])(?:/[^\s/:;,'\"()]+)+/?")


def without_paths(text: str) -> str:
    """`text` with every file system path cut to its last part: a failure shown in Discord names the file, not where
    the bot's files live."""
    return _PATH.sub(lambda m: Path(m.group(0).rstrip("/")).name or m.group(0), text)


class Moderation(commands.Cog):
    def __init__(self, bot: OnboardingBot) -> None:
        self.bot = bot

    @app_commands.command()
    async def sources(self, interaction: discord.Interaction) -> None:
        """The documents I quote from, with passage counts and when they were indexed."""
        service = self.bot.service
        embed = render.sources_embed(service.sources(), len(service.ignored()))
        repositories = service.repositories()
        if repositories:  # the git sources: each with its commit and last sync
            render.add_repositories(embed, repositories)
        if not self.bot.settings.moderation_guild_ids:  # whoever set the bot up reads this first
            embed.set_footer(text=f"{embed.footer.text}\n{MODERATION_OFF}")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command()
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @moderator_only("reindex")
    async def reindex(self, interaction: discord.Interaction) -> None:
        """Moderators: reload the documents in corpus/ and swap in the new index."""
        service = self.bot.service
        if service.reindexing:
            await interaction.response.send_message(
                "A reindex is already running; questions are answered from the current index meanwhile.",
                ephemeral=True,
            )
            return
        # private: the progress and any failure are for the moderator who asked, not the channel
        await interaction.response.send_message(
            "Reindexing… syncing the git sources, then reading the documents."
            if service.has_sources
            else "Reindexing… reading the documents.",
            ephemeral=True,
        )
        latest: list[tuple[int, int]] = []
        work = asyncio.create_task(asyncio.to_thread(service.reindex, lambda done, total: latest.append((done, total))))
        shown: tuple[int, int] | None = None
        editable = True
        started = time.monotonic()
        while not work.done():
            await asyncio.wait([work], timeout=PROGRESS_EVERY)
            if editable and latest and latest[-1] != shown and not work.done():
                shown = latest[-1]
                try:
                    await interaction.edit_original_response(content=render.progress_text(*shown))
                except discord.HTTPException as exc:  # e.g. the 15-minute interaction token ran out on a large corpus
                    log.warning("cannot show reindex progress any more: %s", exc)
                    editable = False
        try:
            report = work.result()
        except BuildBusy:
            text = "A reindex is already running (perhaps from the command line); try again when it's done."
        except (CorpusError, IndexError_, ModelError, OSError) as exc:
            log.warning("reindex failed: %s", exc)
            reason = render.escape(without_paths(str(exc)))
            text = f"Reindex failed: {reason}\nThe previous index is still answering questions."
        except Exception:
            log.exception("reindex failed after %.1f s", time.monotonic() - started)
            text = "Reindex failed with an unexpected error (see the bot's log). The previous index is still answering."
        else:
            text = render.reindex_summary(report)
            if report.sync and report.sync.errors:  # told privately: which source failed and why
                await interaction.followup.send(
                    render.clip("\n".join(report.sync.errors), render.CONTENT_LIMIT), ephemeral=True
                )
        text = render.clip(text, render.CONTENT_LIMIT)
        try:
            await interaction.edit_original_response(content=text)
        except discord.HTTPException as exc:  # e.g. the 15-minute token ran out: the result stays in the log
            log.warning("cannot edit the /reindex message (%s); the result was: %s", exc, text)
