"""Slash commands: /ask, /quote, /sources for everyone; /reindex, /stats, /corpus, /teach and the Fix this answer
message command for moderators."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.corpus import MAX_UPLOAD_BYTES, Change, CorpusChangeError, check_filename
from bot.discord_app import render
from bot.discord_app.common import (
    MODERATION_OFF,
    Bot,
    NotModerator,
    moderator_only,
    moderator_refusal,
    wait_notice,
)
from bot.discord_app.views import ConfirmAdd, StatsTeach, actor_of, open_teach_panel
from bot.documents import CorpusError
from bot.embedding import ModelError
from bot.index import BuildBusy, IndexError_
from bot.lessons import LessonError
from bot.quotes import NoQuoteError
from bot.retrieval import MAX_QUESTION_CHARS, QuestionError, check_question

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1.0  # seconds between edits of the /reindex progress message
DOWNLOAD_TIMEOUT = 60.0  # seconds to fetch an attachment from Discord's CDN
CHANGE_DOCUMENTS = "change the documents"


def _bot(interaction: discord.Interaction) -> Bot:
    return interaction.client  # type: ignore[return-value]


@app_commands.command()
@app_commands.describe(
    question="What you'd like to know, in your own words",
    private="Only you see the answer (default: everyone in the channel)",
)
async def ask(
    interaction: discord.Interaction, question: app_commands.Range[str, 1, MAX_QUESTION_CHARS], private: bool = False
) -> None:
    """Ask a question; the answer quotes the community's own documents."""
    bot = _bot(interaction)
    try:
        check_question(question)
    except QuestionError as exc:
        await interaction.response.send_message(str(exc), ephemeral=True)
        return
    wait = bot.cooldowns.retry_after(interaction.user.id)
    if wait:
        await interaction.response.send_message(bot.cooldown_notice(wait), ephemeral=True)
        return
    await interaction.response.defer(thinking=True, ephemeral=private)
    try:
        asked = await bot.ask(
            question,
            via="slash",
            user=interaction.user,
            channel_id=interaction.channel_id,
            guild_id=interaction.guild_id,
        )
    except QuestionError as exc:  # checked above; kept for questions the core rejects for other reasons
        await interaction.followup.send(str(exc))
        return
    embed, view = bot.reply_for(asked)
    kwargs: dict = {"embed": embed, "ephemeral": private, "allowed_mentions": render.NO_PINGS}
    if view is not None:
        kwargs["view"] = view
    await interaction.followup.send(**kwargs)


@app_commands.command()
@app_commands.describe(topic="What the quote should be about, e.g. curiosity (optional)")
async def quote(interaction: discord.Interaction, topic: app_commands.Range[str, 1, 200] | None = None) -> None:
    """A random quote from the community's documents."""
    bot = _bot(interaction)
    wait = bot.quote_cooldowns.retry_after(interaction.user.id)
    if wait:
        await interaction.response.send_message(wait_notice(wait), ephemeral=True)
        return
    await interaction.response.defer(thinking=True)
    try:
        drawn = await asyncio.to_thread(bot.service.quote, topic, interaction.channel_id)
    except NoQuoteError as exc:  # it repeats the topic asked for: shown as written, never as a link
        await interaction.followup.send(render.escape(str(exc)), allowed_mentions=render.NO_PINGS)
        return
    await interaction.followup.send(embed=render.quote_embed(drawn), allowed_mentions=render.NO_PINGS)


_PATH = re.compile(r"(?<![\w.:/])(?:/[^\s/:;,'\"()]+)+/?")


def without_paths(text: str) -> str:
    """`text` with every file system path cut to its last part: a failure shown in Discord names the file, not where
    the bot's files live."""
    return _PATH.sub(lambda m: Path(m.group(0).rstrip("/")).name or m.group(0), text)


@app_commands.command()
async def sources(interaction: discord.Interaction) -> None:
    """The documents I quote from, with passage counts and when they were indexed."""
    bot = _bot(interaction)
    embed = render.sources_embed(bot.service.sources(), len(bot.service.ignored()))
    repositories = bot.service.repositories()
    if repositories:  # the git sources: each with its commit and last sync
        render.add_repositories(embed, repositories)
    if not bot.settings.moderation_guild_ids:  # whoever set the bot up reads this first
        embed.set_footer(text=f"{embed.footer.text}\n{MODERATION_OFF}")
    await interaction.response.send_message(embed=embed, ephemeral=True)


@app_commands.command()
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
@moderator_only("reindex")
async def reindex(interaction: discord.Interaction) -> None:
    """Moderators: reload the documents in corpus/ and swap in the new index."""
    bot = _bot(interaction)
    if bot.service.reindexing:
        await interaction.response.send_message(
            "A reindex is already running; questions are answered from the current index meanwhile.", ephemeral=True
        )
        return
    # private: the progress and any failure are for the moderator who asked, not the channel
    syncing = bot.service.has_sources
    await interaction.response.send_message(
        "Reindexing… syncing the git sources, then reading the documents."
        if syncing
        else "Reindexing… reading the documents.",
        ephemeral=True,
    )
    latest: list[tuple[int, int]] = []
    work = asyncio.create_task(asyncio.to_thread(bot.service.reindex, lambda done, total: latest.append((done, total))))
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


@app_commands.command()
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
@moderator_only("see the statistics")
async def stats(interaction: discord.Interaction) -> None:
    """Moderators: questions asked and answered, helpful rate, and the questions I could not answer."""
    bot = _bot(interaction)
    await interaction.response.defer(thinking=True, ephemeral=True)
    # always the server it is asked in: never another server's questions, nor anyone's DMs (a process serving some
    # shards sees only some servers, so "the only server" cannot be told from here)
    summary = await bot._db(bot.store.stats, 5, interaction.guild_id)
    # a moderator can pick any of the questions listed to teach its answer
    questions = list(dict.fromkeys(g.question for g in (*summary.gaps, *summary.unhelpful)))
    if questions:
        view = StatsTeach(interaction.user.id, questions)
        await interaction.followup.send(embed=render.stats_embed(summary), view=view, ephemeral=True)
    else:
        await interaction.followup.send(embed=render.stats_embed(summary), ephemeral=True)


# --- /corpus: moderators manage the documents (one code path with `python -m bot corpus`: bot.corpus) -------

corpus = app_commands.Group(
    name="corpus",
    description="Moderators: add, remove and restore the documents I quote from",
    guild_only=True,
    default_permissions=discord.Permissions(manage_guild=True),
)


class DownloadError(Exception):
    """The attachment could not be fetched, or was larger than allowed; the message is for the moderator."""


async def download(url: str, limit: int) -> bytes:
    """The file at `url`, reading at most `limit` + 1 bytes: one more than allowed is enough to refuse it."""
    too_large = f"The file is larger than {limit:,} bytes, the limit for a document. Nothing was changed."
    try:
        timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            if response.status != 200:
                raise DownloadError(f"Discord did not give me the file (HTTP {response.status}); upload it again.")
            if response.content_length is not None and response.content_length > limit:
                raise DownloadError(too_large)
            data = bytearray()
            while len(data) <= limit:
                chunk = await response.content.read(limit + 1 - len(data))
                if not chunk:
                    break
                data += chunk
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DownloadError(f"I could not download the file ({type(exc).__name__}); upload it again.") from exc
    if len(data) > limit:
        raise DownloadError(too_large)
    return bytes(data)


def _actor(interaction: discord.Interaction) -> str:
    return f"{interaction.user.name} ({interaction.user.id})"


async def _private(interaction: discord.Interaction, text: str) -> None:
    """A short private reply, as the response or (after a deferral) the followup; never pings. It often repeats what
    someone typed (a question, a phrase, a document name), so all of it is shown as written."""
    text = render.clip(render.escape(text), render.CONTENT_LIMIT)
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=render.NO_PINGS)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=render.NO_PINGS)


async def _document_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    try:
        names = await asyncio.to_thread(_bot(interaction).corpus.names, current, 25)
    except CorpusChangeError as exc:
        log.warning("cannot list documents for autocomplete: %s", exc)
        return []
    # a choice's value must fit Discord's 100 characters; longer names (put in corpus/ by hand) are typed in full
    return [app_commands.Choice(name=render.choice_name(n), value=n) for n in names if len(n) <= render.CHOICE_LIMIT]


async def _version_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[int]]:
    bot = _bot(interaction)
    if refusal := moderator_refusal(interaction, bot.settings, CHANGE_DOCUMENTS):
        return [app_commands.Choice(name=render.clip(refusal, render.CHOICE_LIMIT), value=0)]
    try:
        versions = await asyncio.to_thread(bot.corpus.versions)
    except CorpusChangeError as exc:
        log.warning("cannot list versions for autocomplete: %s", exc)
        return []
    needle = current.strip().lstrip("#").lower()
    found = [v for v in versions if needle in v.name.lower() or needle == str(v.id)]
    return [app_commands.Choice(name=render.version_choice(v), value=v.id) for v in found[:25]]


@corpus.command(name="add")
@app_commands.describe(file="A .md, .txt or .html document (at most 1 MB); you see a preview before anything changes")
@moderator_only(CHANGE_DOCUMENTS)
async def corpus_add(interaction: discord.Interaction, file: discord.Attachment) -> None:
    """Add a document (or replace one of the same name) after a preview."""
    bot = _bot(interaction)
    if file.size > MAX_UPLOAD_BYTES:  # refused from Discord's metadata, before a single byte is downloaded
        limit = f"a document can be at most {MAX_UPLOAD_BYTES:,} bytes"
        await _private(interaction, f"The file is {file.size:,} bytes; {limit}. Nothing was changed.")
        return
    try:
        check_filename(file.filename)  # a bad name is refused before downloading, too
    except CorpusChangeError as exc:
        await _private(interaction, f"{exc} Nothing was changed.")
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        data = await download(file.url, MAX_UPLOAD_BYTES)
        preview = await asyncio.to_thread(bot.corpus.prepare, file.filename, data)
    except (DownloadError, CorpusChangeError) as exc:
        await _private(interaction, str(exc))
        return
    view = ConfirmAdd(interaction.user.id, file.filename, data, preview)
    view.message = await interaction.followup.send(
        embed=render.corpus_preview_embed(preview, file.filename),
        view=view,
        ephemeral=True,
        allowed_mentions=render.NO_PINGS,
        wait=True,
    )


@corpus.command(name="remove")
@app_commands.describe(name="The document to remove; its text is kept and can be restored")
@app_commands.autocomplete(name=_document_choices)
@moderator_only(CHANGE_DOCUMENTS)
async def corpus_remove(interaction: discord.Interaction, name: str) -> None:
    """Remove a document (its text is archived and can be restored)."""
    change = await _change_corpus(interaction, _bot(interaction).corpus.remove, name)
    if change is not None:
        await _private(interaction, f"{change.summary}\nUndo with /corpus restore version:{change.archived_version}.")


@corpus.command(name="restore")
@app_commands.describe(version="The archived version to put back (type a document name to find its versions)")
@app_commands.autocomplete(version=_version_choices)
@moderator_only(CHANGE_DOCUMENTS)
async def corpus_restore(interaction: discord.Interaction, version: app_commands.Range[int, 1]) -> None:
    """Put back a version of a document that was replaced or removed."""
    change = await _change_corpus(interaction, _bot(interaction).corpus.restore, version)
    if change is not None:
        await _private(interaction, change.summary)


async def _change_corpus(
    interaction: discord.Interaction, action: Callable[[Any, str], Change], target: Any
) -> Change | None:
    """A moderator's remove or restore, run in a worker thread; a refusal is answered here and gives None."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        change = await asyncio.to_thread(action, target, _actor(interaction))
    except CorpusChangeError as exc:
        await _private(interaction, str(exc))
        return None
    log.info("corpus change by %s: %s", _actor(interaction), change.summary)
    return change


@corpus.command(name="list")
async def corpus_list(interaction: discord.Interaction) -> None:
    """The documents in the corpus, with passage counts and sizes."""
    bot = _bot(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        documents = await asyncio.to_thread(bot.corpus.list)
    except CorpusChangeError as exc:
        await _private(interaction, str(exc))
        return
    embed = render.corpus_list_embed(documents)
    await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=render.NO_PINGS)


@corpus.command(name="show")
@app_commands.describe(name="The document to show")
@app_commands.autocomplete(name=_document_choices)
async def corpus_show(interaction: discord.Interaction, name: str) -> None:
    """A document's title, sections, passage count and first passages."""
    bot = _bot(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        info = await asyncio.to_thread(bot.corpus.show, name)
    except CorpusChangeError as exc:
        await _private(interaction, str(exc))
        return
    embed = render.corpus_document_embed(info)
    await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=render.NO_PINGS)


async def _history_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    bot = _bot(interaction)
    if refusal := moderator_refusal(interaction, bot.settings, "see the history of changes"):
        # removed names are moderators' business; the one choice says why there are none
        return [app_commands.Choice(name=render.clip(refusal, render.CHOICE_LIMIT), value="")]
    try:
        names = await asyncio.to_thread(bot.corpus.names, current, 25)
        names += [n for n in await asyncio.to_thread(bot.corpus.removed_names, current, 25) if n not in names]
    except CorpusChangeError as exc:
        log.warning("cannot list documents for autocomplete: %s", exc)
        return []
    fitting = [n for n in names if len(n) <= render.CHOICE_LIMIT][:25]
    return [app_commands.Choice(name=render.choice_name(n), value=n) for n in fitting]


@corpus.command(name="history")
@app_commands.describe(name="Only the changes to this document, current or removed (optional)")
@app_commands.autocomplete(name=_history_choices)
@moderator_only("see the history of changes")
async def corpus_history(interaction: discord.Interaction, name: str | None = None) -> None:
    """Who changed which document, and when (moderators)."""
    bot = _bot(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        entries = await asyncio.to_thread(bot.corpus.history, 20, name)
    except CorpusChangeError as exc:
        await _private(interaction, str(exc))
        return
    embed = render.corpus_history_embed(entries, name)
    await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=render.NO_PINGS)


# --- teaching: moderators choose the answer to a question (one code path with `python -m bot teach`: bot.lessons) ---

teach = app_commands.Group(
    name="teach",
    description="Moderators: teach me the answer to a question, list and remove lessons",
    guild_only=True,
    default_permissions=discord.Permissions(manage_guild=True),
)
TEACH = "teach me"


async def _lesson_work(interaction: discord.Interaction, work: Callable[[], str]) -> None:
    """A moderator's lesson change, run in a worker thread; its result or refusal is the private reply."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        text = await asyncio.to_thread(work)
    except LessonError as exc:
        text = f"{exc} Nothing was changed."
    await _private(interaction, text)


@teach.command(name="add")
@app_commands.describe(
    question="The question, in one wording (close wordings get the same answer)",
    phrase="A few words of the passage that answers it, copied from the document",
)
@moderator_only(TEACH)
async def teach_add(
    interaction: discord.Interaction,
    question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
    phrase: app_commands.Range[str, 1, 1000],
) -> None:
    """Teach the passage that answers a question, found by a phrase of it."""
    bot = _bot(interaction)

    def work() -> str:
        lesson = bot.service.teach(question, actor_of(interaction), phrase)
        passage = render.clip(lesson.passage or "", 600)
        return f"Taught lesson #{lesson.id}: “{render.clip(lesson.question, 200)}” → {lesson.document}: “{passage}”"

    await _lesson_work(interaction, work)


@teach.command(name="none")
@app_commands.describe(question="A question the documents do not answer; close wordings are declined too")
@moderator_only(TEACH)
async def teach_none(
    interaction: discord.Interaction, question: app_commands.Range[str, 1, MAX_QUESTION_CHARS]
) -> None:
    """Teach that the documents do not answer a question."""
    bot = _bot(interaction)

    def work() -> str:
        lesson = bot.service.teach_no_answer(question, actor_of(interaction))
        return f"Taught lesson #{lesson.id}: “{render.clip(lesson.question, 200)}” → no answer in the documents."

    await _lesson_work(interaction, work)


@teach.command(name="remove")
@app_commands.describe(id="The lesson's number (see /teach list)")
@moderator_only(TEACH)
async def teach_remove(interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
    """Remove a lesson; the audit log keeps it."""
    bot = _bot(interaction)

    def work() -> str:
        lesson = bot.service.remove_lesson(id, actor_of(interaction))
        return f"Removed lesson #{lesson.id}: “{render.clip(lesson.question, 200)}”."

    await _lesson_work(interaction, work)


@teach.command(name="list")
@moderator_only("see the lessons")
async def teach_list(interaction: discord.Interaction) -> None:
    """The lessons in force; flagged ones quote text their document no longer holds, and are not applied."""
    bot = _bot(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    lessons, flagged = await asyncio.to_thread(bot.service.lessons)
    embed = render.lessons_embed(lessons, flagged)
    await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=render.NO_PINGS)


@teach.command(name="history")
@moderator_only("see the lessons")
async def teach_history(interaction: discord.Interaction) -> None:
    """Who taught and removed which lesson, and when."""
    bot = _bot(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    entries = await asyncio.to_thread(bot.service.lesson_history, 20)
    embed = render.lesson_history_embed(entries)
    await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=render.NO_PINGS)


@app_commands.context_menu(name="Fix this answer")
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
@moderator_only(TEACH)
async def fix_answer(interaction: discord.Interaction, message: discord.Message) -> None:
    """Moderators: choose the passage that should answer the question this answer is for."""
    bot = _bot(interaction)
    question = await bot.question_answered_by(message)
    if question is None:
        text = "That is not one of my answers (or I no longer have its question); use /teach add instead."
        await interaction.response.send_message(text, ephemeral=True)
        return
    await open_teach_panel(interaction, question)


def add_commands(tree: app_commands.CommandTree) -> None:
    for command in (ask, quote, sources, reindex, stats, corpus, teach, fix_answer):
        tree.add_command(command)

    @tree.error
    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, NotModerator):  # the moderator rule (common.moderator_only): a private refusal
            await _private(interaction, str(error))
            return
        log.error("/%s failed", interaction.command.name if interaction.command else "?", exc_info=error)
        text = "Something went wrong on my side; the moderators can find the details in the bot's log."
        await _private(interaction, text)
