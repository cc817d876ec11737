"""Teaching: moderators choose the answer to a question, with /teach (add, none, remove, list, history) or the Fix
this answer message command, which opens a private panel of candidate passages (views.py). One code path with
`python -m bot teach`: the answering service's lessons (bot/service.py, bot/lessons.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import render
from bot.discord_app.common import actor_of, moderator_only, reply_privately
from bot.discord_app.views import open_teach_panel
from bot.lessons import LessonError
from bot.retrieval import MAX_QUESTION_CHARS

if TYPE_CHECKING:
    from bot.discord_app.client import OnboardingBot

TEACH = "teach me"
SEE_LESSONS = "see the lessons"


async def _lesson_work(interaction: discord.Interaction, work: Callable[[], str]) -> None:
    """A moderator's lesson change, run in a worker thread; its result or refusal is the private reply."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        text = await asyncio.to_thread(work)
    except LessonError as exc:
        text = f"{exc} Nothing was changed."
    await reply_privately(interaction, text)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Teaching(
    commands.GroupCog,
    group_name="teach",
    group_description="Moderators: teach me the answer to a question, list and remove lessons",
):
    def __init__(self, bot: OnboardingBot) -> None:
        self.bot = bot
        # a message command cannot be a cog method: it is made here and added to the tree with the cog
        self.fix_answer_menu = app_commands.ContextMenu(name="Fix this answer", callback=self.fix_answer)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.fix_answer_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.fix_answer_menu.name, type=self.fix_answer_menu.type)

    @app_commands.command(name="add")
    @app_commands.describe(
        question="The question, in one wording (close wordings get the same answer)",
        phrase="A few words of the passage that answers it, copied from the document",
    )
    @moderator_only(TEACH)
    async def add(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
        phrase: app_commands.Range[str, 1, 1000],
    ) -> None:
        """Teach the passage that answers a question, found by a phrase of it."""
        service, actor = self.bot.service, actor_of(interaction)

        def work() -> str:
            lesson = service.teach(question, actor, phrase)
            passage = render.clip(lesson.passage or "", 600)
            return f"Taught lesson #{lesson.id}: “{render.clip(lesson.question, 200)}” → {lesson.document}: “{passage}”"

        await _lesson_work(interaction, work)

    @app_commands.command(name="none")
    @app_commands.describe(question="A question the documents do not answer; close wordings are declined too")
    @moderator_only(TEACH)
    async def none(
        self, interaction: discord.Interaction, question: app_commands.Range[str, 1, MAX_QUESTION_CHARS]
    ) -> None:
        """Teach that the documents do not answer a question."""
        service, actor = self.bot.service, actor_of(interaction)

        def work() -> str:
            lesson = service.teach_no_answer(question, actor)
            return f"Taught lesson #{lesson.id}: “{render.clip(lesson.question, 200)}” → no answer in the documents."

        await _lesson_work(interaction, work)

    @app_commands.command(name="remove")
    @app_commands.describe(id="The lesson's number (see /teach list)")
    @moderator_only(TEACH)
    async def remove(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        """Remove a lesson; the audit log keeps it."""
        service, actor = self.bot.service, actor_of(interaction)

        def work() -> str:
            lesson = service.remove_lesson(id, actor)
            return f"Removed lesson #{lesson.id}: “{render.clip(lesson.question, 200)}”."

        await _lesson_work(interaction, work)

    @app_commands.command(name="list")
    @moderator_only(SEE_LESSONS)
    async def list_lessons(self, interaction: discord.Interaction) -> None:
        """The lessons in force; flagged ones quote text their document no longer holds, and are not applied."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        lessons, flagged = await asyncio.to_thread(self.bot.service.lessons)
        embed = render.lessons_embed(lessons, flagged)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=render.NO_PINGS)

    @app_commands.command(name="history")
    @moderator_only(SEE_LESSONS)
    async def history(self, interaction: discord.Interaction) -> None:
        """Who taught and removed which lesson, and when."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        entries = await asyncio.to_thread(self.bot.service.lesson_history, 20)
        embed = render.lesson_history_embed(entries)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=render.NO_PINGS)

    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @moderator_only(TEACH)
    async def fix_answer(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Moderators: choose the passage that should answer the question this answer is for."""
        question = await self.bot.question_answered_by(message)
        if question is None:
            text = "That is not one of my answers (or I no longer have its question); use /teach add instead."
            await interaction.response.send_message(text, ephemeral=True)
            return
        await open_teach_panel(interaction, question)
