"""The Discord client: reads input, checks who may do what, calls the core in a worker thread, formats the reply.

Everything slow (the model, the index, SQLite) runs through `asyncio.to_thread`, so the gateway heartbeat never waits.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import math
import re
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import discord
from discord import app_commands

from bot.config import Settings
from bot.corpus import CorpusChangeError, CorpusManager
from bot.discord_app import render
from bot.discord_app.commands import add_commands
from bot.discord_app.common import Asked, Cooldowns
from bot.discord_app.views import FeedbackButton, MoreButton, answer_view
from bot.index import BuildBusy
from bot.lessons import LessonBook, LessonError, TaughtDecline
from bot.retrieval import Answer, QuestionError
from bot.service import AnswerService, looks_like_question
from bot.store import Store, StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")

AUTO_ANSWER_MAX_CHARS = 1000
WORKER_THREADS = 32
TYPING_AFTER = 0.5  # seconds
FOLLOW_UP_MAX_CHARS = 300  # of the earlier question asked together with a reply to its answer
_QUESTION_ID = re.compile(r"^(?:more|feedback):(\d+)")


class OnboardingBot(discord.Client):
    def __init__(
        self,
        settings: Settings,
        service: AnswerService,
        store: Store,
        *,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice here; skip the warnings
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.dm_messages = True
        # Discord sends message text without this privileged intent only for mentions and DMs; reading new posts in
        # auto-answer channels needs it.
        intents.message_content = bool(settings.auto_answer_channel_ids)
        shards: dict[str, object] = {}
        if isinstance(self, discord.AutoShardedClient):
            # this process runs SHARD_IDS (all when unset) of SHARD_COUNT; Discord sends each shard its own guilds
            shards = {"shard_count": settings.shard_count, "shard_ids": settings.shard_ids and list(settings.shard_ids)}
        super().__init__(
            intents=intents,
            allowed_mentions=render.NO_PINGS,
            guild_ready_timeout=guild_ready_timeout,
            **shards,
        )
        self.settings = settings
        self.service = service
        self.store = store
        self.cooldowns = Cooldowns(settings.cooldown_questions, settings.cooldown_seconds)
        # More re-runs a question, so it is limited too, but paging through an answer is not asking anew
        self.more_cooldowns = Cooldowns(settings.cooldown_questions * 3, settings.cooldown_seconds)
        # /quote and the Helpful / Not helpful buttons are cheap but can be pressed in a loop: limited too
        self.quote_cooldowns = Cooldowns(settings.cooldown_questions, settings.cooldown_seconds)
        self.feedback_cooldowns = Cooldowns(settings.cooldown_questions * 3, settings.cooldown_seconds)
        # unasked answers in help channels have their own allowance, so they never cost someone a question
        self.auto_cooldowns = Cooldowns(settings.cooldown_questions, settings.cooldown_seconds)
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bot-sqlite")
        self.typing_after = TYPING_AFTER
        self.serving = True  # False for `python -m bot sync`, which only registers commands
        # /corpus changes go through the same CorpusManager as `python -m bot corpus`; after each change it calls
        # the service's reindex, which swaps the live index, so answers quote the change at once
        self.corpus = CorpusManager.from_settings(
            settings, self._reindex_after_change, corpus_dir=service.corpus_dir, index_dir=service.index_dir
        )
        self.corpus_progress: tuple[int, int] | None = None  # (done, total) of the reindex after a corpus change
        # moderators' lessons and readers' votes, in the same database; /teach and `python -m bot teach` share them
        self.lessons = LessonBook(settings.database)
        self.tree = app_commands.CommandTree(self)
        add_commands(self.tree)
        self._index_follower: asyncio.Task[None] | None = None
        self._leaving: set[int] = set()  # servers not in ALLOWED_GUILD_IDS the bot has asked to leave
        self._source_refresher: asyncio.Task[None] | None = None

    async def setup_hook(self) -> None:
        if not self.serving:
            return
        # Questions wait in worker threads while one of them embeds the whole group at once (QueryBatcher); asyncio's
        # default of (cores + 4) threads would cap a group at 6 on this machine.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="bot-worker")
        )
        self.add_dynamic_items(MoreButton, FeedbackButton)
        await self.recover_corpus()
        if not self.service.loaded:
            await asyncio.to_thread(self.service.load)
        if self.settings.index_check_seconds > 0:
            self._index_follower = asyncio.create_task(self._follow_index(), name="follow-index")
        if self.settings.sources_refresh_minutes > 0 and self.service.has_sources:
            self._source_refresher = asyncio.create_task(self._refresh_sources(), name="refresh-sources")
        await self.sync_commands()

    async def _refresh_sources(self) -> None:
        """Every SOURCES_REFRESH_MINUTES, sync the git sources through the same path as /reindex."""
        while True:
            await asyncio.sleep(self.settings.sources_refresh_minutes * 60)
            try:
                report = await asyncio.to_thread(self.service.reindex)
            except BuildBusy:
                log.info("sources not refreshed: a reindex is already running")
                continue
            except Exception as exc:  # a failed build keeps the previous index; the schedule goes on
                log.warning("scheduled sync of the sources failed: %s", exc)
                continue
            for error in report.sync.errors if report.sync else []:
                log.warning("scheduled sync: %s", error)
            log.info("scheduled sync of the sources done in %.1f s", report.build.seconds)

    async def _follow_index(self) -> None:
        """Every INDEX_CHECK_SECONDS, swap in a build another process (a /reindex on another shard, `python -m bot
        index`) made live; questions keep using the old one until the new one is loaded."""
        while True:
            await asyncio.sleep(self.settings.index_check_seconds)
            try:
                await asyncio.to_thread(self.service.follow_current)
            except Exception:  # a bug here must not stop the checks, nor the bot
                log.exception("could not check the index directory for a new build")

    async def close(self) -> None:
        for task in (self._index_follower, self._source_refresher):
            if task is not None:
                task.cancel()
        await super().close()

    async def recover_corpus(self) -> None:
        """Finish or roll back a corpus change a kill interrupted (its audit row and archived version), before the
        index is used. `python -m bot run` has already done so before loading the index (then this finds nothing);
        a bot started any other way is covered here. Recovery never changes a corpus file, and loading the index
        rebuilds it when the corpus differs from it, so corpus, history and index agree afterwards."""
        try:
            repairs = await asyncio.to_thread(self.corpus.recover)
        except CorpusChangeError as exc:
            log.error("could not check for interrupted corpus changes: %s", exc)
            return
        for line in repairs:
            log.warning("corpus recovery: %s", line)

    def _reindex_after_change(self) -> object:
        """CorpusManager's reindex: the live service's, with its progress kept for the /corpus add message."""

        def progress(done: int, total: int) -> None:
            self.corpus_progress = (done, total)

        self.corpus_progress = None
        with self.service.without_sync():  # a corpus change fetches nothing: the sources stay at their commits
            return self.service.reindex(progress=progress)

    async def on_ready(self) -> None:
        log.info("connected as %s; in %d server(s)", self.user, len(self.guilds))
        if not self.settings.moderation_guild_ids:
            log.warning("moderation from Discord is off: set MODERATOR_GUILD_IDS (or DISCORD_GUILD_ID) to your server")
        for guild in list(self.guilds):  # servers that added the bot while it was offline
            await self._leave_if_not_allowed(guild)
        if not self.guilds:
            log.warning("the bot is in no server yet; invite it with %s", invite_url(self.application_id or 0))

    async def on_guild_join(self, guild: discord.Guild) -> None:
        log.info("added to server %s (%s)", guild.name, guild.id)
        await self._leave_if_not_allowed(guild)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        # discord.py reports a server the bot joins as available rather than joined when its GUILD_CREATE says
        # `unavailable: false`; either way it is checked
        await self._leave_if_not_allowed(guild)

    async def _leave_if_not_allowed(self, guild: discord.Guild) -> None:
        """ALLOWED_GUILD_IDS, when set, lists the only servers the bot stays in; it leaves any other."""
        allowed = self.settings.allowed_guild_ids
        if not allowed or guild.id in allowed or guild.id in self._leaving:
            return
        self._leaving.add(guild.id)
        log.warning("leaving server %s (%s): it is not in ALLOWED_GUILD_IDS", guild.name, guild.id)
        try:
            await guild.leave()
        except discord.HTTPException as exc:
            log.error("could not leave server %s: %s", guild.id, exc)

    # --- slash command registration ---------------------------------------------------------------------------------

    def _command_target(self) -> discord.Object | None:
        if self.settings.guild_id is None:
            return None
        guild = discord.Object(self.settings.guild_id)
        self.tree.copy_global_to(guild=guild)
        return guild

    async def sync_commands(self, force: bool = False) -> bool:
        """Send the slash commands to Discord when their definitions changed since the last sync (or when forced),
        to one server when DISCORD_GUILD_ID is set. Returns whether a sync happened.

        Moving between one server and global registration removes the commands from where they were, so the server
        does not list every command twice."""
        guild = self._command_target()
        scope = f"guild:{guild.id}" if guild else "global"
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        key = f"commands:{self.application_id}"
        previous = await self._db(self.store.get_meta, key)
        if not force and previous == f"{scope} {digest}":
            log.info("slash commands unchanged; not syncing")
            return False
        if previous and previous.split(" ")[0] != scope:
            old_scope = previous.split(" ")[0]
            old_guild = discord.Object(int(old_scope.split(":")[1])) if old_scope.startswith("guild:") else None
            self.tree.clear_commands(guild=old_guild)
            await self.tree.sync(guild=old_guild)
            log.info(
                "removed the slash commands registered %s", f"in server {old_guild.id}" if old_guild else "globally"
            )
            if old_guild is None:  # clearing the global tree also cleared our definitions: restore them
                add_commands(self.tree)
                guild = self._command_target()
        synced = await self.tree.sync(guild=guild)
        await self._db(self.store.set_meta, key, f"{scope} {digest}")
        log.info("synced %d slash commands to %s", len(synced), f"server {guild.id}" if guild else "all servers")
        return True

    async def _db(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """SQLite work on its own thread, so it never queues behind questions waiting for the model."""
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, functools.partial(fn, *args, **kwargs))

    # --- asking ---------------------------------------------------------------------------------------------------

    async def ask(
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

        def work() -> Asked:
            answer = self.service.ask(question, 3, self.lessons)
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
                    self.lessons.record_shown(question_id, answer)
                except LessonError as exc:
                    log.error("could not remember the passage shown: %s", exc)
            if answer.answered:
                return Asked(answer, question_id, render.answer_embed(answer), question_id or None)
            suggestions = answer.suggestions or self.service.topics()
            taught = isinstance(answer, TaughtDecline)
            scope = (answer.topic or "", answer.pointer) if answer.pointer else None
            embed = render.decline_embed(answer.question, suggestions, self.service.sources(), taught, scope)
            return Asked(answer, question_id, embed, None)

        return await asyncio.to_thread(work)

    def _record(self, answer: Answer, **where: object) -> int:
        """Record a question; 0 when the database fails (the answer still goes out, without feedback buttons)."""
        try:
            return self.store.record_question(
                answer.question,
                answered=answer.answered,
                confidence=answer.confidence,
                top_source=answer.results[0].document if answer.results else None,
                **where,  # type: ignore[arg-type]
            )
        except (sqlite3.Error, StoreError) as exc:
            log.error("could not record a question in %s: %s", self.store.path, exc)
            return 0

    def reply_for(self, asked: Asked) -> tuple[discord.Embed, discord.ui.View | None]:
        view = answer_view(asked.buttons_for) if asked.buttons_for else None
        return asked.embed, view

    async def question_answered_by(self, message: discord.Message) -> str | None:
        """The question one of the bot's answers answered: by the question id in its buttons, else (a declined answer
        has none) from its title. None for any other message."""
        if self.user is None or message.author.id != self.user.id:
            return None
        ids = [
            int(m[1])
            for row in message.components
            for item in getattr(row, "children", [])
            if (m := _QUESTION_ID.match(getattr(item, "custom_id", None) or ""))
        ]
        if ids:
            question = await self._db(self.store.question_text, ids[0])
            if question is not None:
                return question
        title = message.embeds[0].title if message.embeds else None
        if title and title.startswith("Q: ") and not title.endswith("…"):
            return render.unescape(title[3:])  # a declined answer has no buttons; its title holds the question
        return None

    def cooldown_notice(self, retry_after: float) -> str:
        return (
            f"You're asking faster than I can keep up with. Please wait {math.ceil(retry_after)} s and ask again "
            f"(up to {self.settings.cooldown_questions} questions every {self.settings.cooldown_seconds:g} s)."
        )

    # --- messages: mentions, DMs, auto-answer channels -----------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.user is None:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return  # joins, pins, "started a thread" notices and the like
        mention = re.compile(rf"<@!?{self.user.id}>")
        if message.guild is None:
            await self._answer_message(
                message, await self._with_context(message, mention.sub(" ", message.content)), via="dm"
            )
            return
        role = message.guild.self_role
        if mention.search(message.content) or (self.user in message.mentions and looks_like_question(message.content)):
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
                hint = f"That mentioned my role, so I couldn't read the question. Mention me ({self.user.mention})."
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
        earlier = await self.question_answered_by(replied)
        if not earlier or not question.strip():
            return question
        return f"{render.clip(earlier, FOLLOW_UP_MAX_CHARS)} {question.strip()}"

    async def _answer_message(self, message: discord.Message, question: str, via: str) -> None:
        private = message.guild is None
        wait = self.cooldowns.retry_after(message.author.id)
        if wait:
            if self.cooldowns.should_notify(message.author.id):
                await self._tell_privately(message, self.cooldown_notice(wait))
            return
        work = asyncio.ensure_future(
            self.ask(
                question,
                via=via,
                user=message.author,
                channel_id=message.channel.id,
                guild_id=message.guild.id if message.guild else None,
            )
        )
        try:
            # show "typing…" only when the answer is slow to come (a reindex or a cold start); most take milliseconds
            done, _ = await asyncio.wait({work}, timeout=self.typing_after)
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
        embed, view = self.reply_for(asked)
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
        channels = self.settings.auto_answer_channel_ids
        if not channels or message.reference is not None:  # replies belong to a conversation already going on
            return False
        channel = message.channel
        if isinstance(channel, discord.PartialMessageable):  # a forum post whose thread is not cached yet
            try:
                channel = await self.fetch_channel(channel.id)
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
        if self.auto_cooldowns.retry_after(message.author.id):
            return  # nobody asked the bot directly, so it stays quiet

        def confident(answer: Answer) -> bool:
            return answer.answered and answer.confidence >= self.settings.auto_answer_confidence

        try:
            asked = await self.ask(
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
            embed, view = self.reply_for(asked)
            await self._send(message, embed=embed, view=view, private=False)
        else:
            log.info("auto-answer: not confident enough (%.2f) for %r", asked.answer.confidence, text[:80])


INVITE_PERMISSIONS = 274877991936  # View Channels, Send Messages (+ in Threads), Embed Links, Read Message History


def invite_url(application_id: int) -> str:
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}"
        f"&scope=bot+applications.commands&permissions={INVITE_PERMISSIONS}"
    )


def point_at(settings: Settings) -> None:
    """Send discord.py's REST calls and gateway connection to the configured hosts (Discord's, or proxies)."""
    import yarl

    discord.http.Route.BASE = settings.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


class ShardedOnboardingBot(OnboardingBot, discord.AutoShardedClient):
    """The same bot over several gateway connections (SHARD_COUNT, SHARD_IDS): discord.py's sharded client."""


def make_bot(settings: Settings, service: AnswerService, store: Store, **options: float) -> OnboardingBot:
    """The sharded bot when SHARD_COUNT is set, else the single-connection one."""
    cls = ShardedOnboardingBot if settings.shard_count is not None else OnboardingBot
    return cls(settings, service, store, **options)


async def start(settings: Settings, service: AnswerService, store: Store) -> None:
    """Run until stopped (Ctrl-C, or SIGTERM from a service manager)."""
    import signal

    point_at(settings)
    async with make_bot(settings, service, store) as client:
        loop = asyncio.get_running_loop()
        closing: set[asyncio.Task] = set()

        def stop() -> None:
            log.info("SIGTERM: logging out")
            closing.add(loop.create_task(client.close()))

        loop.add_signal_handler(signal.SIGTERM, stop)
        await client.start(settings.discord_token or "")


async def sync_commands_only(settings: Settings, service: AnswerService, store: Store) -> int:
    """`python -m bot sync`: log in, send the slash commands, log out."""
    point_at(settings)
    client = OnboardingBot(settings, service, store)
    client.serving = False
    async with client:
        await client.login(settings.discord_token or "")
        await client.sync_commands(force=True)
    return 0
