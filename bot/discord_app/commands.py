"""Slash commands: /ask, /quote, /sources for everyone; /reindex and /stats for moderators."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.discord_app import render
from bot.documents import CorpusError
from bot.embedding import ModelError
from bot.index import BuildBusy, IndexError_
from bot.quotes import NoQuoteError
from bot.retrieval import MAX_QUESTION_CHARS, QuestionError, check_question

if TYPE_CHECKING:
    from bot.discord_app.client import OnboardingBot

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1.0  # seconds between edits of the /reindex progress message


def _bot(interaction: discord.Interaction) -> OnboardingBot:
    return interaction.client  # type: ignore[return-value]


async def _moderator(interaction: discord.Interaction, action: str) -> bool:
    """True for a moderator; anyone else is told privately, and nothing happens."""
    from bot.discord_app.client import is_moderator

    if is_moderator(interaction, _bot(interaction).settings.moderator_role_ids):
        return True
    text = f"Only moderators can {action} (Manage Server permission or a moderator role)."
    await interaction.response.send_message(text, ephemeral=True)
    return False


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
    await interaction.response.defer(thinking=True)
    try:
        drawn = await asyncio.to_thread(bot.service.quote, topic, interaction.channel_id)
    except NoQuoteError as exc:
        await interaction.followup.send(str(exc))
        return
    await interaction.followup.send(embed=render.quote_embed(drawn), allowed_mentions=render.NO_PINGS)


@app_commands.command()
async def sources(interaction: discord.Interaction) -> None:
    """The documents I quote from, with passage counts and when they were indexed."""
    bot = _bot(interaction)
    await interaction.response.send_message(embed=render.sources_embed(bot.service.sources()), ephemeral=True)


@app_commands.command()
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
async def reindex(interaction: discord.Interaction) -> None:
    """Moderators: reload the documents in corpus/ and swap in the new index."""
    bot = _bot(interaction)
    if not await _moderator(interaction, "reindex"):
        return
    if bot.service.reindexing:
        await interaction.response.send_message(
            "A reindex is already running; questions are answered from the current index meanwhile.", ephemeral=True
        )
        return
    await interaction.response.send_message("Reindexing… reading the documents.")
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
        text = f"Reindex failed: {exc}\nThe previous index is still answering questions."
    except Exception:
        log.exception("reindex failed after %.1f s", time.monotonic() - started)
        text = "Reindex failed with an unexpected error (see the bot's log). The previous index is still answering."
    else:
        text = render.reindex_summary(report)
    text = render.clip(text, render.CONTENT_LIMIT)
    try:
        await interaction.edit_original_response(content=text)
    except discord.HTTPException as exc:
        log.warning("cannot edit the /reindex message (%s); posting the result instead", exc)
        if isinstance(interaction.channel, discord.abc.Messageable):
            await interaction.channel.send(text, allowed_mentions=render.NO_PINGS)


@app_commands.command()
@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
async def stats(interaction: discord.Interaction) -> None:
    """Moderators: questions asked and answered, helpful rate, and the questions I could not answer."""
    bot = _bot(interaction)
    if not await _moderator(interaction, "see the statistics"):
        return
    await interaction.response.defer(thinking=True, ephemeral=True)
    # a bot serving one community counts its DMs too; in several servers each sees only its own questions
    scope = interaction.guild_id if len(bot.guilds) > 1 else None
    summary = await bot._db(bot.store.stats, 5, scope)
    await interaction.followup.send(embed=render.stats_embed(summary), ephemeral=True)


def add_commands(tree: app_commands.CommandTree) -> None:
    for command in (ask, quote, sources, reindex, stats):
        tree.add_command(command)

    @tree.error
    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("/%s failed", interaction.command.name if interaction.command else "?", exc_info=error)
        text = "Something went wrong on my side; the moderators can find the details in the bot's log."
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
