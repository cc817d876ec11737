"""The buttons under an answer: More, Helpful, Not helpful.

They are dynamic items: the question's database id lives in the button's custom_id, so the buttons keep working after
the bot restarts (no in-memory view has to survive).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import sqlite3
from typing import TYPE_CHECKING, Any

import discord

from bot.discord_app import render
from bot.store import StoreError

if TYPE_CHECKING:
    from bot.discord_app.client import OnboardingBot

log = logging.getLogger(__name__)

SHOWN = 3  # passages in the first answer
MORE = 3  # passages per press of More
MAX_PASSAGES = 12  # More stops offering more after this many


def _bot(interaction: discord.Interaction) -> OnboardingBot:
    return interaction.client  # type: ignore[return-value]


class MoreButton(discord.ui.DynamicItem[discord.ui.Button], template=r"more:(?P<qid>\d+)(?::(?P<first>\d+))?"):
    """Shows the next passages privately to whoever pressed it, with its own More for the ones after."""

    def __init__(self, question_id: int, first: int = SHOWN) -> None:
        super().__init__(
            discord.ui.Button(
                label="More", style=discord.ButtonStyle.secondary, custom_id=f"more:{question_id}:{first}"
            )
        )
        self.question_id = question_id
        self.first = first

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> MoreButton:
        return cls(int(match["qid"]), int(match["first"] or SHOWN))

    async def callback(self, interaction: discord.Interaction) -> Any:
        bot = _bot(interaction)
        wait = bot.more_cooldowns.retry_after(interaction.user.id)
        if wait:
            await interaction.response.send_message(bot.cooldown_notice(wait), ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        question = await bot._db(bot.store.question_text, self.question_id)
        if question is None:
            await interaction.followup.send("I no longer have that question on record.", ephemeral=True)
            return
        answer = await asyncio.to_thread(bot.service.ask, question, self.first + MORE + 1)
        if len(answer.results) <= self.first or self.first >= MAX_PASSAGES:
            await interaction.followup.send("That's everything I found for this question.", ephemeral=True)
            return
        last = min(self.first + MORE, MAX_PASSAGES)
        embed = render.answer_embed(
            dataclasses.replace(answer, results=answer.results[:last]), first=self.first, title=f"More on: {question}"
        )
        kwargs: dict[str, Any] = {"embed": embed, "ephemeral": True, "allowed_mentions": render.NO_PINGS}
        if len(answer.results) > last and last < MAX_PASSAGES:
            view = discord.ui.View(timeout=None)
            view.add_item(MoreButton(self.question_id, last))
            kwargs["view"] = view
        await interaction.followup.send(**kwargs)


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
        await interaction.response.defer(ephemeral=True, thinking=True)  # the database may be busy: answer in time
        try:
            known = await bot._db(bot.store.record_feedback, self.question_id, interaction.user.id, self.helpful)
        except (sqlite3.Error, StoreError) as exc:
            log.error("could not record feedback: %s", exc)
            await interaction.followup.send("Sorry, I couldn't record that just now.", ephemeral=True)
            return
        if not known:
            text = "I no longer have that question on record."
        elif self.helpful:
            text = "Thanks! Glad it helped."
        else:
            text = "Thanks for saying so. Moderators see answers that did not help and can add better documents."
        await interaction.followup.send(text, ephemeral=True)


def answer_view(question_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(MoreButton(question_id))
    view.add_item(FeedbackButton(question_id, helpful=True))
    view.add_item(FeedbackButton(question_id, helpful=False))
    return view
