"""Answering: /ask, mentions, DMs, replies to the bot's answers, and new posts in auto-answer channels. Each question
goes through the answering service in a worker thread, is recorded in the question log, and gets its answer (with
More and Helpful / Not helpful buttons, views.py) or a decline that suggests what to ask."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import render
from bot.discord_app.common import cooldown_notice
from bot.discord_app.views import FeedbackButton, MoreButton, answer_view
from bot.lessons import LessonError, TaughtDecline
from bot.retrieval import MAX_QUESTION_CHARS, Answer, QuestionError, check_question
from bot.service import looks_like_question
from bot.store import StoreError

if TYPE_CHECKING:
    from bot.discord_app.client import OnboardingBot

log = logging.getLogger(__name__)

AUTO_ANSWER_MAX_CHARS = 1000
FOLLOW_UP_MAX_CHARS = 300  # of the earlier question asked together with a reply to its answer


@dataclass(frozen=True)
class Asked:
    answer: Answer
    question_id: int  # 0 when not recorded
    embed: discord.Embed
    buttons_for: int | None  # the question id the More / feedback buttons refer to


class Answers(commands.Cog):
    def __init__(self, bot: OnboardingBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        # the buttons under answers: their question id is in their custom_id, so they work after a restart too
        self.bot.add_dynamic_items(MoreButton, FeedbackButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(MoreButton, FeedbackButton)

    @app_commands.command()
    @app_commands.describe(
        question="What you'd like to know, in your own words",
        private="Only you see the answer (default: everyone in the channel)",
    )
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
        private: bool = False,
    ) -> None:
        """Ask a question; the answer quotes the community's own documents."""
        try:
            check_question(question)
        except QuestionError as exc:
            await interaction.response.send_message(str(exc), ephemeral=True)
            return
        wait = self.bot.cooldowns.retry_after(interaction.user.id)
        if wait:
            await interaction.response.send_message(cooldown_notice(self.bot.settings, wait), ephemeral=True)
            return
        await interaction.response.defer(thinking=True, ephemeral=private)
        try:
            asked = await self.answer(
                question,
                via="slash",
                user=interaction.user,
                channel_id=interaction.channel_id,
                guild_id=interaction.guild_id,
            )
        except QuestionError as exc:  # checked above; kept for questions the core rejects for other reasons
            await interaction.followup.send(str(exc))
            return
        embed, view = reply_for(asked)
        kwargs: dict = {"embed": embed, "ephemeral": private, "allowed_mentions": render.NO_PINGS}
        if view is not None:
            kwargs["view"] = view
        await interaction.followup.send(**kwargs)

    # --- answering -------------------------------------------------------------------------------------------------

    async def answer(
        self,
        question: str,
        *,
        via: str,
        user: discord.abc.User,
        channel_id: int | None,
        guild_id: int | None,
        record: Callable[[Answer], bool] = lambda answer: True,
    ) -> Asked:
        """Answer in a worker thread, recording the question when `record(answer)` says so (auto-answer records only
        what it replies to). The decline reply's suggestions are gathered there too, off the event loop. Raises
        QuestionError for unusable input."""
        service = self.bot.service

        def work() -> Asked:
            answer = service.ask(question, 3)
            question_id = 0
            if record(answer):
                question_id = self._record(
                    answer,
                    via=via,
                    guild_id=guild_id,
                    channel_id=channel_id,
                    user_id=user.id,
                )
                try:  # the passage a reader's vote on this answer will count for
                    service.record_shown(question_id, answer)
                except LessonError as exc:
                    log.error("could not remember the passage shown: %s", exc)
            if answer.answered:
                return Asked(answer, question_id, render.answer_embed(answer), question_id or None)
            suggestions = answer.suggestions or service.topics()
            taught = isinstance(answer, TaughtDecline)
            scope = (answer.topic or "", answer.pointer) if answer.pointer else None
            embed = render.decline_embed(answer.question, suggestions, service.sources(), taught, scope)
            return Asked(answer, question_id, embed, None)

        return await asyncio.to_thread(work)

    def _record(self, answer: Answer, **where: object) -> int:
        """Record a question; 0 when the database fails (the answer still goes out, without feedback buttons)."""
        store = self.bot.store
        try:
            return store.record_question(
                answer.question,
                answered=answer.answered,
                confidence=answer.confidence,
                top_source=answer.results[0].document if answer.results else None,
                **where,  # type: ignore[arg-type]
            )
        except (sqlite3.Error, StoreError) as exc:
            log.error("could not record a question in %s: %s", store.path, exc)
            return 0

    # --- messages: mentions, DMs, auto-answer channels -----------------------------------------------------------

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if message.author.bot or me is None:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return  # joins, pins, "started a thread" notices and the like
        mention = re.compile(rf"<@!?{me.id}>")
        if message.guild is None:
            await self._answer_message(
                message, await self._with_context(message, mention.sub(" ", message.content)), via="dm"
            )
            return
        role = message.guild.self_role
        if mention.search(message.content) or (me in message.mentions and looks_like_question(message.content)):
            # a reply to one of the bot's answers mentions it too: a follow-up question is answered, "thanks" is not
            question = await self._with_context(message, mention.sub(" ", message.content))
            await self._answer_message(message, question, via="mention")
        elif role is not None and role in message.role_mentions:
            # people often pick the bot's role from the @ menu instead of the bot itself; without the Message Content
            # intent Discord then sends no text
            question = message.content.replace(role.mention, " ")
            if question.strip():
                await self._answer_message(message, question, via="mention")
            else:
                hint = f"That mentioned my role, so I couldn't read the question. Mention me ({me.mention})."
                await self._send(message, content=hint, private=False)
        elif await self._is_auto_answer_post(message):
            await self._auto_answer(message)

    async def _with_context(self, message: discord.Message, question: str) -> str:
        """A reply to one of the bot's answers ("what about for docs?") is asked together with the question that
        answer was for, so it is understood as a follow-up."""
        reference = message.reference
        replied = reference.resolved if reference is not None else None
        if not isinstance(replied, discord.Message):
            return question
        earlier = await self.bot.question_answered_by(replied)
        if not earlier or not question.strip():
            return question
        return f"{render.clip(earlier, FOLLOW_UP_MAX_CHARS)} {question.strip()}"

    async def _answer_message(self, message: discord.Message, question: str, via: str) -> None:
        private = message.guild is None
        cooldowns = self.bot.cooldowns
        wait = cooldowns.retry_after(message.author.id)
        if wait:
            if cooldowns.should_notify(message.author.id):
                await self._tell_privately(message, cooldown_notice(self.bot.settings, wait))
            return
        work = asyncio.ensure_future(
            self.answer(
                question,
                via=via,
                user=message.author,
                channel_id=message.channel.id,
                guild_id=message.guild.id if message.guild else None,
            )
        )
        try:
            # show "typing…" only when the answer is slow to come (a reindex or a cold start); most take milliseconds
            done, _ = await asyncio.wait({work}, timeout=self.bot.typing_after)
            if not done:
                try:
                    async with message.channel.typing():
                        await work
                except discord.HTTPException as exc:  # no permission to type there: just wait for the answer
                    log.info("cannot show typing in %s: %s", message.channel.id, exc)
                    await work
            asked = work.result()
        except QuestionError as exc:
            text = str(exc) if question.strip() else "Ask me a question about contributing, e.g. “How do I start?”"
            await self._send(message, content=text, private=private)
            return
        embed, view = reply_for(asked)
        await self._send(message, embed=embed, view=view, private=private)

    async def _send(
        self,
        message: discord.Message,
        *,
        private: bool,
        content: str | None = None,
        embed: discord.Embed | None = None,
        view: discord.ui.View | None = None,
    ) -> None:
        kwargs: dict = {"allowed_mentions": render.NO_PINGS}
        if content is not None:
            kwargs["content"] = render.clip(content, render.CONTENT_LIMIT)
        if embed is not None:
            kwargs["embed"] = embed
        if view is not None:
            kwargs["view"] = view
        if private:
            await message.channel.send(**kwargs)
            return
        # a reply that still arrives if the question was deleted meanwhile, and never pings its author
        reference = message.to_reference(fail_if_not_exists=False)
        try:
            await message.channel.send(reference=reference, mention_author=False, **kwargs)
            return
        except discord.Forbidden as exc:
            channel = getattr(message.channel, "name", message.channel.id)
            log.warning(
                "cannot reply in #%s (%s): give the bot View Channel, Send Messages (in Threads), Embed Links and "
                "Read Message History there",
                channel,
                exc.text or exc,
            )
        try:  # without Read Message History a plain message still works
            await message.channel.send(**kwargs)
            return
        except discord.Forbidden:
            pass
        try:  # the bot may not post there at all: answer the asker privately rather than not at all
            await message.author.send(
                content=f"I can't post in #{render.escape(getattr(message.channel, 'name', 'that channel'))}, so "
                "here is my answer.",
                **{k: v for k, v in kwargs.items() if k != "content"},
            )
        except discord.HTTPException as exc:
            log.warning("could not answer %s by DM either: %s", message.author.id, exc)

    async def _tell_privately(self, message: discord.Message, text: str) -> None:
        """A notice only the author sees: in the DM they wrote from, or by DM when they wrote in a channel."""
        try:
            if message.guild is None:
                await message.channel.send(text, allowed_mentions=render.NO_PINGS)
            else:
                await message.author.send(text, allowed_mentions=render.NO_PINGS)
        except discord.HTTPException as exc:  # DMs closed: say nothing rather than spam the channel
            log.info("could not send a private notice to %s: %s", message.author.id, exc)

    async def _is_auto_answer_post(self, message: discord.Message) -> bool:
        channels = self.bot.settings.auto_answer_channel_ids
        if not channels or message.reference is not None:  # replies belong to a conversation already going on
            return False
        channel = message.channel
        if isinstance(channel, discord.PartialMessageable):  # a forum post whose thread is not cached yet
            try:
                channel = await self.bot.fetch_channel(channel.id)
            except discord.HTTPException:
                return False
        if isinstance(channel, discord.Thread):
            # a new forum post (or thread) in a configured channel: only its first message
            return channel.parent_id in channels and message.id == channel.id
        return channel.id in channels

    async def _auto_answer(self, message: discord.Message) -> None:
        title = message.channel.name if isinstance(message.channel, discord.Thread) else ""
        text = " ".join(part for part in (title, message.content) if part).strip()
        if not looks_like_question(text):
            return
        if self.bot.auto_cooldowns.retry_after(message.author.id):
            return  # nobody asked the bot directly, so it stays quiet
        threshold = self.bot.settings.auto_answer_confidence

        def confident(answer: Answer) -> bool:
            return answer.answered and answer.confidence >= threshold

        try:
            asked = await self.answer(
                render.clip(text, AUTO_ANSWER_MAX_CHARS),
                via="auto",
                user=message.author,
                channel_id=message.channel.id,
                guild_id=message.guild.id if message.guild else None,
                record=confident,
            )
        except QuestionError:
            return
        if confident(asked.answer):
            embed, view = reply_for(asked)
            await self._send(message, embed=embed, view=view, private=False)
        else:
            log.info("auto-answer: not confident enough (%.2f) for %r", asked.answer.confidence, text[:80])


def reply_for(asked: Asked) -> tuple[discord.Embed, discord.ui.View | None]:
    """The answer's embed, and its buttons when the question was recorded (they refer to its id)."""
    view = answer_view(asked.buttons_for) if asked.buttons_for else None
    return asked.embed, view
