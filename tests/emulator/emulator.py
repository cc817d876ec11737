"""``DiscordEmulator``: the state it starts with, its server's lifecycle, and waiting for what the bot does. The
protocol itself is in the mixins it is made of (state, gateway, messages, CDN, commands, interactions, REST)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from .cdn import CdnMixin
from .commands import CommandsMixin
from .gateway import GatewayMixin, _GatewayConnection, _Session
from .interactions import Interaction, InteractionsMixin
from .messages import MessagesMixin
from .protocol import (
    API_VERSION,
    ATTACHMENT_SIZE_LIMIT,
    BOT_ROLE_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    MANAGE_GUILD,
)
from .rest import RestMixin
from .state import StateMixin

T = TypeVar("T")


def _taker(queue: list[dict], predicate: Callable[[dict], bool] | None) -> Callable[[], dict | None]:
    """A check for _wait_until that removes and returns the first matching item of `queue`."""

    def take() -> dict | None:
        for i, item in enumerate(queue):
            if predicate is None or predicate(item):
                return queue.pop(i)
        return None

    return take


class DiscordEmulator(StateMixin, GatewayMixin, MessagesMixin, CdnMixin, CommandsMixin, InteractionsMixin, RestMixin):
    """Discord's REST API and gateway for one bot in one guild (more with ``add_guild``), on 127.0.0.1.

    The guild has roles "@everyone", "Moderators" (no extra permissions), "Admin" (MANAGE_GUILD) and the bot's
    managed role (named after the bot), text channels "general" and "help", a forum "questions", and an "owner"
    member (``owner``).  Ids are assigned in ``__init__``; ``rest_base``/``gateway_url`` after ``start()``.

    Records: ``messages``, ``edits``, ``deletions``, ``rejected`` ({method, path, status, code, message, errors,
    body}), ``pings`` ({message_id, channel_id, users, roles, everyone, replied_user, edit, silent}),
    ``reactions``, ``typing`` (channel ids), ``requests`` ((method, path) of every REST call), ``heartbeats``,
    ``identifies``, ``resumes``, ``intents``, ``commands`` ({"global": [...], guild_id: [...]}),
    ``command_puts``, ``interactions``, ``attachment_data`` (attachment id -> bytes), ``downloads`` ({attachment_id,
    path, size, bytes_sent, complete} per request to the CDN), ``threads`` (name -> id).
    Close the client before the emulator, or discord.py will keep trying to reconnect (``running_client`` does).
    """

    def __init__(
        self,
        *,
        heartbeat_interval: float = 41.25,
        ack_deadline: float = 3.0,
        bot_name: str = "TestBot",
        message_rate: tuple[int, float] | None = None,
        attachment_size_limit: int = ATTACHMENT_SIZE_LIMIT,
    ) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.attachment_size_limit = attachment_size_limit  # largest file a user may upload (boosts raise it)
        self.ack_deadline = ack_deadline  # seconds Discord allows for the first interaction callback
        self.rest_base = ""
        self.gateway_url = ""
        self.port = 0
        self._snowflake_counter = 0

        self.application_id: int = self._snowflake()
        bot_id = self.application_id  # for bots the user id equals the application id
        self.token: str = f"{secrets.token_urlsafe(18)}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(27)}"
        self.bot_user: dict = {
            "id": str(bot_id),
            "username": bot_name,
            "global_name": None,
            "discriminator": "0",
            "avatar": None,
            "bot": True,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "verified": True,
            "mfa_enabled": False,
            "email": None,
            "locale": "en-US",
            "premium_type": 0,
        }
        self.bot_id = bot_id
        private = ("verified", "mfa_enabled", "email", "locale", "premium_type")
        self._bot_author = {k: v for k, v in self.bot_user.items() if k not in private}

        # Recorded traffic.
        self.messages: list[dict] = []
        self.edits: list[dict] = []
        self.deletions: list[dict] = []
        self.rejected: list[dict] = []
        # Discord allows a bot 5 messages per 5 s in one channel; off unless asked for, so other tests stay quick
        self.message_rate = message_rate
        self._rate_windows: dict[str, tuple[float, int]] = {}
        self.rate_limited: list[dict] = []  # requests answered with 429
        self.inject_429 = 0  # answer this many next bot messages with a 429, as a rate-limit race on Discord would
        self.bot_denied: dict[int, int] = {}  # channel id -> permissions denied to the bot by an overwrite
        self.pings: list[dict] = []
        self.reactions: list[dict] = []
        self.typing: list[int] = []
        self.requests: list[tuple[str, str]] = []
        self.heartbeats: list[float] = []
        self.identifies = 0
        self.shards_identified: list[tuple[int, int]] = []
        self.resumes = 0
        self.intents: int | None = None
        self.presence: dict | None = None
        self.commands: dict[Any, list[dict]] = {"global": []}
        self.command_puts = 0
        self.attachment_data: dict[int, bytes] = {}
        self._attachment_types: dict[int, str] = {}
        self.downloads: list[dict] = []
        self.cdn_content_length = True  # False: the CDN streams files chunked, without announcing their length
        self._cdn_key = secrets.token_bytes(32)
        self.interactions: list[Interaction] = []

        # Gateway sessions, one per shard (shard 0 of 1 for an unsharded bot).
        self._sessions: dict[int, _Session] = {}
        self.recommended_shards: int | None = None  # GET /gateway/bot's "shards"; None: one per 1,000 guilds
        self._connections: set[_GatewayConnection] = set()
        self._ready = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

        # Guild state.
        self.guild_id: int = self._snowflake()
        self.guild_ids: list[int] = [self.guild_id]  # every guild the bot is in, the first one first
        self.left_guild_ids: list[int] = []  # guilds the bot left (DELETE /users/@me/guilds/{id}), in order
        self._guild_names: dict[int, str] = {self.guild_id: "Emulated Guild"}
        self.users: dict[int, dict] = {bot_id: self._bot_author}
        self._members: dict[int, dict] = {}  # the first guild's
        self._guild_members: dict[int, dict[int, dict]] = {self.guild_id: self._members}
        self._roles_by_id: dict[int, dict] = {}
        self._role_guild: dict[int, int] = {}
        self._system_channels: dict[int, int] = {}
        self.roles: dict[str, int] = {}
        self._channels_by_id: dict[int, dict] = {}
        self.channels: dict[str, int] = {}
        self.threads: dict[str, int] = {}
        self._dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self._messages_by_id: dict[int, dict] = {}
        self._channel_messages: dict[int, list[int]] = {}
        self._interactions_by_id: dict[int, Interaction] = {}
        self._interactions_by_token: dict[str, Interaction] = {}
        self._unconsumed: list[dict] = []
        self._unconsumed_rejections: list[dict] = []

        self._add_role("@everyone", EVERYONE_PERMISSIONS, role_id=self.guild_id)
        self._add_role("Moderators", 0)
        self._add_role("Admin", MANAGE_GUILD)
        self._add_role(bot_name, BOT_ROLE_PERMISSIONS, managed_for=bot_id)
        self._system_channels[self.guild_id] = self.add_channel("general")
        self.add_channel("help")
        self.add_channel("questions", type=15)
        self._add_member(bot_id, [self.roles[bot_name]])
        self.owner: dict = {}
        self.owner = self.add_user("owner", roles=["Admin"])

    # ------------------------------------------------------------------------------------------------------------
    # Lifecycle.

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway_handler)
        for prefix in ("attachments", "ephemeral-attachments"):
            app.router.add_get(f"/{prefix}/{{channel_id:\\d+}}/{{attachment_id:\\d+}}/{{filename}}", self._cdn_handler)
        app.router.add_route("*", f"/api/v{API_VERSION}/{{tail:.*}}", self._rest_handler)
        app.router.add_route("*", "/{tail:.*}", self._unknown_handler)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.rest_base = f"http://127.0.0.1:{self.port}/api/v{API_VERSION}"
        self.gateway_url = f"ws://127.0.0.1:{self.port}/gateway"

    async def close(self) -> None:
        """Close gateway connections and stop the server."""
        for conn in list(self._connections):
            conn.queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(code=1001, message=b"emulator closing"), 1)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------------------------------------------------
    # Waiting.

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = self.rejected[-3:]
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}; recent rejections: {recent}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for_message(self, predicate: Callable[[dict], bool] | None = None, *, timeout: float = 10) -> dict:
        """The next message the bot created (anywhere) matching ``predicate`` and not returned before."""
        return await self._wait_until(_taker(self._unconsumed, predicate), timeout, "a bot message")

    async def wait_for_rejection(self, predicate: Callable[[dict], bool] | None = None, *, timeout: float = 10) -> dict:
        """The next rejected request matching ``predicate`` and not returned before."""
        return await self._wait_until(_taker(self._unconsumed_rejections, predicate), timeout, "a rejected request")

    def bot_env(self) -> dict[str, str]:
        """The settings that point a bot process at this emulator (token, REST base, gateway URL)."""
        return {
            "DISCORD_TOKEN": self.token,
            "DISCORD_API_BASE": self.rest_base,
            "DISCORD_GATEWAY_URL": self.gateway_url,
        }
