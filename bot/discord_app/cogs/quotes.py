"""/quote: a random quote from the documents, about a topic when one is given, never one of the channel's last few."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import render
from bot.discord_app.common import wait_notice
from bot.quotes import NoQuoteError

if TYPE_CHECKING:
    from bot.discord_app.client import OnboardingBot


class Quotes(commands.Cog):
    def __init__(self, bot: OnboardingBot) -> None:
        self.bot = bot

    @app_commands.command()
    @app_commands.describe(topic="What the quote should be about, e.g. curiosity (optional)")
    async def quote(
        self, interaction: discord.Interaction, topic: app_commands.Range[str, 1, 200] | None = None
    ) -> None:
        """A random quote from the community's documents."""
        wait = self.bot.quote_cooldowns.retry_after(interaction.user.id)
        if wait:
            await interaction.response.send_message(wait_notice(wait), ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        try:
            drawn = await asyncio.to_thread(self.bot.service.quote, topic, interaction.channel_id)
        except NoQuoteError as exc:  # it repeats the topic asked for: shown as written, never as a link
            await interaction.followup.send(render.escape(str(exc)), allowed_mentions=render.NO_PINGS)
            return
        await interaction.followup.send(embed=render.quote_embed(drawn), allowed_mentions=render.NO_PINGS)
