"""The buttons under an answer: More, Helpful, Not helpful.

They are dynamic items: the question's database id lives in the button's custom_id, so the buttons keep working after
the bot restarts (no in-memory view has to survive).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_app import render

if TYPE_CHECKING:
    from bot.discord_app.client import OnboardingBot

log = logging.getLogger(__name__)

SHOWN = 3  # passages in the first answer
MORE = 3  # passages per press of More


def _bot(interaction: discord.Interaction) -> OnboardingBot:
    return interaction.client  # type: ignore[return-value]


class MoreButton(discord.ui.DynamicItem[discord.ui.Button], template=r"more:(?P<qid>\d+)"):
    def __init__(self, question_id: int) -> None:
        super().__init__(
            discord.ui.Button(label="More", style=discord.ButtonStyle.secondary, custom_id=f"more:{question_id}")
        )
        self.question_id = question_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> MoreButton:
        return cls(int(match["qid"]))

    async def callback(self, interaction: discord.Interaction) -> Any:
        bot = _bot(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        question = await asyncio.to_thread(bot.store.question_text, self.question_id)
        if question is None:
            await interaction.followup.send("I no longer have that question on record.", ephemeral=True)
            return
        answer = await asyncio.to_thread(bot.service.ask, question, SHOWN + MORE)
        if len(answer.results) <= SHOWN:
            await interaction.followup.send("That's everything I found for this question.", ephemeral=True)
            return
        embed = render.answer_embed(answer, first=SHOWN, title=f"More on: {question}")
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=render.NO_PINGS)


class FeedbackButton(discord.ui.DynamicItem[discord.ui.Button], template=r"feedback:(?P<qid>\d+):(?P<vote>[01])"):
    def __init__(self, question_id: int, helpful: bool) -> None:
        super().__init__(
            discord.ui.Button(
                label="Helpful" if helpful else "Not helpful",
                style=discord.ButtonStyle.success if helpful else discord.ButtonStyle.secondary,
                custom_id=f"feedback:{question_id}:{int(helpful)}",
            )
        )
        self.question_id = question_id
        self.helpful = helpful

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> FeedbackButton:
        return cls(int(match["qid"]), match["vote"] == "1")

    async def callback(self, interaction: discord.Interaction) -> Any:
        bot = _bot(interaction)
        known = await asyncio.to_thread(bot.store.record_feedback, self.question_id, interaction.user.id, self.helpful)
        if not known:
            text = "I no longer have that question on record."
        elif self.helpful:
            text = "Thanks! Glad it helped."
        else:
            text = "Thanks for saying so. Moderators see answers that did not help and can add better documents."
        await interaction.response.send_message(text, ephemeral=True)


def answer_view(question_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(MoreButton(question_id))
    view.add_item(FeedbackButton(question_id, helpful=True))
    view.add_item(FeedbackButton(question_id, helpful=False))
    return view
