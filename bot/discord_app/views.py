"""Buttons and panels the cogs send: More, Helpful, Not helpful under an answer (the answers cog); Confirm (or
Replace) / Cancel under a /corpus add preview (the corpus cog); the teach panel of candidate passages (the teaching
cog, and the question picker under /stats).

The answer buttons are dynamic items: the question's database id lives in the button's custom_id, so they keep working
after the bot restarts (no in-memory view has to survive). The preview's buttons live only as long as the preview
(a few minutes, in memory with the uploaded bytes); after a restart the moderator uploads again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import sqlite3
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import discord

from bot.corpus import CorpusChangeError, Preview
from bot.discord_app import render
from bot.discord_app.common import (
    SOMETHING_WENT_WRONG,
    actor_of,
    cooldown_notice,
    moderator_refusal,
    wait_notice,
)
from bot.lessons import LessonError, passage_of
from bot.retrieval import QuestionError, Result
from bot.store import StoreError

if TYPE_CHECKING:
    from bot.discord_app.client import OnboardingBot

log = logging.getLogger(__name__)

SHOWN = 3  # passages in the first answer
MORE = 3  # passages per press of More
MAX_PASSAGES = 12  # More stops offering more after this many
CONFIRM_TIMEOUT = 300.0  # seconds a /corpus add preview waits for Confirm (well within the 15-minute token)
PROGRESS_EVERY = 1.0  # seconds between progress edits while a corpus change reindexes


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
            await interaction.response.send_message(cooldown_notice(bot.settings, wait), ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        question = await bot.in_db_thread(bot.store.question_text, self.question_id)
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
        wait = bot.feedback_cooldowns.retry_after(interaction.user.id)
        if wait:  # every vote rewrites what the next questions read: a loop of presses is refused
            await interaction.response.send_message(wait_notice(wait), ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)  # the database may be busy: answer in time
        try:
            vote = (self.question_id, interaction.user.id, self.helpful)
            known = await bot.in_db_thread(bot.store.record_feedback, *vote)
        except (sqlite3.Error, StoreError) as exc:
            log.error("could not record feedback: %s", exc)
            await interaction.followup.send("Sorry, I couldn't record that just now.", ephemeral=True)
            return
        if known:
            try:  # the vote moves that passage a little for close questions (bot/lessons.py)
                await bot.in_db_thread(bot.service.vote, *vote)
            except LessonError as exc:
                log.error("could not record the vote on the passage: %s", exc)
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


class ConfirmAdd(discord.ui.View):
    """Confirm (or Replace) / Cancel under a private /corpus add preview. Only the moderator who uploaded the file may
    press them; the change runs in a worker thread and is checked against the previewed bytes (`expected`)."""

    def __init__(self, owner_id: int, filename: str, data: bytes, preview: Preview) -> None:
        super().__init__(timeout=CONFIRM_TIMEOUT)
        self.owner_id = owner_id
        self.filename = filename
        self.data = data
        self.preview = preview
        self.message: discord.WebhookMessage | None = None  # the preview, to say so when it times out
        self.decided = False
        self.confirm.label = "Replace" if preview.replaces else "Confirm"

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        bot = _bot(interaction)
        if interaction.user.id != self.owner_id:
            text = "Only the moderator who uploaded this file can confirm it."
        elif refusal := moderator_refusal(interaction, bot.settings, "change the documents"):
            text = refusal
        elif self.decided:
            text = "This preview was already answered."
        else:
            self.decided = True
            return True
        await interaction.response.send_message(text, ephemeral=True)
        return False

    @discord.ui.button(label="Confirm", style=discord.ButtonStyle.success)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        bot = _bot(interaction)
        self.stop()
        action = "Replacing" if self.preview.replaces else "Adding"
        await interaction.response.edit_message(
            content=render.corpus_progress_text(action, self.preview.name, None), view=None
        )
        actor = actor_of(interaction)
        bot.corpus_progress = None
        work = asyncio.create_task(
            asyncio.to_thread(
                bot.corpus.add,
                self.filename,
                self.data,
                actor,
                replace=self.preview.replaces,
                expected=self.preview.digest,
            )
        )
        shown: tuple[int, int] | None = None
        started = time.monotonic()
        while not work.done():
            await asyncio.wait([work], timeout=PROGRESS_EVERY)
            latest = bot.corpus_progress
            if latest is not None and latest != shown and not work.done():
                shown = latest
                with _logged("cannot show the corpus change's progress"):
                    await interaction.edit_original_response(
                        content=render.corpus_progress_text(action, self.preview.name, shown)
                    )
        try:
            change = work.result()
        except CorpusChangeError as exc:
            text = render.escape(str(exc))
        except Exception:
            log.exception("/corpus add failed after %.1f s", time.monotonic() - started)
            text = "The change failed with an unexpected error (see the bot's log)."
        else:
            log.info("corpus change by %s: %s", actor, change.summary)
            text = render.escape(change.summary)
        with _logged("cannot show the result of /corpus add"):
            await interaction.edit_original_response(content=render.clip(text, render.CONTENT_LIMIT))

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.stop()
        await interaction.response.edit_message(content="Cancelled; nothing was changed.", embed=None, view=None)

    async def on_timeout(self) -> None:
        if self.decided or self.message is None:
            return
        self.decided = True
        with _logged("cannot mark the /corpus add preview as expired"):
            await self.message.edit(
                content="This preview expired; nothing was changed. Run /corpus add again.", embed=None, view=None
            )

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]) -> None:
        log.error("a /corpus add button failed", exc_info=error)
        await _tell_failure(interaction)


async def _tell_failure(interaction: discord.Interaction) -> None:
    """Tell the person whose click failed, privately, without the details (they are in the log)."""
    if interaction.response.is_done():
        await interaction.followup.send(SOMETHING_WENT_WRONG, ephemeral=True)
    else:
        await interaction.response.send_message(SOMETHING_WENT_WRONG, ephemeral=True)


@contextlib.contextmanager
def _logged(what: str) -> Iterator[None]:
    """Log (instead of raising) a failed edit: the change itself is already decided."""
    try:
        yield
    except discord.HTTPException as exc:
        log.warning("%s: %s", what, exc)


# --- teaching: a moderator picks the passage that answers a question ------------------------------------------------

TEACH_TIMEOUT = 600.0  # seconds a teach panel or the /stats question list stays usable
CANDIDATES = 10  # passages offered in a teach panel


class _ModeratorView(discord.ui.View):
    """A private view only the moderator who opened it may use (and only while they are a moderator)."""

    def __init__(self, owner_id: int) -> None:
        super().__init__(timeout=TEACH_TIMEOUT)
        self.owner_id = owner_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner_id:
            text = "Only the moderator who opened this can use it."
        elif refusal := moderator_refusal(interaction, _bot(interaction).settings, "teach me"):
            text = refusal
        else:
            return True
        await interaction.response.send_message(text, ephemeral=True)
        return False

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]) -> None:
        log.error("a teaching control failed", exc_info=error)
        await _tell_failure(interaction)


class TeachPanel(_ModeratorView):
    """Under a private teach message: a select of the passages the bot found for the question, and No answer."""

    def __init__(self, owner_id: int, question: str, found: list[Result]) -> None:
        super().__init__(owner_id)
        self.question = question
        self.found = found
        self.decided = False
        if found:
            select: discord.ui.Select = discord.ui.Select(
                placeholder="The passage that answers it",
                options=[
                    discord.SelectOption(
                        label=render.option_label(passage_of(r), number),
                        value=str(number - 1),
                        description=render.option_label(r.source),
                    )
                    for number, r in enumerate(found, start=1)
                ],
            )
            select.callback = self._picked  # type: ignore[method-assign]
            self.pick = select
            self.add_item(select)

    async def _picked(self, interaction: discord.Interaction) -> None:
        chosen = self.found[int(self.pick.values[0])]
        service, actor = _bot(interaction).service, actor_of(interaction)
        await self._teach(
            interaction, lambda: service.teach_passage(self.question, actor, chosen.document, passage_of(chosen))
        )

    @discord.ui.button(label="No answer in the documents", style=discord.ButtonStyle.secondary)
    async def no_answer(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        bot = _bot(interaction)
        await self._teach(interaction, lambda: bot.service.teach_no_answer(self.question, actor_of(interaction)))

    async def _teach(self, interaction: discord.Interaction, work: Any) -> None:
        if self.decided:
            await interaction.response.send_message("This question was already taught.", ephemeral=True)
            return
        self.decided = True
        try:
            lesson = await asyncio.to_thread(work)
        except LessonError as exc:
            self.decided = False
            await interaction.response.send_message(str(exc), ephemeral=True)
            return
        self.stop()
        answer = f"“{render.clip(lesson.passage, 300)}” ({lesson.document})" if lesson.passage else "no answer"
        text = f"Taught lesson #{lesson.id}: “{render.clip(lesson.question, 200)}” → {answer}."
        content = render.clip(render.escape(text), render.CONTENT_LIMIT)
        await interaction.response.edit_message(content=content, embed=None, view=None)


async def open_teach_panel(interaction: discord.Interaction, question: str) -> None:
    """Show the moderator, privately, the passages to choose from for `question` (the interaction is not yet
    answered)."""
    bot = _bot(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        found = await asyncio.to_thread(bot.service.candidates, question, CANDIDATES)
    except QuestionError as exc:
        await interaction.followup.send(str(exc), ephemeral=True)
        return
    view = TeachPanel(interaction.user.id, question, found)
    await interaction.followup.send(
        embed=render.teach_panel_embed(question, found), view=view, ephemeral=True, allowed_mentions=render.NO_PINGS
    )


class StatsTeach(_ModeratorView):
    """Under /stats: pick a question it could not answer (or answered unhelpfully) to teach its answer."""

    def __init__(self, owner_id: int, questions: list[str]) -> None:
        super().__init__(owner_id)
        self.questions = questions
        select: discord.ui.Select = discord.ui.Select(
            placeholder="Teach the answer to…",
            options=[
                discord.SelectOption(label=render.option_label(q), value=str(i)) for i, q in enumerate(questions[:25])
            ],
        )
        select.callback = self._picked  # type: ignore[method-assign]
        self.pick = select
        self.add_item(select)

    async def _picked(self, interaction: discord.Interaction) -> None:
        await open_teach_panel(interaction, self.questions[int(self.pick.values[0])])
