"""/stats for moderators: questions asked and answered in this server, the helpful rate, and the questions the bot
could not answer (or answered unhelpfully), any of which a moderator can pick to teach its answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import render
from bot.discord_app.common import moderator_only
from bot.discord_app.views import StatsTeach

if TYPE_CHECKING:
    from bot.discord_app.client import OnboardingBot


class Stats(commands.Cog):
    def __init__(self, bot: OnboardingBot) -> None:
        self.bot = bot

    @app_commands.command()
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @moderator_only("see the statistics")
    async def stats(self, interaction: discord.Interaction) -> None:
        """Moderators: questions asked and answered, helpful rate, and the questions I could not answer."""
        await interaction.response.defer(thinking=True, ephemeral=True)
        # always the server it is asked in: never another server's questions, nor anyone's DMs (a process serving
        # some shards sees only some servers, so "the only server" cannot be told from here)
        summary = await self.bot.in_db_thread(self.bot.store.stats, 5, interaction.guild_id)
        # a moderator can pick any of the questions listed to teach its answer
        questions = list(dict.fromkeys(g.question for g in (*summary.gaps, *summary.unhelpful)))
        if questions:
            view = StatsTeach(interaction.user.id, questions)
            await interaction.followup.send(embed=render.stats_embed(summary), view=view, ephemeral=True)
        else:
            await interaction.followup.send(embed=render.stats_embed(summary), ephemeral=True)
