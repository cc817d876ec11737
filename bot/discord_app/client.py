"""The Discord client: the bot's lifecycle (start-up, the index and sources kept current, command sync, the servers it
stays in) and what its features share (settings, the answering service, the question log, the corpus manager,
cooldowns, a thread for SQLite). The features themselves are cogs in bot/discord_app/cogs/, added at start-up.

It is a discord.py `commands.Bot` only because cogs need one: no prefix commands exist, and messages never reach
discord.py's command parser (`on_message` below); mentions, DMs and replies are answered by the answers cog.
Everything slow (the model, the index, SQLite) runs through `asyncio.to_thread`, so the gateway heartbeat never waits.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import discord
from discord.ext import commands

from bot.config import Settings
from bot.corpus import CorpusChangeError, CorpusManager
from bot.discord_app import render
from bot.discord_app.cogs import add_cogs
from bot.discord_app.common import CommandTree, Cooldowns
from bot.index import BuildBusy
from bot.service import AnswerService
from bot.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

WORKER_THREADS = 32
TYPING_AFTER = 0.5  # seconds
_QUESTION_ID = re.compile(r"^(?:more|feedback):(\d+)")


class OnboardingBot(commands.Bot):
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
            command_prefix=(),  # no prefix commands: the bot has slash commands only
            help_command=None,
            tree_cls=CommandTree,
            intents=intents,
            allowed_mentions=render.NO_PINGS,
            guild_ready_timeout=guild_ready_timeout,
            **shards,
        )
        self.settings = settings
        self.service = service
        self.store = store
        # per-user allowances (COOLDOWN_QUESTIONS per COOLDOWN_SECONDS): asking, by /ask, a mention or a DM
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
        # moderators' lessons and readers' votes come from this bot's database; the service owns them and applies them
        # to every answer, and /teach and `python -m bot teach` change them through it
        service.keep_lessons_in(settings.database)
        self._index_follower: asyncio.Task[None] | None = None
        self._leaving: set[int] = set()  # servers not in ALLOWED_GUILD_IDS the bot has asked to leave
        self._source_refresher: asyncio.Task[None] | None = None

    async def setup_hook(self) -> None:
        await add_cogs(self)  # the features and their slash commands, also when only syncing them
        if not self.serving:
            return
        # Questions wait in worker threads while one of them embeds the whole group at once (QueryBatcher); asyncio's
        # default of (cores + 4) threads would cap a group at 6 on this machine.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="bot-worker")
        )
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

    async def on_message(self, message: discord.Message, /) -> None:
        """Not discord.py's prefix-command parsing (`commands.Bot`'s own on_message): the answers cog listens to
        messages and answers mentions, DMs, replies and posts in auto-answer channels."""

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
        previous = await self.in_db_thread(self.store.get_meta, key)
        if not force and previous == f"{scope} {digest}":
            log.info("slash commands unchanged; not syncing")
            return False
        if previous and previous.split(" ")[0] != scope:
            old_scope = previous.split(" ")[0]
            old_guild = discord.Object(int(old_scope.split(":")[1])) if old_scope.startswith("guild:") else None
            ours = self.tree.get_commands(guild=None)  # the cogs' commands, slash and context menu
            self.tree.clear_commands(guild=old_guild)
            await self.tree.sync(guild=old_guild)
            log.info(
                "removed the slash commands registered %s", f"in server {old_guild.id}" if old_guild else "globally"
            )
            if old_guild is None:  # clearing the global tree also cleared our definitions: put them back
                for command in ours:
                    self.tree.add_command(command)
                guild = self._command_target()
        synced = await self.tree.sync(guild=guild)
        await self.in_db_thread(self.store.set_meta, key, f"{scope} {digest}")
        log.info("synced %d slash commands to %s", len(synced), f"server {guild.id}" if guild else "all servers")
        return True

    async def in_db_thread(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """SQLite work on its own thread, so it never queues behind questions waiting for the model."""
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, functools.partial(fn, *args, **kwargs))

    # --- the bot's own answers ------------------------------------------------------------------------------------

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
            question = await self.in_db_thread(self.store.question_text, ids[0])
            if question is not None:
                return question
        title = message.embeds[0].title if message.embeds else None
        if title and title.startswith("Q: ") and not title.endswith("…"):
            return render.unescape(title[3:])  # a declined answer has no buttons; its title holds the question
        return None


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


class ShardedOnboardingBot(OnboardingBot, commands.AutoShardedBot):
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
