"""/corpus: moderators add, remove and restore the documents, and read who changed what; anyone granted the command
lists and shows them. One code path with `python -m bot corpus`: the client's CorpusManager (bot/corpus/), which
reindexes after each change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.corpus import MAX_UPLOAD_BYTES, Change, CorpusChangeError, check_filename
from bot.discord_app import render
from bot.discord_app.common import actor_of, moderator_only, moderator_refusal, reply_privately
from bot.discord_app.views import ConfirmAdd

if TYPE_CHECKING:
    from bot.discord_app.client import OnboardingBot

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = 60.0  # seconds to fetch an attachment from Discord's CDN
CHANGE_DOCUMENTS = "change the documents"
SEE_HISTORY = "see the history of changes"


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


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Corpus(
    commands.GroupCog,
    group_name="corpus",
    group_description="Moderators: add, remove and restore the documents I quote from",
):
    def __init__(self, bot: OnboardingBot) -> None:
        self.bot = bot

    # --- autocomplete ------------------------------------------------------------------------------------------------

    async def _document_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        try:
            names = await asyncio.to_thread(self.bot.corpus.names, current, 25)
        except CorpusChangeError as exc:
            log.warning("cannot list documents for autocomplete: %s", exc)
            return []
        # a choice's value must fit Discord's 100 characters; longer names (put in corpus/ by hand) are typed in full
        return [
            app_commands.Choice(name=render.choice_name(n), value=n) for n in names if len(n) <= render.CHOICE_LIMIT
        ]

    async def _version_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[int]]:
        if refusal := moderator_refusal(interaction, self.bot.settings, CHANGE_DOCUMENTS):
            return [app_commands.Choice(name=render.clip(refusal, render.CHOICE_LIMIT), value=0)]
        try:
            versions = await asyncio.to_thread(self.bot.corpus.versions)
        except CorpusChangeError as exc:
            log.warning("cannot list versions for autocomplete: %s", exc)
            return []
        needle = current.strip().lstrip("#").lower()
        found = [v for v in versions if needle in v.name.lower() or needle == str(v.id)]
        return [app_commands.Choice(name=render.version_choice(v), value=v.id) for v in found[:25]]

    async def _history_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        if refusal := moderator_refusal(interaction, self.bot.settings, SEE_HISTORY):
            # removed names are moderators' business; the one choice says why there are none
            return [app_commands.Choice(name=render.clip(refusal, render.CHOICE_LIMIT), value="")]
        corpus = self.bot.corpus
        try:
            names = await asyncio.to_thread(corpus.names, current, 25)
            names += [n for n in await asyncio.to_thread(corpus.removed_names, current, 25) if n not in names]
        except CorpusChangeError as exc:
            log.warning("cannot list documents for autocomplete: %s", exc)
            return []
        fitting = [n for n in names if len(n) <= render.CHOICE_LIMIT][:25]
        return [app_commands.Choice(name=render.choice_name(n), value=n) for n in fitting]

    # --- changes (moderators) ----------------------------------------------------------------------------------------

    @app_commands.command(name="add")
    @app_commands.describe(
        file="A .md, .txt or .html document (at most 1 MB); you see a preview before anything changes"
    )
    @moderator_only(CHANGE_DOCUMENTS)
    async def add(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        """Add a document (or replace one of the same name) after a preview."""
        if file.size > MAX_UPLOAD_BYTES:  # refused from Discord's metadata, before a single byte is downloaded
            limit = f"a document can be at most {MAX_UPLOAD_BYTES:,} bytes"
            await reply_privately(interaction, f"The file is {file.size:,} bytes; {limit}. Nothing was changed.")
            return
        try:
            check_filename(file.filename)  # a bad name is refused before downloading, too
        except CorpusChangeError as exc:
            await reply_privately(interaction, f"{exc} Nothing was changed.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            data = await download(file.url, MAX_UPLOAD_BYTES)
            preview = await asyncio.to_thread(self.bot.corpus.prepare, file.filename, data)
        except (DownloadError, CorpusChangeError) as exc:
            await reply_privately(interaction, str(exc))
            return
        view = ConfirmAdd(interaction.user.id, file.filename, data, preview)
        view.message = await interaction.followup.send(
            embed=render.corpus_preview_embed(preview, file.filename),
            view=view,
            ephemeral=True,
            allowed_mentions=render.NO_PINGS,
            wait=True,
        )

    @app_commands.command(name="remove")
    @app_commands.describe(name="The document to remove; its text is kept and can be restored")
    @app_commands.autocomplete(name=_document_choices)
    @moderator_only(CHANGE_DOCUMENTS)
    async def remove(self, interaction: discord.Interaction, name: str) -> None:
        """Remove a document (its text is archived and can be restored)."""
        change = await _change_corpus(interaction, self.bot.corpus.remove, name)
        if change is not None:
            undo = f"Undo with /corpus restore version:{change.archived_version}."
            await reply_privately(interaction, f"{change.summary}\n{undo}")

    @app_commands.command(name="restore")
    @app_commands.describe(version="The archived version to put back (type a document name to find its versions)")
    @app_commands.autocomplete(version=_version_choices)
    @moderator_only(CHANGE_DOCUMENTS)
    async def restore(self, interaction: discord.Interaction, version: app_commands.Range[int, 1]) -> None:
        """Put back a version of a document that was replaced or removed."""
        change = await _change_corpus(interaction, self.bot.corpus.restore, version)
        if change is not None:
            await reply_privately(interaction, change.summary)

    # --- reading -----------------------------------------------------------------------------------------------------

    @app_commands.command(name="list")
    async def list_documents(self, interaction: discord.Interaction) -> None:
        """The documents in the corpus, with passage counts and sizes."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            documents = await asyncio.to_thread(self.bot.corpus.list)
        except CorpusChangeError as exc:
            await reply_privately(interaction, str(exc))
            return
        embed = render.corpus_list_embed(documents)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=render.NO_PINGS)

    @app_commands.command(name="show")
    @app_commands.describe(name="The document to show")
    @app_commands.autocomplete(name=_document_choices)
    async def show_document(self, interaction: discord.Interaction, name: str) -> None:
        """A document's title, sections, passage count and first passages."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            info = await asyncio.to_thread(self.bot.corpus.show, name)
        except CorpusChangeError as exc:
            await reply_privately(interaction, str(exc))
            return
        embed = render.corpus_document_embed(info)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=render.NO_PINGS)

    @app_commands.command(name="history")
    @app_commands.describe(name="Only the changes to this document, current or removed (optional)")
    @app_commands.autocomplete(name=_history_choices)
    @moderator_only(SEE_HISTORY)
    async def history(self, interaction: discord.Interaction, name: str | None = None) -> None:
        """Who changed which document, and when (moderators)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            entries = await asyncio.to_thread(self.bot.corpus.history, 20, name)
        except CorpusChangeError as exc:
            await reply_privately(interaction, str(exc))
            return
        embed = render.corpus_history_embed(entries, name)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=render.NO_PINGS)


async def _change_corpus(
    interaction: discord.Interaction, action: Callable[[Any, str], Change], target: Any
) -> Change | None:
    """A moderator's remove or restore, run in a worker thread; a refusal is answered here and gives None."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        change = await asyncio.to_thread(action, target, actor_of(interaction))
    except CorpusChangeError as exc:
        await reply_privately(interaction, str(exc))
        return None
    log.info("corpus change by %s: %s", actor_of(interaction), change.summary)
    return change
