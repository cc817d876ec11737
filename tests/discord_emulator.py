"""A loopback emulator of Discord's REST API and gateway, for tests of discord.py bots.

The real, unmodified discord.py client connects to it over real sockets on 127.0.0.1::

    async def scenario() -> None:
        emulator = DiscordEmulator(heartbeat_interval=1.0)
        await emulator.start()
        try:
            client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
            async with running_client(emulator, client):
                alice = emulator.add_user("alice")
                await emulator.post_message("general", alice, f"<@{emulator.bot_user['id']}> hi")
                reply = await emulator.wait_for_message()
        finally:
            await emulator.close()

``running_client`` points discord.py at the emulator (``point_discord_py_at``), starts the client, waits until it
is ready and always closes it again.

What the emulator enforces (recorded in ``rejected`` and answered with Discord's real error shape):
form limits on messages, embeds, components and application commands (50035), empty messages (50006),
interaction callbacks later than ``ack_deadline`` seconds (10062) or repeated (40060), bad tokens (401),
unknown routes (404).  For every message the bot creates or edits it records in ``pings`` who Discord would
notify.  Pings assume the worst case: the bot may mention @everyone and every role (its managed role has
MENTION_EVERYONE), so only ``allowed_mentions`` decides.

Conventions:

* ``messages`` holds snapshots of the bot's messages as created (plus the ``allowed_mentions`` it sent);
  ``edits`` holds a snapshot after each PATCH, with the PATCH body under ``"patch"``; ``get_message`` returns
  the current state.
* A deferred interaction response (callback type 5) creates a "thinking" placeholder that is not counted as a
  message; the bot's first edit of ``@original`` completes it and it is then appended to ``messages`` (and
  to ``edits``).
* Bots may start threads (POST /channels/{id}/messages/{id}/threads, /channels/{id}/threads, forum posts
  included); test code opens forum posts with ``create_forum_post``.
* Gateway events are gated by the intents the client identified with (GUILD_MESSAGES, DIRECT_MESSAGES,
  GUILD_MEMBERS, GUILDS), and guild message content is blanked without MESSAGE_CONTENT unless the bot is
  mentioned or is the author.
* Files: a user fills an ATTACHMENT option (type 11) with a ``UserFile``; as Discord does, the interaction carries
  the attachment id as the option's value and its metadata under ``data.resolved.attachments``, and the bytes are
  served from the emulator's own "CDN" on the same loopback port (``/ephemeral-attachments/...`` for command
  options, ``/attachments/...`` for files the bot uploads), at signed URLs (``ex``, ``is``, ``hm``) that stop
  working when tampered with, with a Content-Length (or chunked, without one, when ``cdn_content_length`` is
  False). Every download is recorded in ``downloads`` with the bytes actually written. A file
  over ``attachment_size_limit`` (what Discord's client allows in this server) raises ``ValueError``, as the
  client refuses to upload it. File names are passed through unchanged (the worst case a bot must handle).
* Autocomplete: ``autocomplete()`` sends what Discord sends while a user types in an option declared with
  ``autocomplete: true`` (type 4 interaction, the options typed so far, the one being typed with
  ``focused: true`` and its raw text as value, no resolved data); the bot's type 8 answer is checked against
  Discord's limits (at most 25 choices, names 1-100 characters, values of the option's type, strings at most
  100 characters) and recorded in ``Interaction.autocomplete_choices``.
* An ephemeral message can only be clicked by the user it was shown to (``click`` raises ``PermissionError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import hashlib
import hmac
import json
import mimetypes
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import WSMsgType, web

__all__ = [
    "DiscordAPIError",
    "DiscordEmulator",
    "Interaction",
    "UserFile",
    "point_discord_py_at",
    "running_client",
]

T = TypeVar("T")

API_VERSION = 10
DISCORD_EPOCH_MS = 1_420_070_400_000

# Gateway intents.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

# Permissions.
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CONNECT = 1 << 20
SPEAK = 1 << 21
CHANGE_NICKNAME = 1 << 26
USE_APPLICATION_COMMANDS = 1 << 31
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CONNECT
    | SPEAK
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)
BOT_ROLE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | MENTION_EVERYONE
    | MANAGE_MESSAGES
    | USE_EXTERNAL_EMOJIS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)

# Message flags.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_IS_COMPONENTS_V2 = 1 << 15
SENDABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_IS_COMPONENTS_V2

# Interaction types and the callback types Discord accepts for each.
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
ALLOWED_CALLBACKS: dict[int, set[int]] = {
    PING: {1},
    APPLICATION_COMMAND: {4, 5, 9, 12},
    MESSAGE_COMPONENT: {4, 5, 6, 7, 9, 12},
    AUTOCOMPLETE: {8},
    MODAL_SUBMIT: {4, 5, 6, 7},
}

SELECT_TYPES = {3, 5, 6, 7, 8}
_CHANNEL_MESSAGES = re.compile(r"/channels/\d+/messages")
USER_MENTION_RE = re.compile(r"<@!?(\d{15,21})>")
ROLE_MENTION_RE = re.compile(r"<@&(\d{15,21})>")
COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024  # what Discord lets anyone upload in a server without boosts
CDN_CHUNK = 64 * 1024
ATTACHMENT_URL_LIFETIME = 24 * 3600  # seconds a signed attachment URL stays valid
AUTOCOMPLETE_TYPES = {3, 4, 10}  # option types that can have autocomplete: string, integer, number


@dataclass(frozen=True)
class UserFile:
    """A file a user picks for an ATTACHMENT option; ``content_type`` defaults to a guess from the name."""

    filename: str
    data: bytes
    content_type: str | None = None


def _taker(queue: list[dict], predicate: Callable[[dict], bool] | None) -> Callable[[], dict | None]:
    """A check for _wait_until that removes and returns the first matching item of `queue`."""

    def take() -> dict | None:
        for i, item in enumerate(queue):
            if predicate is None or predicate(item):
                return queue.pop(i)
        return None

    return take


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def _json_response(data: Any, status: int = 200) -> web.Response:
    # Exactly "application/json": discord.py only decodes JSON when the header matches without a charset.
    return web.Response(body=_dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


class DiscordAPIError(Exception):
    """An error Discord would answer with; raised inside request handlers."""

    def __init__(self, status: int, code: int, message: str, errors: dict | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class _FormErrors:
    """Collects Invalid Form Body (50035) errors keyed by dotted path, e.g. ``embeds.0.title``."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []

    def add(self, path: str, code: str, message: str) -> None:
        self.items.append((path, code, message))

    def max_len(self, path: str, value: Any, limit: int) -> None:
        if isinstance(value, str | list) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def length(self, path: str, value: Any, low: int, high: int) -> None:
        if not isinstance(value, str) or not low <= len(value) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def raise_if_any(self) -> None:
        if not self.items:
            return
        tree: dict[str, Any] = {}
        for path, code, message in self.items:
            node = tree
            for part in path.split(".") if path else []:
                node = node.setdefault(part, {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        raise DiscordAPIError(400, 50035, "Invalid Form Body", tree)


# ----------------------------------------------------------------------------------------------------------------
# Validation of what the bot sends.


def _embed_text_size(embed: dict) -> int:
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
    for field in embed.get("fields") or []:
        size += len(field.get("name") or "") + len(field.get("value") or "")
    return size


def _validate_embeds(errs: _FormErrors, embeds: list) -> None:
    if len(embeds) > 10:
        errs.add("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    for i, embed in enumerate(embeds):
        path = f"embeds.{i}"
        errs.max_len(f"{path}.title", embed.get("title"), 256)
        errs.max_len(f"{path}.description", embed.get("description"), 4096)
        fields = embed.get("fields") or []
        errs.max_len(f"{path}.fields", fields, 25)
        for j, field in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                value = field.get(key)
                if not value:
                    errs.add(f"{path}.fields.{j}.{key}", "BASE_TYPE_REQUIRED", "This field is required")
                errs.max_len(f"{path}.fields.{j}.{key}", value, limit)
        errs.max_len(f"{path}.footer.text", (embed.get("footer") or {}).get("text"), 2048)
        errs.max_len(f"{path}.author.name", (embed.get("author") or {}).get("name"), 256)
    if sum(_embed_text_size(e) for e in embeds) > 6000:
        errs.add("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _walk_components(components: list, path: str) -> Iterator[tuple[str, dict]]:
    for i, component in enumerate(components):
        here = f"{path}.{i}"
        yield here, component
        if isinstance(component.get("components"), list):
            yield from _walk_components(component["components"], f"{here}.components")
        if isinstance(component.get("accessory"), dict):
            yield f"{here}.accessory", component["accessory"]


def _validate_components(errs: _FormErrors, components: list, flags: int) -> None:
    v2 = bool(flags & FLAG_IS_COMPONENTS_V2)
    if not v2:
        errs.max_len("components", components, 5)
        for i, row in enumerate(components):
            if row.get("type") != 1:
                errs.add(f"components.{i}.type", "UI_TYPE_INVALID", "Top-level components must be action rows.")
    elif sum(1 for _ in _walk_components(components, "components")) > 40:
        errs.add("components", "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in total.")
    seen: set[str] = set()
    for path, component in _walk_components(components, "components"):
        ctype = component.get("type")
        if ctype == 1:
            children = component.get("components") or []
            errs.max_len(f"{path}.components", children, 5)
            if any(c.get("type") in SELECT_TYPES for c in children) and len(children) > 1:
                errs.add(
                    f"{path}.components",
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
        elif ctype == 2:
            errs.max_len(f"{path}.label", component.get("label"), 80)
            style = component.get("style")
            if style == 5:
                if not component.get("url"):
                    errs.add(f"{path}.url", "BASE_TYPE_REQUIRED", "This field is required")
                if component.get("custom_id"):
                    errs.add(f"{path}.custom_id", "COMPONENT_CUSTOM_ID_INVALID", "Link buttons cannot have a custom_id")
            elif style != 6 and not component.get("custom_id"):
                errs.add(f"{path}.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
        elif ctype in SELECT_TYPES:
            if not component.get("custom_id"):
                errs.add(f"{path}.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
            errs.max_len(f"{path}.placeholder", component.get("placeholder"), 150)
            if ctype == 3:
                options = component.get("options") or []
                if not 1 <= len(options) <= 25:
                    errs.add(f"{path}.options", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length.")
                for j, option in enumerate(options):
                    for key in ("label", "value", "description"):
                        errs.max_len(f"{path}.options.{j}.{key}", option.get(key), 100)
        custom_id = component.get("custom_id")
        if custom_id is not None:
            errs.max_len(f"{path}.custom_id", custom_id, 100)
            if custom_id in seen:
                errs.add(
                    f"{path}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
                )
            seen.add(custom_id)


def _validate_allowed_mentions(errs: _FormErrors, allowed: Any) -> None:
    if allowed is None:
        return
    if not isinstance(allowed, dict):
        errs.add("allowed_mentions", "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    parse = allowed.get("parse") or []
    for i, kind in enumerate(parse):
        if kind not in ("users", "roles", "everyone"):
            errs.add(
                f"allowed_mentions.parse.{i}",
                "BASE_TYPE_CHOICES",
                "Value must be one of {'users', 'roles', 'everyone'}.",
            )
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            errs.add(
                "allowed_mentions",
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
            )
        errs.max_len(f"allowed_mentions.{kind}", allowed.get(kind), 100)


def _validate_message_form(body: dict, flags: int) -> None:
    errs = _FormErrors()
    content = body.get("content")
    errs.max_len("content", content, 2000)
    if flags & FLAG_IS_COMPONENTS_V2 and (content or body.get("embeds")):
        errs.add("content", "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2", "The 'content' field cannot be used")
    _validate_embeds(errs, body.get("embeds") or [])
    _validate_components(errs, body.get("components") or [], flags)
    _validate_allowed_mentions(errs, body.get("allowed_mentions"))
    errs.raise_if_any()


def _message_is_empty(message: dict) -> bool:
    return not (
        (message.get("content") or "").strip()
        or message.get("embeds")
        or message.get("components")
        or message.get("attachments")
        or message.get("sticker_items")
        or message.get("sticker_ids")
        or message.get("poll")
    )


def _validate_command_name(errs: _FormErrors, path: str, name: Any, chat_input: bool) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        errs.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    elif chat_input and (not COMMAND_NAME_RE.match(name) or name != name.lower()):
        errs.add(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")


def _validate_command_options(errs: _FormErrors, path: str, options: list) -> None:
    errs.max_len(path, options, 25)
    names: set[str] = set()
    seen_optional = False
    for i, option in enumerate(options):
        here = f"{path}.{i}"
        _validate_command_name(errs, f"{here}.name", option.get("name"), True)
        errs.length(f"{here}.description", option.get("description"), 1, 100)
        if option.get("name") in names:
            errs.add(f"{here}.name", "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique")
        names.add(option.get("name"))
        if option.get("type") in (1, 2):
            _validate_command_options(errs, f"{here}.options", option.get("options") or [])
            continue
        if option.get("required"):
            if seen_optional:
                errs.add(
                    f"{here}.required",
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if option.get("autocomplete") and (choices or option.get("type") not in AUTOCOMPLETE_TYPES):
            errs.add(
                f"{here}.autocomplete",
                "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID",
                "Autocomplete is for string, integer and number options without choices",
            )
        errs.max_len(f"{here}.choices", choices, 25)
        for j, choice in enumerate(choices):
            errs.length(f"{here}.choices.{j}.name", choice.get("name"), 1, 100)
            errs.max_len(f"{here}.choices.{j}.value", choice.get("value"), 100)


def _validate_choices(choices: Any, option_type: int) -> None:
    """An autocomplete answer: at most 25 choices, names of 1-100 characters, values of the option's type."""
    errs = _FormErrors()
    if not isinstance(choices, list):
        errs.add("data.choices", "BASE_TYPE_LIST", "Must be a list.")
        errs.raise_if_any()
    errs.max_len("data.choices", choices, 25)
    for i, choice in enumerate(choices):
        errs.length(f"data.choices.{i}.name", choice.get("name"), 1, 100)
        value = choice.get("value")
        if option_type == 3:
            if not isinstance(value, str):
                errs.add(f"data.choices.{i}.value", "BASE_TYPE_STRING", "Must be a string.")
            else:
                errs.max_len(f"data.choices.{i}.value", value, 100)
        elif option_type == 4 and (isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**53):
            errs.add(f"data.choices.{i}.value", "NUMBER_TYPE_COERCE", f"Value {value!r} is not int.")
        elif option_type == 10 and (isinstance(value, bool) or not isinstance(value, int | float)):
            errs.add(f"data.choices.{i}.value", "NUMBER_TYPE_COERCE", f"Value {value!r} is not a number.")
    errs.raise_if_any()


def _guess_content_type(filename: str) -> str:
    """The content type Discord's client gives an upload: from the name, text marked as UTF-8."""
    guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if filename.lower().endswith(".md"):
        guessed = "text/markdown"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def _validate_command(errs: _FormErrors, path: str, command: Any) -> None:
    prefix = f"{path}." if path else ""
    if not isinstance(command, dict):
        errs.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    ctype = command.get("type", 1)
    _validate_command_name(errs, f"{prefix}name", command.get("name"), ctype == 1)
    if ctype == 1:
        errs.length(f"{prefix}description", command.get("description"), 1, 100)
        _validate_command_options(errs, f"{prefix}options", command.get("options") or [])
    elif command.get("description"):
        errs.add(
            f"{prefix}description", "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION", "Context menu commands have none"
        )


# ----------------------------------------------------------------------------------------------------------------
# Interactions and gateway connections.


class Interaction:
    """An interaction the emulator dispatched, and everything the bot answered to it.

    ``responses`` holds accepted callbacks only; refused ones (late, repeated, invalid) are in the emulator's
    ``rejected``.  ``followups`` are snapshots as created; ``original`` is the live current state.
    """

    def __init__(self, emulator: DiscordEmulator, payload: dict) -> None:
        self._emulator = emulator
        self.payload: dict = payload
        self.id: int = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.channel_id: int = int(payload["channel_id"])
        self.responses: list[dict] = []
        self.followups: list[dict] = []
        self.deferred: bool = False
        self.dispatched_at: float = time.monotonic()
        self.responded_at: float | None = None
        self.autocomplete_choices: list[dict] | None = None
        self.autocomplete_option: dict | None = None  # the definition of the option being typed (autocomplete)
        self.modal: dict | None = None
        self.message_id: int | None = int(payload["message"]["id"]) if "message" in payload else None
        self._original_id: int | None = None
        self._placeholder = False
        self._followup_cursor = 0

    def __repr__(self) -> str:
        return f"<Interaction id={self.id} type={self.type} responses={[r['type'] for r in self.responses]}>"

    @property
    def original(self) -> dict | None:
        """The current state of the message created (or, for types 6/7, updated) by the response."""
        if self._original_id is None:
            return None
        return self._emulator._messages_by_id.get(self._original_id)

    @property
    def ephemeral(self) -> bool:
        original = self.original
        return bool(original and original.get("flags", 0) & FLAG_EPHEMERAL)

    async def wait_response(self, timeout: float = 10) -> dict:
        """The first accepted callback, as ``{"type": ..., "data": ...}``."""
        return await self._emulator._wait_until(
            lambda: self.responses[0] if self.responses else None, timeout, f"a response to interaction {self.id}"
        )

    async def wait_choices(self, timeout: float = 10) -> list[dict]:
        """The choices the bot offered for an autocomplete interaction (type 8 callback)."""
        return await self._emulator._wait_until(
            lambda: self.autocomplete_choices, timeout, f"autocomplete choices for interaction {self.id}"
        )

    async def wait_followup(self, timeout: float = 10) -> dict:
        """The next followup message not returned before."""

        def check() -> dict | None:
            if len(self.followups) > self._followup_cursor:
                self._followup_cursor += 1
                return self.followups[self._followup_cursor - 1]
            return None

        return await self._emulator._wait_until(check, timeout, f"a followup to interaction {self.id}")


class _GatewayConnection:
    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.request = request
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.writer: asyncio.Task[None] | None = None

    async def write_loop(self) -> None:
        while True:
            frame = await self.queue.get()
            if frame is None or self.ws.closed:
                return
            try:
                await self.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return


class _Upload:
    def __init__(self, field: str, filename: str, content_type: str, data: bytes) -> None:
        self.field = field
        self.filename = filename
        self.content_type = content_type
        self.data = data


# ----------------------------------------------------------------------------------------------------------------
# The emulator.


class DiscordEmulator:
    """Discord's REST API and gateway for one bot in one guild, on 127.0.0.1.

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

        # Gateway session.
        self._session_id: str | None = None
        self._seq = 0
        self._log: list[tuple[int, str]] = []
        self._live: _GatewayConnection | None = None
        self._connections: set[_GatewayConnection] = set()
        self._ready = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

        # Guild state.
        self.guild_id: int = self._snowflake()
        self.users: dict[int, dict] = {bot_id: self._bot_author}
        self._members: dict[int, dict] = {}
        self._roles_by_id: dict[int, dict] = {}
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
        self.add_channel("general")
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
    # Ids, users, roles, channels.

    def _snowflake(self) -> int:
        self._snowflake_counter += 1
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (self._snowflake_counter & 0x3FFFFF)

    def _add_role(
        self, name: str, permissions: int, *, role_id: int | None = None, managed_for: int | None = None
    ) -> int:
        role_id = role_id or self._snowflake()
        role: dict[str, Any] = {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": len(self._roles_by_id),
            "permissions": str(permissions),
            "managed": managed_for is not None,
            "mentionable": False,
            "flags": 0,
        }
        if managed_for is not None:
            role["tags"] = {"bot_id": str(managed_for)}
        self._roles_by_id[role_id] = role
        self.roles[name] = role_id
        return role_id

    def add_role(self, name: str, *, permissions: int = 0) -> int:
        """Add a guild role (dispatches GUILD_ROLE_CREATE when connected)."""
        role_id = self._add_role(name, permissions)
        if self._session_id is not None:
            self._emit(
                "GUILD_ROLE_CREATE", {"guild_id": str(self.guild_id), "role": self._roles_by_id[role_id]}, INTENT_GUILDS
            )
        return role_id

    def add_channel(self, name: str, *, type: int = 0, topic: str | None = None) -> int:
        """Add a guild channel (0 text, 2 voice, 5 announcement, 15 forum); returns its id."""
        channel_id = self._snowflake()
        channel: dict[str, Any] = {
            "id": str(channel_id),
            "type": type,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": sum(1 for c in self._channels_by_id.values() if "guild_id" in c),
            "permission_overwrites": [],
            "parent_id": None,
            "nsfw": False,
            "topic": topic,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        if type == 15:
            channel |= {
                "default_auto_archive_duration": 4320,
                "available_tags": [],
                "default_reaction_emoji": None,
                "default_thread_rate_limit_per_user": 0,
                "default_sort_order": None,
                "default_forum_layout": 0,
            }
        elif type == 2:
            channel |= {"bitrate": 64000, "user_limit": 0, "rtc_region": None}
        else:
            channel["default_auto_archive_duration"] = 1440
        self._channels_by_id[channel_id] = channel
        self.channels[name] = channel_id
        if self._session_id is not None:
            self._emit("CHANNEL_CREATE", channel, INTENT_GUILDS)
        return channel_id

    def _add_member(self, user_id: int, role_ids: list[int]) -> dict:
        member = {
            "user": self.users[user_id],
            "nick": None,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in role_ids],
            "joined_at": _now_iso(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        self._members[user_id] = member
        return member

    def add_user(self, name: str, *, roles: Sequence[str] = (), bot: bool = False) -> dict:
        """Add a guild member with the named roles; returns the user object."""
        unknown = [r for r in roles if r not in self.roles]
        if unknown:
            raise KeyError(f"unknown roles {unknown}; known: {sorted(self.roles)}")
        user_id = self._snowflake()
        user = {
            "id": str(user_id),
            "username": name,
            "global_name": name,
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
        }
        self.users[user_id] = user
        member = self._add_member(user_id, [self.roles[r] for r in roles])
        if self._session_id is not None:
            self._emit("GUILD_MEMBER_ADD", member | {"guild_id": str(self.guild_id)}, INTENT_GUILD_MEMBERS)
        return dict(user)

    def member_permissions(self, user: dict | int) -> int:
        """Guild-level permissions of a member, computed from @everyone and their roles."""
        user_id = int(user["id"]) if isinstance(user, dict) else int(user)
        if self.owner and user_id == int(self.owner["id"]):
            return ALL_PERMISSIONS
        member = self._members[user_id]
        perms = int(self._roles_by_id[self.guild_id]["permissions"])
        for role_id in member["roles"]:
            perms |= int(self._roles_by_id[int(role_id)]["permissions"])
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def get_message(self, message_id: int | str) -> dict | None:
        """The current state of any message (the bot's or a user's)."""
        return self._messages_by_id.get(int(message_id))

    def _resolve_channel(self, channel: str | int) -> dict:
        if isinstance(channel, str) and not channel.isdigit():
            channel_id = self.channels.get(channel) or self.threads.get(channel)
            if channel_id is None:
                raise KeyError(f"unknown channel {channel!r}; known: {sorted(self.channels) + sorted(self.threads)}")
        else:
            channel_id = int(channel)
        return self._channels_by_id[channel_id]

    def _dm_channel(self, user_id: int) -> dict:
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None:
            channel_id = self._snowflake()
            self._dm_channels[user_id] = channel_id
            self._channels_by_id[channel_id] = {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self.users[user_id]],
            }
        return self._channels_by_id[channel_id]

    def _guild_payload(self) -> dict:
        guild_channels = [c for c in self._channels_by_id.values() if "guild_id" in c and c["type"] not in (10, 11, 12)]
        threads = [c for c in self._channels_by_id.values() if c.get("type") in (10, 11, 12)]
        return {
            "id": str(self.guild_id),
            "name": "Emulated Guild",
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": self.owner["id"],
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": list(self._roles_by_id.values()),
            "emojis": [],
            "stickers": [],
            "features": ["COMMUNITY"],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(self.channels["general"]),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_presences": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "incidents_data": None,
            "joined_at": self._members[self.bot_id]["joined_at"],
            "large": False,
            "unavailable": False,
            "lazy": True,
            "member_count": len(self._members),
            "members": list(self._members.values()),
            "channels": guild_channels,
            "threads": threads,
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    # ------------------------------------------------------------------------------------------------------------
    # Gateway.

    def _emit(self, event: str, data: dict, intent: int | None = None) -> None:
        """Queue a dispatch (op 0) with the next sequence number; kept for RESUME replay."""
        if intent is not None and not (self.intents or 0) & intent:
            return
        self._seq += 1
        frame = _dumps({"op": 0, "t": event, "s": self._seq, "d": data})
        self._log.append((self._seq, frame))
        if self._live is not None:
            self._live.queue.put_nowait(frame)

    async def _gateway_handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        conn = _GatewayConnection(ws, request)
        self._connections.add(conn)
        hello = {"op": 10, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}, "s": None, "t": None}
        await ws.send_str(_dumps(hello))
        conn.writer = asyncio.create_task(conn.write_loop())
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_gateway_payload(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            if self._live is conn:
                self._live = None
            conn.queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await conn.writer
            self._connections.discard(conn)
        return ws

    async def _on_gateway_payload(self, conn: _GatewayConnection, payload: dict) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == 1:
            self.heartbeats.append(time.monotonic())
            conn.queue.put_nowait(_dumps({"op": 11, "d": None, "s": None, "t": None}))
        elif op == 2:
            if data.get("token") != self.token:
                await conn.ws.close(code=4004, message=b"Authentication failed.")
                return
            self.identifies += 1
            self.intents = int(data.get("intents") or 0)
            self.presence = data.get("presence")
            self._session_id = secrets.token_hex(16)
            self._seq = 0
            self._log.clear()
            self._live = conn
            ready = {
                "v": API_VERSION,
                "user": self.bot_user,
                "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                "session_id": self._session_id,
                "session_type": "normal",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "user_settings": {},
                "geo_ordered_rtc_regions": [],
                "_trace": ["discord-emulator"],
            }
            self._emit("READY", ready)
            self._emit("GUILD_CREATE", self._guild_payload(), INTENT_GUILDS)
            self._ready.set()
            self._notify()
        elif op == 6:
            if data.get("token") != self.token:
                await conn.ws.close(code=4004, message=b"Authentication failed.")
                return
            if data.get("session_id") != self._session_id:
                conn.queue.put_nowait(_dumps({"op": 9, "d": False, "s": None, "t": None}))
                return
            last = data.get("seq") or 0
            self._live = conn
            for seq, frame in self._log:
                if seq > last:
                    conn.queue.put_nowait(frame)
            self.resumes += 1
            self._emit("RESUMED", {"_trace": ["discord-emulator"]})
            self._notify()
        elif op == 8:
            self._answer_member_request(data or {})
        elif op == 3:
            self.presence = data

    def _answer_member_request(self, data: dict) -> None:
        members = list(self._members.values())
        if data.get("user_ids"):
            wanted = (
                {int(u) for u in data["user_ids"]} if isinstance(data["user_ids"], list) else {int(data["user_ids"])}
            )
            members = [m for m in members if int(m["user"]["id"]) in wanted]
        elif data.get("query"):
            members = [m for m in members if m["user"]["username"].lower().startswith(data["query"].lower())]
        if data.get("limit"):
            members = members[: data["limit"]]
        chunk = {"guild_id": str(self.guild_id), "members": members, "chunk_index": 0, "chunk_count": 1}
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        self._emit("GUILD_MEMBERS_CHUNK", chunk)

    async def wait_until_ready(self, timeout: float = 10) -> None:
        """Wait until READY and GUILD_CREATE have been queued to the client."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def wait_until_resumed(self, count: int = 1, timeout: float = 10) -> None:
        """Wait until ``resumes >= count``."""
        await self._wait_until(lambda: True if self.resumes >= count else None, timeout, f"{count} RESUME(s)")

    async def reconnect(self) -> None:
        """Send op 7 RECONNECT; events emitted until the client RESUMEs are replayed then."""
        conn = self._live
        if conn is None:
            raise RuntimeError("no live gateway connection")
        self._live = None
        conn.queue.put_nowait(_dumps({"op": 7, "d": None, "s": None, "t": None}))
        await asyncio.sleep(0)

    async def drop_connection(self) -> None:
        """Cut the gateway socket without a close frame; discord.py should reconnect and RESUME."""
        conn = self._live
        if conn is None:
            raise RuntimeError("no live gateway connection")
        self._live = None
        transport = conn.request.transport
        if transport is not None:
            transport.abort()
        await asyncio.sleep(0)

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; with ``resumable=False`` the client must IDENTIFY again."""
        conn = self._live
        if conn is None:
            raise RuntimeError("no live gateway connection")
        self._live = None
        conn.queue.put_nowait(_dumps({"op": 9, "d": resumable, "s": None, "t": None}))
        await asyncio.sleep(0)

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

    # ------------------------------------------------------------------------------------------------------------
    # Things users do.

    def _user_id(self, user: dict | int) -> int:
        user_id = int(user["id"]) if isinstance(user, dict) else int(user)
        if user_id not in self.users:
            raise KeyError(f"unknown user {user_id}; use add_user()")
        return user_id

    def _store_message(self, message: dict) -> None:
        message_id, channel_id = int(message["id"]), int(message["channel_id"])
        self._messages_by_id[message_id] = message
        self._channel_messages.setdefault(channel_id, []).append(message_id)
        channel = self._channels_by_id.get(channel_id)
        if channel is not None:
            channel["last_message_id"] = str(message_id)

    def _gateway_message(self, message: dict) -> dict:
        """A message as dispatched: with guild member data, and content blanked without the intent."""
        data = copy.deepcopy(message)
        data.pop("allowed_mentions", None)
        author_id = int(data["author"]["id"])
        if "guild_id" in data and author_id in self._members and not data.get("webhook_id"):
            data["member"] = {k: v for k, v in self._members[author_id].items() if k != "user"}
        if "guild_id" in data:
            mentioned = {int(u["id"]) for u in data.get("mentions", [])}
            if (
                not (self.intents or 0) & INTENT_MESSAGE_CONTENT
                and author_id != self.bot_id
                and self.bot_id not in mentioned
            ):
                data.update(content="", embeds=[], attachments=[], components=[])
                data.pop("poll", None)
        return data

    def _message_intent(self, message: dict) -> int:
        return INTENT_GUILD_MESSAGES if "guild_id" in message else INTENT_DIRECT_MESSAGES

    def _user_message(
        self, channel: dict, author_id: int, content: str, reply_to: dict | None, *, message_id: int | None = None
    ) -> dict:
        in_guild = "guild_id" in channel
        mentioned = [int(u) for u in dict.fromkeys(USER_MENTION_RE.findall(content)) if int(u) in self.users]
        referenced = self._messages_by_id.get(int(reply_to["id"])) if reply_to else None
        if referenced is not None and int(referenced["author"]["id"]) not in mentioned:
            mentioned.append(int(referenced["author"]["id"]))
        message: dict[str, Any] = {
            "id": str(message_id or self._snowflake()),
            "channel_id": channel["id"],
            "author": self.users[author_id],
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": in_guild and ("@everyone" in content or "@here" in content),
            "mentions": [self._mention_object(u, in_guild) for u in mentioned],
            "mention_roles": [r for r in dict.fromkeys(ROLE_MENTION_RE.findall(content)) if int(r) in self._roles_by_id]
            if in_guild
            else [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 19 if referenced is not None else 0,
            "flags": 0,
        }
        if in_guild:
            message["guild_id"] = str(self.guild_id)
        if referenced is not None:
            message["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": referenced["channel_id"],
                **({"guild_id": str(self.guild_id)} if in_guild else {}),
            }
            message["referenced_message"] = self._referenced_copy(referenced)
        return message

    def _mention_object(self, user_id: int, in_guild: bool) -> dict:
        user = dict(self.users[user_id])
        if in_guild and user_id in self._members:
            user["member"] = {k: v for k, v in self._members[user_id].items() if k != "user"}
        return user

    def _referenced_copy(self, message: dict) -> dict:
        data = {k: v for k, v in message.items() if k not in ("referenced_message", "allowed_mentions")}
        return copy.deepcopy(data)

    async def post_message(
        self, channel: str | int, author: dict, content: str, *, reply_to: dict | None = None
    ) -> dict:
        """A member posts in a guild channel or thread; dispatches MESSAGE_CREATE and returns the full message.

        ``<@BOTID>`` fills ``mentions``, ``<@&ROLE>`` fills ``mention_roles``, "@everyone"/"@here" set
        ``mention_everyone``; ``reply_to`` makes it a reply (which mentions the replied-to author).
        """
        target = self._resolve_channel(channel)
        if target["type"] in (15, 16):
            raise ValueError("cannot post in a forum channel directly; use create_forum_post()")
        author_id = self._user_id(author)
        message = self._user_message(target, author_id, content, reply_to)
        self._store_message(message)
        self._emit("MESSAGE_CREATE", self._gateway_message(message), self._message_intent(message))
        await asyncio.sleep(0)
        return message

    async def send_dm(self, author: dict, content: str, *, reply_to: dict | None = None) -> dict:
        """A user DMs the bot (no CHANNEL_CREATE, as on Discord); content is always delivered."""
        author_id = self._user_id(author)
        channel = self._dm_channel(author_id)
        message = self._user_message(channel, author_id, content, reply_to)
        self._store_message(message)
        self._emit("MESSAGE_CREATE", self._gateway_message(message), INTENT_DIRECT_MESSAGES)
        await asyncio.sleep(0)
        return message

    def _make_thread(self, parent: dict, thread_id: int, name: str, owner_id: int, *, thread_type: int = 11) -> dict:
        """Register a thread under ``parent`` and dispatch THREAD_CREATE."""
        now = _now_iso()
        thread = {
            "id": str(thread_id),
            "type": thread_type,
            "guild_id": str(self.guild_id),
            "parent_id": parent["id"],
            "owner_id": str(owner_id),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "applied_tags": [],
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 4320 if parent["type"] in (15, 16) else 1440,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
            },
        }
        self._channels_by_id[thread_id] = thread
        self.threads[name] = thread_id
        parent["last_message_id"] = str(thread_id)
        self._emit("THREAD_CREATE", thread | {"newly_created": True}, INTENT_GUILDS)
        return thread

    async def create_forum_post(self, forum: str | int, author: dict, title: str, content: str) -> dict:
        """A member opens a forum post: THREAD_CREATE then MESSAGE_CREATE of the starter message (same id)."""
        parent = self._resolve_channel(forum)
        if parent["type"] not in (15, 16):
            raise ValueError(f"{parent['name']!r} is not a forum channel")
        author_id = self._user_id(author)
        thread_id = self._snowflake()
        self._make_thread(parent, thread_id, title, author_id)
        thread = self._channels_by_id[thread_id]
        message = self._user_message(thread, author_id, content, None, message_id=thread_id)
        message["position"] = 0
        self._store_message(message)
        self._emit("MESSAGE_CREATE", self._gateway_message(message), INTENT_GUILD_MESSAGES)
        await asyncio.sleep(0)
        return message

    def _interaction_payload(self, itype: int, user_id: int, channel: dict) -> dict:
        interaction_id = self._snowflake()
        token = f"aW50ZXJhY3Rpb246{interaction_id}:{secrets.token_urlsafe(48)}"
        in_guild = "guild_id" in channel
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": itype,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": self.attachment_size_limit,
            "channel_id": channel["id"],
            "app_permissions": str(self.member_permissions(self.bot_id)),
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0 if in_guild else 1,
        }
        if in_guild:
            perms = self.member_permissions(user_id)
            payload["channel"] = channel | {"permissions": str(perms)}
            payload["guild_id"] = str(self.guild_id)
            payload["guild"] = {"id": str(self.guild_id), "locale": "en-US", "features": ["COMMUNITY"]}
            payload["guild_locale"] = "en-US"
            payload["member"] = self._members[user_id] | {"permissions": str(perms)}
        else:
            payload["channel"] = channel
            payload["user"] = self.users[user_id]
        return payload

    def _dispatch_interaction(self, payload: dict) -> Interaction:
        interaction = Interaction(self, payload)
        self._interactions_by_id[interaction.id] = interaction
        self._interactions_by_token[interaction.token] = interaction
        self.interactions.append(interaction)
        interaction.dispatched_at = time.monotonic()
        self._emit("INTERACTION_CREATE", payload)
        return interaction

    def _find_command(self, name: str, dm: bool, ctype: int) -> dict | None:
        scopes = [self.commands["global"]] if dm else [self.commands.get(self.guild_id, []), self.commands["global"]]
        for scope in scopes:
            for command in scope:
                if command["name"] == name and command.get("type", 1) == ctype:
                    return command
        return None

    async def invoke(
        self,
        name: str,
        user: dict,
        *,
        channel: str | int = "general",
        options: dict | None = None,
        subcommand: str | None = None,
        dm: bool = False,
        target: dict | None = None,
        granted: bool = False,
    ) -> Interaction:
        """A user runs a registered application command; dispatches INTERACTION_CREATE.

        ``granted`` models a server admin granting the command to this user in Server Settings > Integrations,
        which lifts ``default_member_permissions`` (the bot must then check permissions itself).

        ``subcommand`` is "sub" or "group sub". Option values: plain values for strings/numbers/booleans, a user
        dict or id for users, a role name or id for roles, a channel name or id for channels, a ``UserFile`` for
        attachments (``ValueError`` when it is over ``attachment_size_limit``). ``target`` (a user
        or message dict) makes it a user/message context-menu command. Raises ``LookupError`` for unregistered
        commands and ``PermissionError`` when ``default_member_permissions`` would hide it from the user.
        """
        user_id = self._user_id(user)
        ctype = 1
        if target is not None:
            ctype = 3 if "channel_id" in target else 2
        command = self._find_command(name, dm, ctype)
        if command is None:
            registered = {scope: [c["name"] for c in cmds] for scope, cmds in self.commands.items()}
            raise LookupError(f"command {name!r} (type {ctype}) is not registered; registered: {registered}")
        if dm:
            contexts = command.get("contexts")
            if command.get("dm_permission") is False or (contexts is not None and 1 not in contexts):
                raise PermissionError(f"command {name!r} is not available in DMs")
            channel_payload = self._dm_channel(user_id)
        else:
            channel_payload = self._resolve_channel(channel)
            required = command.get("default_member_permissions")
            if not granted and required is not None and int(required) & ~self.member_permissions(user_id):
                raise PermissionError(f"{name!r} requires permissions {required}; Discord would not show it")
        data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": ctype}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        resolved: dict[str, dict] = {}
        if ctype == 1:
            built = self._build_options(
                command.get("options") or [], options or {}, subcommand, resolved, not dm, int(channel_payload["id"])
            )
            if built:
                data["options"] = built
        elif ctype == 2:
            target_id = self._user_id(target)  # type: ignore[arg-type]
            data["target_id"] = str(target_id)
            self._resolve_user(target_id, resolved, not dm)
        else:
            stored = self._messages_by_id.get(int(target["id"]))  # type: ignore[index]
            if stored is None:
                raise KeyError("unknown target message")
            data["target_id"] = stored["id"]
            resolved.setdefault("messages", {})[stored["id"]] = self._referenced_copy(stored)
        if resolved:
            data["resolved"] = resolved
        payload = self._interaction_payload(APPLICATION_COMMAND, user_id, channel_payload)
        payload["data"] = data
        interaction = self._dispatch_interaction(payload)
        await asyncio.sleep(0)
        return interaction

    def _resolve_user(self, user_id: int, resolved: dict, in_guild: bool) -> None:
        resolved.setdefault("users", {})[str(user_id)] = self.users[user_id]
        if in_guild and user_id in self._members:
            member = {k: v for k, v in self._members[user_id].items() if k != "user"}
            member["permissions"] = str(self.member_permissions(user_id))
            resolved.setdefault("members", {})[str(user_id)] = member

    def _build_options(
        self,
        definitions: list,
        given: dict,
        subcommand: str | None,
        resolved: dict,
        in_guild: bool,
        channel_id: int,
        focused: str | None = None,
    ) -> list[dict]:
        """The options as Discord sends them. With ``focused`` (autocomplete) required options may be missing,
        the focused one carries ``focused: true`` and the raw text typed so far, and nothing is resolved."""
        if subcommand:
            first, _, rest = subcommand.partition(" ")
            for definition in definitions:
                if definition["name"] == first and definition.get("type") in (1, 2):
                    inner = self._build_options(
                        definition.get("options") or [], given, rest or None, resolved, in_guild, channel_id, focused
                    )
                    option: dict[str, Any] = {"name": first, "type": definition["type"]}
                    option["options"] = inner
                    return [option]
            raise LookupError(f"no subcommand {first!r}; options: {[d['name'] for d in definitions]}")
        if any(d.get("type") in (1, 2) for d in definitions):
            raise ValueError("this command has subcommands; pass subcommand=")
        by_name = {d["name"]: d for d in definitions}
        unknown = set(given) - set(by_name)
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)}; defined: {sorted(by_name)}")
        missing = [d["name"] for d in definitions if d.get("required") and d["name"] not in given]
        if missing and focused is None:
            raise ValueError(f"missing required options {missing}")
        built = []
        for name, value in given.items():
            definition = by_name[name]
            otype = definition["type"]
            if focused is not None:
                if name == focused:
                    if otype not in AUTOCOMPLETE_TYPES or not definition.get("autocomplete"):
                        raise ValueError(f"option {name!r} has no autocomplete; Discord would not ask the bot")
                    # Discord sends what the user has typed so far, as text, whatever the option's type
                    built.append({"name": name, "type": otype, "value": str(value), "focused": True})
                elif otype in (3, 4, 5, 10):
                    built.append({"name": name, "type": otype, "value": self._option_value(otype, value, {}, False)})
                continue
            option_value = self._option_value(otype, value, resolved, in_guild, channel_id)
            built.append({"name": name, "type": otype, "value": option_value})
            choices = definition.get("choices")
            if choices and built[-1]["value"] not in [c["value"] for c in choices]:
                raise ValueError(f"{value!r} is not one of the choices for {name!r}")
        return built

    def _option_value(self, otype: int, value: Any, resolved: dict, in_guild: bool, channel_id: int = 0) -> Any:
        if otype == 11:
            if not isinstance(value, UserFile):
                raise TypeError("an attachment option takes a UserFile")
            attachment = self._user_attachment(value, channel_id)
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            return attachment["id"]
        if otype == 3:
            return str(value)
        if otype == 4:
            return int(value)
        if otype == 5:
            return bool(value)
        if otype == 10:
            return float(value)
        if otype == 6 or (otype == 9 and isinstance(value, dict)):
            user_id = self._user_id(value)
            self._resolve_user(user_id, resolved, in_guild)
            return str(user_id)
        if otype in (8, 9):
            role_id = self.roles[value] if isinstance(value, str) and value in self.roles else int(value)
            resolved.setdefault("roles", {})[str(role_id)] = self._roles_by_id[role_id]
            return str(role_id)
        if otype == 7:
            channel = self._resolve_channel(value)
            data = {k: channel[k] for k in ("id", "name", "type", "parent_id", "thread_metadata") if k in channel}
            data["permissions"] = str(ALL_PERMISSIONS)
            resolved.setdefault("channels", {})[channel["id"]] = data
            return channel["id"]
        raise NotImplementedError(f"option type {otype} is not supported by the emulator")

    def _user_attachment(self, file: UserFile, channel_id: int) -> dict:
        """What Discord's client uploads when a user fills an ATTACHMENT option (refused over the size limit)."""
        if len(file.data) > self.attachment_size_limit:
            raise ValueError(
                f"{file.filename!r} is {len(file.data)} bytes; this server allows uploads up to "
                f"{self.attachment_size_limit} (set attachment_size_limit to model a boosted server)"
            )
        attachment_id = self._snowflake()
        content_type = file.content_type or _guess_content_type(file.filename)
        self.attachment_data[attachment_id] = file.data
        self._attachment_types[attachment_id] = content_type
        url = self._cdn_url("ephemeral-attachments", channel_id, attachment_id, file.filename)
        return {
            "id": str(attachment_id),
            "filename": file.filename,
            "size": len(file.data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
            "ephemeral": True,
        }

    def _cdn_signature(self, path: str, expires: str, issued: str) -> str:
        return hmac.new(self._cdn_key, f"{path}|{expires}|{issued}".encode(), hashlib.sha256).hexdigest()

    def _cdn_url(self, prefix: str, channel_id: int, attachment_id: int, filename: str) -> str:
        path = f"/{prefix}/{channel_id}/{attachment_id}/{quote(filename, safe='')}"
        issued = int(time.time())
        expires, issued_hex = f"{issued + ATTACHMENT_URL_LIFETIME:x}", f"{issued:x}"
        signature = self._cdn_signature(path, expires, issued_hex)
        return f"http://127.0.0.1:{self.port}{path}?ex={expires}&is={issued_hex}&hm={signature}&"

    async def _cdn_handler(self, request: web.Request) -> web.StreamResponse:
        """Serves an attachment's bytes, as Discord's CDN does, when the URL's signature is intact."""
        path = request.raw_path.split("?", 1)[0]
        attachment_id = int(request.match_info["attachment_id"])
        record: dict[str, Any] = {"attachment_id": attachment_id, "path": path, "bytes_sent": 0, "complete": False}
        self.downloads.append(record)
        expires, issued = request.query.get("ex", ""), request.query.get("is", "")
        signature = request.query.get("hm", "")
        valid = hmac.compare_digest(signature, self._cdn_signature(path, expires, issued))
        data = self.attachment_data.get(attachment_id)
        if not valid or data is None or int(expires or "0", 16) < time.time():
            record["status"] = 404
            self._notify()
            return web.Response(status=404, text="This content is no longer available.")
        record["size"] = len(data)
        response = web.StreamResponse(status=200)
        response.content_type = self._attachment_types.get(attachment_id, "application/octet-stream").split(";")[0]
        if self.cdn_content_length:
            response.content_length = len(data)
        else:
            response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            for start in range(0, len(data), CDN_CHUNK):
                chunk = data[start : start + CDN_CHUNK]
                await response.write(chunk)
                record["bytes_sent"] += len(chunk)
            await response.write_eof()
            record["complete"] = True
        except (ConnectionError, RuntimeError):  # the client stopped reading and closed the connection
            pass
        finally:
            record["status"] = 200
            self._notify()
        return response

    async def autocomplete(
        self,
        name: str,
        user: dict,
        *,
        focused: str,
        options: dict,
        subcommand: str | None = None,
        channel: str | int = "general",
        granted: bool = False,
    ) -> Interaction:
        """A user types in option ``focused`` of a slash command; ``options`` holds what is typed so far (the
        focused one included, as text). Dispatches an APPLICATION_COMMAND_AUTOCOMPLETE interaction."""
        user_id = self._user_id(user)
        command = self._find_command(name, False, 1)
        if command is None:
            raise LookupError(f"command {name!r} is not registered")
        required = command.get("default_member_permissions")
        if not granted and required is not None and int(required) & ~self.member_permissions(user_id):
            raise PermissionError(f"{name!r} requires permissions {required}; Discord would not show it")
        if focused not in options:
            raise ValueError("the focused option must be among the options typed")
        channel_payload = self._resolve_channel(channel)
        definitions = command.get("options") or []
        built = self._build_options(
            definitions, options, subcommand, {}, True, int(channel_payload["id"]), focused=focused
        )
        for part in (subcommand or "").split():
            definitions = next(d for d in definitions if d["name"] == part).get("options") or []
        data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": 1, "options": built}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        payload = self._interaction_payload(AUTOCOMPLETE, user_id, channel_payload)
        payload["data"] = data
        interaction = self._dispatch_interaction(payload)
        interaction.autocomplete_option = next(d for d in definitions if d["name"] == focused)
        await asyncio.sleep(0)
        return interaction

    async def click(self, message: dict, custom_id: str, user: dict, *, values: list[str] | None = None) -> Interaction:
        """A user clicks a button (or picks ``values`` in a select) on a bot message; dispatches INTERACTION_CREATE.

        An ephemeral message is seen, so clicked, only by the user whose interaction it answered."""
        user_id = self._user_id(user)
        stored = self._messages_by_id.get(int(message["id"]))
        if stored is None or int(stored["author"]["id"]) != self.bot_id:
            raise ValueError("click() needs a message the bot sent")
        if stored.get("flags", 0) & FLAG_EPHEMERAL:
            shown_to = ((stored.get("interaction_metadata") or {}).get("user") or {}).get("id")
            if shown_to != str(user_id):
                raise PermissionError("only the user an ephemeral message was shown to can see or click it")
        found = [c for _, c in _walk_components(stored.get("components") or [], "components")]
        component = next((c for c in found if c.get("custom_id") == custom_id), None)
        if component is None:
            available = [c.get("custom_id") for c in found if c.get("custom_id")]
            raise ValueError(f"no component with custom_id {custom_id!r} on that message; available: {available}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] in SELECT_TYPES:
            data["values"] = list(values or [])
        channel = self._channels_by_id[int(stored["channel_id"])]
        payload = self._interaction_payload(MESSAGE_COMPONENT, user_id, channel)
        payload["message"] = self._referenced_copy(stored)
        payload["data"] = data
        interaction = self._dispatch_interaction(payload)
        await asyncio.sleep(0)
        return interaction

    # ------------------------------------------------------------------------------------------------------------
    # REST plumbing.

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any], bool]]:
        snow = r"(?P<{}>\d+)"
        table = [
            ("GET", r"/users/@me", self._get_me, True),
            ("GET", r"/users/" + snow.format("user_id"), self._get_user, True),
            ("GET", r"/gateway(?:/bot)?", self._get_gateway, True),
            ("GET", r"/oauth2/applications/@me", self._get_application, True),
            ("GET", r"/applications/@me", self._get_application, True),
            ("POST", r"/users/@me/channels", self._create_dm, True),
            ("GET", r"/channels/" + snow.format("channel_id"), self._get_channel, True),
            ("GET", r"/channels/{}/messages".format(snow.format("channel_id")), self._list_messages, True),
            ("POST", r"/channels/{}/messages".format(snow.format("channel_id")), self._post_channel_message, True),
            ("POST", r"/channels/{}/typing".format(snow.format("channel_id")), self._typing, True),
        ]
        message_path = r"/channels/{}/messages/{}".format(snow.format("channel_id"), snow.format("message_id"))
        table += [
            ("GET", message_path, self._get_channel_message, True),
            ("PATCH", message_path, self._patch_channel_message, True),
            ("DELETE", message_path, self._delete_channel_message, True),
            ("PUT", message_path + r"/reactions/(?P<emoji>[^/]+)/@me", self._add_reaction, True),
            ("POST", message_path + r"/threads", self._start_thread, True),
            ("POST", r"/channels/{}/threads".format(snow.format("channel_id")), self._start_thread, True),
            ("DELETE", message_path + r"/reactions/(?P<emoji>[^/]+)/@me", self._remove_reaction, True),
            ("GET", r"/guilds/" + snow.format("guild_id"), self._get_guild, True),
            (
                "GET",
                r"/guilds/{}/members/{}".format(snow.format("guild_id"), snow.format("user_id")),
                self._get_member,
                True,
            ),
            ("GET", r"/guilds/{}/roles".format(snow.format("guild_id")), self._get_roles, True),
            ("GET", r"/guilds/{}/channels".format(snow.format("guild_id")), self._get_channels, True),
        ]
        commands = r"/applications/(?P<app_id>\d+)(?:/guilds/(?P<guild_id>\d+))?/commands"
        table += [
            ("GET", commands, self._list_commands, True),
            ("PUT", commands, self._put_commands, True),
            ("POST", commands, self._post_command, True),
            ("GET", commands + r"/(?P<command_id>\d+)", self._get_command, True),
            ("PATCH", commands + r"/(?P<command_id>\d+)", self._patch_command, True),
            ("DELETE", commands + r"/(?P<command_id>\d+)", self._delete_command, True),
            ("GET", commands + r"/permissions", self._command_permissions, True),
        ]
        hook = r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)"
        table += [
            ("POST", r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback", self._callback, False),
            ("POST", hook, self._post_followup, False),
            ("GET", hook + r"/messages/(?P<message_id>@original|\d+)", self._get_webhook_message, False),
            ("PATCH", hook + r"/messages/(?P<message_id>@original|\d+)", self._patch_webhook_message, False),
            ("DELETE", hook + r"/messages/(?P<message_id>@original|\d+)", self._delete_webhook_message, False),
        ]
        return [(method, re.compile(pattern), handler, auth) for method, pattern, handler, auth in table]

    def _reject(self, method: str, path: str, error: DiscordAPIError, body: Any = None) -> web.Response:
        record = {
            "method": method,
            "path": path,
            "status": error.status,
            "code": error.code,
            "message": error.message,
            "errors": error.errors,
            "body": body,
        }
        self.rejected.append(record)
        self._unconsumed_rejections.append(record)
        self._notify()
        return _json_response(error.body(), error.status)

    async def _unknown_handler(self, request: web.Request) -> web.StreamResponse:
        error = DiscordAPIError(404, 0, "404: Not Found")
        return self._reject(request.method, request.path, error)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[_Upload]]:
        if request.content_type == "multipart/form-data":
            form = await request.post()
            uploads = [
                _Upload(key, value.filename, value.content_type, value.file.read())
                for key, value in form.items()
                if isinstance(value, web.FileField)
            ]
            raw = form.get("payload_json")
            if isinstance(raw, web.FileField):
                raw = raw.file.read().decode()
            return (json.loads(raw) if raw else {}), uploads
        raw_bytes = await request.read() if request.can_read_body else b""
        return (json.loads(raw_bytes) if raw_bytes else None), []

    async def _rest_handler(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        method = request.method
        self.requests.append((method, path))
        try:
            body, uploads = await self._read_body(request)
        except (ValueError, UnicodeDecodeError):
            return self._reject(method, path, DiscordAPIError(400, 50109, "The request body contains invalid JSON."))
        path_matched = False
        for route_method, pattern, handler, needs_auth in self._routes():
            match = pattern.fullmatch(path)
            if match is None:
                continue
            path_matched = True
            if route_method != method:
                continue
            if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                return self._reject(method, path, DiscordAPIError(401, 0, "401: Unauthorized"), body)
            limit_headers: dict[str, str] = {}
            if self.inject_429 and method == "POST" and _CHANNEL_MESSAGES.fullmatch(path):
                self.inject_429 -= 1
                return self._rate_limited_response(path, 0.2, {})
            if self.message_rate and method == "POST" and _CHANNEL_MESSAGES.fullmatch(path):
                limited, limit_headers = self._take_rate_token(path)
                if limited is not None:
                    return limited
            try:
                result = await handler(request, body, uploads, **match.groupdict())
            except DiscordAPIError as error:
                return self._reject(method, path, error, body)
            if result is None:
                response = web.Response(status=204)
            elif isinstance(result, web.StreamResponse):
                return result
            else:
                response = _json_response(result)
            response.headers.update(limit_headers)
            return response
        if path_matched:
            return self._reject(method, path, DiscordAPIError(405, 0, "405: Method Not Allowed"), body)
        return self._reject(method, path, DiscordAPIError(404, 0, "404: Not Found"), body)

    # ------------------------------------------------------------------------------------------------------------
    # Bot messages.

    def _take_rate_token(self, path: str) -> tuple[web.Response | None, dict[str, str]]:
        """Discord's per-channel limit on bot messages (a fixed window of `message_rate` = (count, seconds)), with its
        X-RateLimit headers; past it, a 429 that is recorded in `rate_limited`."""
        assert self.message_rate is not None
        count, per = self.message_rate
        now = time.time()
        start, used = self._rate_windows.get(path, (now, 0))
        if now >= start + per:
            start, used = now, 0
        reset_after = max(start + per - now, 0.0)
        headers = {
            "X-RateLimit-Limit": str(count),
            "X-RateLimit-Reset": f"{start + per:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": "channel-messages",
        }
        if used >= count:
            return self._rate_limited_response(path, reset_after, headers), headers
        self._rate_windows[path] = (start, used + 1)
        headers["X-RateLimit-Remaining"] = str(count - used - 1)
        return None, headers

    def _rate_limited_response(self, path: str, retry_after: float, headers: dict[str, str]) -> web.Response:
        self.rate_limited.append({"path": path, "retry_after": retry_after})
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
        response = _json_response(body, 429)
        # Discord's 429s pass through its proxy, which adds Via; discord.py treats a 429 without it as a Cloudflare
        # ban and gives up instead of retrying
        extra = {"X-RateLimit-Remaining": "0", "X-RateLimit-Scope": "user", "Via": "1.1 google"}
        response.headers.update(headers | extra | {"Retry-After": f"{retry_after:.3f}"})
        return response

    def _make_attachments(self, body: dict, uploads: list[_Upload], channel_id: int) -> list[dict]:
        described = {str(a.get("id")): a for a in body.get("attachments") or [] if isinstance(a, dict)}
        attachments = []
        for upload in uploads:
            index = upload.field.removeprefix("files[").removesuffix("]")
            meta = described.get(index, {})
            attachment_id = self._snowflake()
            self.attachment_data[attachment_id] = upload.data
            filename = meta.get("filename") or upload.filename
            self._attachment_types[attachment_id] = upload.content_type
            url = self._cdn_url("attachments", channel_id, attachment_id, filename)
            attachment = {
                "id": str(attachment_id),
                "filename": filename,
                "size": len(upload.data),
                "url": url,
                "proxy_url": url,
                "content_type": upload.content_type,
            }
            if meta.get("description"):
                attachment["description"] = meta["description"]
            attachments.append(attachment)
        return attachments

    def _apply_mentions(self, message: dict, allowed: dict | None, referenced: dict | None, edit: bool) -> None:
        """Fill mentions/mention_roles/mention_everyone as Discord would and record who gets pinged."""
        content = message.get("content") or ""
        in_guild = "guild_id" in message
        if allowed is None:
            parse = {"users", "roles", "everyone"}
            allowed_users: set[int] = set()
            allowed_roles: set[int] = set()
            replied_ok = True
        else:
            parse = set(allowed.get("parse") or [])
            allowed_users = {int(u) for u in allowed.get("users") or []}
            allowed_roles = {int(r) for r in allowed.get("roles") or []}
            replied_ok = bool(allowed.get("replied_user", False))
        users = [
            int(u)
            for u in dict.fromkeys(USER_MENTION_RE.findall(content))
            if int(u) in self.users and ("users" in parse or int(u) in allowed_users)
        ]
        roles = []
        if in_guild:
            roles = [
                int(r)
                for r in dict.fromkeys(ROLE_MENTION_RE.findall(content))
                if int(r) in self._roles_by_id and ("roles" in parse or int(r) in allowed_roles)
            ]
        everyone = in_guild and "everyone" in parse and ("@everyone" in content or "@here" in content)
        replied_user = None
        if referenced is not None and replied_ok:
            replied_user = int(referenced["author"]["id"])
        mentioned = list(users)
        if replied_user is not None and replied_user not in mentioned:
            mentioned.append(replied_user)
        message["mentions"] = [self._mention_object(u, in_guild) for u in mentioned]
        message["mention_roles"] = [str(r) for r in roles]
        message["mention_everyone"] = everyone
        notified_users = [u for u in users if u != self.bot_id]
        if replied_user == self.bot_id:
            replied_user = None
        if notified_users or roles or everyone or replied_user is not None:
            self.pings.append(
                {
                    "message_id": message["id"],
                    "channel_id": message["channel_id"],
                    "users": notified_users,
                    "roles": roles,
                    "everyone": everyone,
                    "replied_user": replied_user,
                    "edit": edit,
                    "silent": bool(message.get("flags", 0) & FLAG_SUPPRESS_NOTIFICATIONS),
                }
            )

    def _create_bot_message(
        self,
        channel: dict,
        body: Any,
        uploads: list[_Upload],
        *,
        interaction: Interaction | None = None,
        msg_type: int = 0,
        placeholder: bool = False,
        message_id: int | None = None,
    ) -> dict:
        if not isinstance(body, dict):
            raise DiscordAPIError(400, 50035, "Invalid Form Body", {"_errors": [{"code": "DICT_TYPE_CONVERT"}]})
        flags = int(body.get("flags") or 0)
        allowed_flags = SENDABLE_FLAGS | (FLAG_EPHEMERAL if interaction is not None else 0)
        flags &= allowed_flags
        if placeholder:
            flags = (flags & FLAG_EPHEMERAL) | FLAG_LOADING
        else:
            _validate_message_form(body, flags)
        attachments = self._make_attachments(body, uploads, int(channel["id"]))
        message: dict[str, Any] = {
            "id": str(message_id or self._snowflake()),
            "channel_id": channel["id"],
            "author": self._bot_author,
            "content": body.get("content") or "",
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": [{"type": "rich", **e} for e in body.get("embeds") or []],
            "components": body.get("components") or [],
            "pinned": False,
            "type": msg_type,
            "flags": flags,
        }
        if body.get("sticker_ids"):
            message["sticker_items"] = [
                {"id": str(s), "name": "sticker", "format_type": 1} for s in body["sticker_ids"]
            ]
        if body.get("poll"):
            message["poll"] = body["poll"]
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if "guild_id" in channel:
            message["guild_id"] = str(self.guild_id)
        if not placeholder and _message_is_empty(message):
            raise DiscordAPIError(400, 50006, "Cannot send an empty message")
        referenced = None
        reference = body.get("message_reference")
        if reference and reference.get("message_id") and reference.get("type", 0) == 0:
            referenced = self._messages_by_id.get(int(reference["message_id"]))
            if referenced is None and reference.get("fail_if_not_exists", True):
                raise DiscordAPIError(
                    400,
                    50035,
                    "Invalid Form Body",
                    {
                        "message_reference": {
                            "_errors": [{"code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "message": "Unknown message"}]
                        }
                    },
                )
        if referenced is not None:
            message["type"] = 19
            message["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": referenced["channel_id"],
                **({"guild_id": str(self.guild_id)} if "guild_id" in referenced else {}),
            }
            message["referenced_message"] = self._referenced_copy(referenced)
        if interaction is not None:
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
            user = interaction.payload.get("member", {}).get("user") or interaction.payload.get("user")
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": user,
                "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
            }
            if interaction.message_id is not None:
                message["interaction_metadata"]["interacted_message_id"] = str(interaction.message_id)
        if not placeholder:
            self._apply_mentions(message, body.get("allowed_mentions"), referenced, edit=False)
        self._store_message(message)
        if not placeholder:
            self._record_created(message, body.get("allowed_mentions"))
        if not flags & FLAG_EPHEMERAL:
            self._emit("MESSAGE_CREATE", self._gateway_message(message), self._message_intent(message))
        return message

    def _record_created(self, message: dict, allowed_mentions: Any) -> None:
        snapshot = copy.deepcopy(message) | {"allowed_mentions": copy.deepcopy(allowed_mentions)}
        self.messages.append(snapshot)
        self._unconsumed.append(snapshot)
        self._notify()

    def _edit_bot_message(self, message: dict, body: Any, uploads: list[_Upload], *, completes: bool = False) -> dict:
        if int(message["author"]["id"]) != self.bot_id:
            raise DiscordAPIError(403, 50005, "Cannot edit a message authored by another user")
        if not isinstance(body, dict):
            raise DiscordAPIError(400, 50035, "Invalid Form Body", {"_errors": [{"code": "DICT_TYPE_CONVERT"}]})
        flags = message.get("flags", 0)
        if "flags" in body and body["flags"] is not None:
            flags = (flags & ~FLAG_SUPPRESS_EMBEDS) | (int(body["flags"]) & FLAG_SUPPRESS_EMBEDS)
            flags |= int(body["flags"]) & FLAG_IS_COMPONENTS_V2
        if completes:
            flags &= ~FLAG_LOADING
        _validate_message_form(body, flags)
        new = copy.deepcopy(message)
        new["flags"] = flags
        for key in ("content", "components"):
            if key in body:
                new[key] = body[key] if body[key] is not None else ([] if key == "components" else "")
        if "embeds" in body:
            new["embeds"] = [{"type": "rich", **e} for e in body["embeds"] or []]
        if "attachments" in body:
            keep = {str(a.get("id")) for a in body["attachments"] or []}
            new["attachments"] = [a for a in new["attachments"] if a["id"] in keep]
        new["attachments"] = new["attachments"] + self._make_attachments(body, uploads, int(new["channel_id"]))
        if _message_is_empty(new):
            raise DiscordAPIError(400, 50006, "Cannot send an empty message")
        if not completes:
            new["edited_timestamp"] = _now_iso()
        if "content" in body or "allowed_mentions" in body or completes:
            referenced = None
            if new.get("message_reference"):
                referenced = self._messages_by_id.get(int(new["message_reference"]["message_id"]))
            self._apply_mentions(new, body.get("allowed_mentions"), referenced, edit=not completes)
        self._messages_by_id[int(new["id"])] = new
        snapshot = copy.deepcopy(new)
        self.edits.append(snapshot | {"patch": copy.deepcopy(body)})
        if completes:
            self._record_created(new, body.get("allowed_mentions"))
        self._notify()
        if not flags & FLAG_EPHEMERAL:
            self._emit("MESSAGE_UPDATE", self._gateway_message(new), self._message_intent(new))
        return new

    def _delete_message(self, message: dict) -> None:
        message_id = int(message["id"])
        self._messages_by_id.pop(message_id, None)
        ids = self._channel_messages.get(int(message["channel_id"]), [])
        if message_id in ids:
            ids.remove(message_id)
        self.deletions.append(copy.deepcopy(message))
        self._notify()
        if not message.get("flags", 0) & FLAG_EPHEMERAL:
            data = {"id": message["id"], "channel_id": message["channel_id"]}
            if "guild_id" in message:
                data["guild_id"] = message["guild_id"]
            self._emit("MESSAGE_DELETE", data, self._message_intent(message))

    def _channel_or_404(self, channel_id: str) -> dict:
        channel = self._channels_by_id.get(int(channel_id))
        if channel is None:
            raise DiscordAPIError(404, 10003, "Unknown Channel")
        return channel

    def _message_or_404(self, channel_id: str, message_id: str) -> dict:
        message = self._messages_by_id.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            raise DiscordAPIError(404, 10008, "Unknown Message")
        return message

    @staticmethod
    def _public(message: dict) -> dict:
        return {k: v for k, v in message.items() if k != "allowed_mentions"}

    # ------------------------------------------------------------------------------------------------------------
    # REST handlers.

    async def _get_me(self, request: web.Request, body: Any, uploads: list[_Upload]) -> dict:
        return self.bot_user

    async def _get_user(self, request: web.Request, body: Any, uploads: list[_Upload], user_id: str) -> dict:
        user = self.users.get(int(user_id))
        if user is None:
            raise DiscordAPIError(404, 10013, "Unknown User")
        return user

    async def _get_gateway(self, request: web.Request, body: Any, uploads: list[_Upload]) -> dict:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}

    async def _get_application(self, request: web.Request, body: Any, uploads: list[_Upload]) -> dict:
        return {
            "id": str(self.application_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": self.users[int(self.owner["id"])],
            "team": None,
            "bot": self.bot_user,
            "rpc_origins": [],
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": 1,
        }

    async def _create_dm(self, request: web.Request, body: Any, uploads: list[_Upload]) -> dict:
        recipient = int((body or {}).get("recipient_id") or 0)
        if recipient not in self.users or recipient == self.bot_id:
            raise DiscordAPIError(400, 50033, "Invalid Recipient(s)")
        return self._dm_channel(recipient)

    async def _get_channel(self, request: web.Request, body: Any, uploads: list[_Upload], channel_id: str) -> dict:
        return self._channel_or_404(channel_id)

    async def _list_messages(self, request: web.Request, body: Any, uploads: list[_Upload], channel_id: str) -> list:
        self._channel_or_404(channel_id)
        limit = int(request.query.get("limit", 50))
        before = int(request.query.get("before", 0)) or None
        after = int(request.query.get("after", 0)) or None
        ids = self._channel_messages.get(int(channel_id), [])
        ids = [i for i in ids if (before is None or i < before) and (after is None or i > after)]
        newest_first = [self._public(self._messages_by_id[i]) for i in reversed(ids)]
        return newest_first[:limit]

    async def _post_channel_message(
        self, request: web.Request, body: Any, uploads: list[_Upload], channel_id: str
    ) -> dict:
        channel = self._channel_or_404(channel_id)
        if channel["type"] in (2, 4, 13, 15, 16):
            raise DiscordAPIError(400, 50008, "Cannot send messages in a non-text channel")
        if channel["type"] == 1 and channel["recipients"][0].get("bot"):
            raise DiscordAPIError(403, 50007, "Cannot send messages to this user")
        if channel["type"] != 1:
            self._check_bot_can_post(channel, replying=isinstance(body, dict) and bool(body.get("message_reference")))
        return self._public(self._create_bot_message(channel, body, uploads))

    def deny_bot(self, channel: str | int, permissions: int) -> None:
        """A channel permission overwrite that denies the bot `permissions` there (and in its threads)."""
        channel_id = int(self._resolve_channel(channel)["id"])
        self.bot_denied[channel_id] = self.bot_denied.get(channel_id, 0) | permissions

    def _check_bot_can_post(self, channel: dict, *, replying: bool) -> None:
        """Discord's checks for a bot message in a guild channel: view and send (send in threads for a thread), and
        read message history to reply."""
        base = int(channel.get("parent_id") or channel["id"]) if channel["type"] in (10, 11, 12) else int(channel["id"])
        perms = self.member_permissions(self.bot_id) & ~self.bot_denied.get(base, 0)
        send = SEND_MESSAGES_IN_THREADS if channel["type"] in (10, 11, 12) else SEND_MESSAGES
        if not perms & VIEW_CHANNEL:
            raise DiscordAPIError(403, 50001, "Missing Access")
        if not perms & send or (replying and not perms & READ_MESSAGE_HISTORY):
            raise DiscordAPIError(403, 50013, "Missing Permissions")

    async def _typing(self, request: web.Request, body: Any, uploads: list[_Upload], channel_id: str) -> None:
        channel = self._channel_or_404(channel_id)
        if channel["type"] != 1:
            self._check_bot_can_post(channel, replying=False)  # typing needs what sending needs
        self.typing.append(int(channel_id))

    async def _get_channel_message(
        self, request: web.Request, body: Any, uploads: list[_Upload], channel_id: str, message_id: str
    ) -> dict:
        message = self._message_or_404(channel_id, message_id)
        if message.get("flags", 0) & FLAG_EPHEMERAL:
            raise DiscordAPIError(404, 10008, "Unknown Message")
        return self._public(message)

    async def _patch_channel_message(
        self, request: web.Request, body: Any, uploads: list[_Upload], channel_id: str, message_id: str
    ) -> dict:
        message = self._message_or_404(channel_id, message_id)
        if message.get("flags", 0) & FLAG_EPHEMERAL:
            raise DiscordAPIError(404, 10008, "Unknown Message")
        return self._public(self._edit_bot_message(message, body, uploads))

    async def _delete_channel_message(
        self, request: web.Request, body: Any, uploads: list[_Upload], channel_id: str, message_id: str
    ) -> None:
        message = self._message_or_404(channel_id, message_id)
        if message.get("flags", 0) & FLAG_EPHEMERAL:
            raise DiscordAPIError(404, 10008, "Unknown Message")
        self._delete_message(message)

    async def _add_reaction(
        self, request: web.Request, body: Any, uploads: list[_Upload], channel_id: str, message_id: str, emoji: str
    ) -> None:
        self._message_or_404(channel_id, message_id)
        self.reactions.append({"channel_id": int(channel_id), "message_id": int(message_id), "emoji": emoji})

    async def _remove_reaction(
        self, request: web.Request, body: Any, uploads: list[_Upload], channel_id: str, message_id: str, emoji: str
    ) -> None:
        self._message_or_404(channel_id, message_id)

    async def _start_thread(
        self, request: web.Request, body: Any, uploads: list[_Upload], channel_id: str, message_id: str | None = None
    ) -> dict:
        parent = self._channel_or_404(channel_id)
        body = body if isinstance(body, dict) else {}
        forum = parent["type"] in (15, 16)
        if "guild_id" not in parent or parent["type"] in (10, 11, 12):
            raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
        errs = _FormErrors()
        errs.length("name", body.get("name"), 1, 100)
        if forum and not isinstance(body.get("message"), dict):
            errs.add("message", "BASE_TYPE_REQUIRED", "This field is required")
        errs.raise_if_any()
        if message_id is not None:
            self._message_or_404(channel_id, message_id)
            if int(message_id) in self._channels_by_id:
                raise DiscordAPIError(400, 160004, "A thread has already been created for this message")
            thread_id = int(message_id)
        else:
            thread_id = self._snowflake()
        thread_type = 11 if forum or message_id is not None else int(body.get("type") or 12)
        if forum:
            # Validate the starter message before anything is created.
            _validate_message_form(body["message"], int(body["message"].get("flags") or 0) & SENDABLE_FLAGS)
        thread = self._make_thread(parent, thread_id, body["name"], self.bot_id, thread_type=thread_type)
        result = dict(thread)
        if forum:
            starter = self._create_bot_message(thread, body["message"], uploads, message_id=thread_id)
            result["message"] = self._public(starter)
        return result

    def _check_guild(self, guild_id: str | None) -> None:
        if guild_id is not None and int(guild_id) != self.guild_id:
            raise DiscordAPIError(403, 50001, "Missing Access")

    async def _get_guild(self, request: web.Request, body: Any, uploads: list[_Upload], guild_id: str) -> dict:
        self._check_guild(guild_id)
        payload = self._guild_payload()
        for key in ("members", "channels", "threads", "voice_states", "presences", "joined_at", "large", "lazy"):
            payload.pop(key, None)
        return payload

    async def _get_member(
        self, request: web.Request, body: Any, uploads: list[_Upload], guild_id: str, user_id: str
    ) -> dict:
        self._check_guild(guild_id)
        member = self._members.get(int(user_id))
        if member is None:
            raise DiscordAPIError(404, 10007, "Unknown Member")
        return member

    async def _get_roles(self, request: web.Request, body: Any, uploads: list[_Upload], guild_id: str) -> list:
        self._check_guild(guild_id)
        return list(self._roles_by_id.values())

    async def _get_channels(self, request: web.Request, body: Any, uploads: list[_Upload], guild_id: str) -> list:
        self._check_guild(guild_id)
        return [c for c in self._channels_by_id.values() if "guild_id" in c and c["type"] not in (10, 11, 12)]

    # Application commands.

    def _command_scope(self, app_id: str, guild_id: str | None) -> Any:
        if int(app_id) != self.application_id:
            raise DiscordAPIError(403, 50001, "Missing Access")
        self._check_guild(guild_id)
        return self.guild_id if guild_id is not None else "global"

    def _store_command(self, scope: Any, data: dict, existing: dict | None) -> dict:
        command = {
            "id": existing["id"] if existing else str(self._snowflake()),
            "application_id": str(self.application_id),
            "version": str(self._snowflake()),
            "type": data.get("type", 1),
            "name": data["name"],
            "description": data.get("description", ""),
            "options": data.get("options") or [],
            "default_member_permissions": data.get("default_member_permissions"),
            "dm_permission": data.get("dm_permission", True),
            "nsfw": data.get("nsfw", False),
            "contexts": data.get("contexts"),
            "integration_types": data.get("integration_types") or [0],
            "name_localizations": data.get("name_localizations"),
            "description_localizations": data.get("description_localizations"),
        }
        if scope != "global":
            command["guild_id"] = str(scope)
        return command

    async def _list_commands(
        self, request: web.Request, body: Any, uploads: list[_Upload], app_id: str, guild_id: str | None
    ) -> list:
        return self.commands.get(self._command_scope(app_id, guild_id), [])

    async def _put_commands(
        self, request: web.Request, body: Any, uploads: list[_Upload], app_id: str, guild_id: str | None
    ) -> list:
        scope = self._command_scope(app_id, guild_id)
        errs = _FormErrors()
        if not isinstance(body, list):
            errs.add("", "BASE_TYPE_ARRAY", "Must be an array.")
            errs.raise_if_any()
        seen: set[tuple[int, str]] = set()
        for i, command in enumerate(body):
            _validate_command(errs, str(i), command)
            if isinstance(command, dict):
                key = (command.get("type", 1), command.get("name"))
                if key in seen:
                    errs.add(
                        f"{i}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
                    )
                seen.add(key)
        if sum(1 for c in body if isinstance(c, dict) and c.get("type", 1) == 1) > 100:
            errs.add("", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
        errs.raise_if_any()
        old = {(c["type"], c["name"]): c for c in self.commands.get(scope, [])}
        self.commands[scope] = [self._store_command(scope, c, old.get((c.get("type", 1), c["name"]))) for c in body]
        self.command_puts += 1
        self._notify()
        return self.commands[scope]

    async def _post_command(
        self, request: web.Request, body: Any, uploads: list[_Upload], app_id: str, guild_id: str | None
    ) -> web.Response:
        scope = self._command_scope(app_id, guild_id)
        errs = _FormErrors()
        _validate_command(errs, "", body)
        errs.raise_if_any()
        scoped = self.commands.setdefault(scope, [])
        existing = next((c for c in scoped if (c["type"], c["name"]) == (body.get("type", 1), body["name"])), None)
        command = self._store_command(scope, body, existing)
        if existing is not None:
            scoped[scoped.index(existing)] = command
        else:
            scoped.append(command)
        self._notify()
        return _json_response(command, 200 if existing else 201)

    def _command_or_404(self, scope: Any, command_id: str) -> dict:
        for command in self.commands.get(scope, []):
            if command["id"] == command_id:
                return command
        raise DiscordAPIError(404, 10063, "Unknown application command")

    async def _get_command(
        self,
        request: web.Request,
        body: Any,
        uploads: list[_Upload],
        app_id: str,
        guild_id: str | None,
        command_id: str,
    ) -> dict:
        return self._command_or_404(self._command_scope(app_id, guild_id), command_id)

    async def _patch_command(
        self,
        request: web.Request,
        body: Any,
        uploads: list[_Upload],
        app_id: str,
        guild_id: str | None,
        command_id: str,
    ) -> dict:
        scope = self._command_scope(app_id, guild_id)
        existing = self._command_or_404(scope, command_id)
        merged = existing | (body or {})
        errs = _FormErrors()
        _validate_command(errs, "", merged)
        errs.raise_if_any()
        command = self._store_command(scope, merged, existing)
        scoped = self.commands[scope]
        scoped[scoped.index(existing)] = command
        self._notify()
        return command

    async def _delete_command(
        self,
        request: web.Request,
        body: Any,
        uploads: list[_Upload],
        app_id: str,
        guild_id: str | None,
        command_id: str,
    ) -> None:
        scope = self._command_scope(app_id, guild_id)
        self.commands[scope].remove(self._command_or_404(scope, command_id))
        self._notify()

    async def _command_permissions(
        self, request: web.Request, body: Any, uploads: list[_Upload], app_id: str, guild_id: str | None
    ) -> list:
        self._command_scope(app_id, guild_id)
        return []

    # Interactions.

    async def _callback(
        self, request: web.Request, body: Any, uploads: list[_Upload], interaction_id: str, token: str
    ) -> dict | None:
        interaction = self._interactions_by_id.get(int(interaction_id))
        if interaction is None or interaction.token != token:
            raise DiscordAPIError(404, 10062, "Unknown interaction")
        if interaction.responses:
            raise DiscordAPIError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - interaction.dispatched_at > self.ack_deadline:
            raise DiscordAPIError(404, 10062, "Unknown interaction")
        if not isinstance(body, dict) or body.get("type") not in ALLOWED_CALLBACKS.get(interaction.type, set()):
            errors = {"type": {"_errors": [{"code": "INTERACTION_RESPONSE_TYPE_INVALID", "message": "Invalid type"}]}}
            raise DiscordAPIError(400, 50035, "Invalid Form Body", errors)
        rtype, data = body["type"], body.get("data") or {}
        channel = self._channels_by_id[interaction.channel_id]
        message: dict | None = None
        msg_type = 20 if interaction.type == APPLICATION_COMMAND else 0
        if interaction.type == APPLICATION_COMMAND and interaction.payload["data"].get("type", 1) != 1:
            msg_type = 23
        if rtype == 4:
            message = self._create_bot_message(channel, data, uploads, interaction=interaction, msg_type=msg_type)
            interaction._original_id = int(message["id"])
        elif rtype == 5:
            message = self._create_bot_message(
                channel, data, [], interaction=interaction, msg_type=msg_type, placeholder=True
            )
            interaction._original_id = int(message["id"])
            interaction._placeholder = True
            interaction.deferred = True
        elif rtype == 6:
            interaction._original_id = interaction.message_id
            interaction.deferred = True
        elif rtype == 7:
            target = self._messages_by_id.get(interaction.message_id or 0)
            if target is None:
                raise DiscordAPIError(404, 10008, "Unknown Message")
            message = self._edit_bot_message(target, data, uploads)
            interaction._original_id = int(message["id"])
        elif rtype == 8:
            choices = data.get("choices") or []
            _validate_choices(choices, (interaction.autocomplete_option or {}).get("type", 3))
            interaction.autocomplete_choices = choices
        elif rtype == 9:
            errs = _FormErrors()
            errs.length("data.custom_id", data.get("custom_id"), 1, 100)
            errs.length("data.title", data.get("title"), 1, 45)
            if not 1 <= len(data.get("components") or []) <= 5:
                errs.add("data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
            errs.raise_if_any()
            interaction.modal = data
        interaction.responses.append({"type": rtype, "data": data})
        interaction.responded_at = time.monotonic()
        self._notify()
        flags = message.get("flags", 0) if message else 0
        result: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_id": message["id"] if message else None,
                "response_message_loading": rtype == 5,
                "response_message_ephemeral": bool(flags & FLAG_EPHEMERAL),
            },
            "resource": {"type": rtype},
        }
        if message is not None:
            result["resource"]["message"] = self._public(message)
        return result

    def _webhook_interaction(self, app_id: str, token: str) -> Interaction:
        interaction = self._interactions_by_token.get(token)
        if interaction is None or int(app_id) != self.application_id or not interaction.responses:
            raise DiscordAPIError(404, 10015, "Unknown Webhook")
        return interaction

    def _webhook_message(self, interaction: Interaction, message_id: str) -> dict:
        if message_id == "@original":
            message = interaction.original
        else:
            message = self._messages_by_id.get(int(message_id))
            allowed = {interaction._original_id} | {int(f["id"]) for f in interaction.followups}
            if message is not None and int(message["id"]) not in allowed:
                message = None
        if message is None:
            raise DiscordAPIError(404, 10008, "Unknown Message")
        return message

    async def _post_followup(
        self, request: web.Request, body: Any, uploads: list[_Upload], app_id: str, token: str
    ) -> dict | None:
        interaction = self._webhook_interaction(app_id, token)
        if interaction._placeholder and interaction._original_id is not None:
            # Discord: the first followup after a deferral replaces the "thinking" message, which keeps the
            # deferral's flags (so a public deferral cannot become ephemeral, nor the other way round)
            placeholder = self._messages_by_id[interaction._original_id]
            edit = {k: v for k, v in (body or {}).items() if k != "flags"}
            message = self._edit_bot_message(placeholder, edit, uploads, completes=True)
            interaction._placeholder = False
        else:
            channel = self._channels_by_id[interaction.channel_id]
            message = self._create_bot_message(channel, body, uploads, interaction=interaction)
        snapshot = copy.deepcopy(message)
        snapshot["allowed_mentions"] = copy.deepcopy((body or {}).get("allowed_mentions"))
        interaction.followups.append(snapshot)
        self._notify()
        if request.query.get("wait", "false").lower() in ("true", "1"):
            return self._public(message)
        return None

    async def _get_webhook_message(
        self, request: web.Request, body: Any, uploads: list[_Upload], app_id: str, token: str, message_id: str
    ) -> dict:
        interaction = self._webhook_interaction(app_id, token)
        return self._public(self._webhook_message(interaction, message_id))

    async def _patch_webhook_message(
        self, request: web.Request, body: Any, uploads: list[_Upload], app_id: str, token: str, message_id: str
    ) -> dict:
        interaction = self._webhook_interaction(app_id, token)
        message = self._webhook_message(interaction, message_id)
        completes = interaction._placeholder and int(message["id"]) == interaction._original_id
        edited = self._edit_bot_message(message, body, uploads, completes=completes)
        if completes:
            interaction._placeholder = False
        return self._public(edited)

    async def _delete_webhook_message(
        self, request: web.Request, body: Any, uploads: list[_Upload], app_id: str, token: str, message_id: str
    ) -> None:
        interaction = self._webhook_interaction(app_id, token)
        self._delete_message(self._webhook_message(interaction, message_id))


# ----------------------------------------------------------------------------------------------------------------
# Pointing discord.py at the emulator.


@contextlib.contextmanager
def point_discord_py_at(emulator: DiscordEmulator) -> Iterator[None]:
    """Set ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` to the emulator; restore them afterwards."""
    route = discord.http.Route
    websocket = discord.gateway.DiscordWebSocket
    old_base, old_gateway = route.BASE, websocket.DEFAULT_GATEWAY
    route.BASE = emulator.rest_base
    websocket.DEFAULT_GATEWAY = yarl.URL(emulator.gateway_url)
    try:
        yield
    finally:
        route.BASE = old_base
        websocket.DEFAULT_GATEWAY = old_gateway


@contextlib.asynccontextmanager
async def running_client(
    emulator: DiscordEmulator, client: discord.Client, *, ready_timeout: float = 10
) -> AsyncIterator[discord.Client]:
    """Start ``client`` against ``emulator``, wait until it is ready, and always close it on exit."""
    with point_discord_py_at(emulator):
        task = asyncio.create_task(client.start(emulator.token), name="discord-client")
        body_ok = False
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + ready_timeout
            while not client.is_ready():
                if task.done():
                    task.result()
                    raise RuntimeError("the client stopped before it was ready")
                if loop.time() > deadline:
                    raise TimeoutError(f"the client was not ready after {ready_timeout}s")
                await asyncio.sleep(0.01)
            yield client
            body_ok = True
        finally:
            await client.close()
            error: BaseException | None = None
            done, _ = await asyncio.wait({task}, timeout=5)
            if task in done:
                if not task.cancelled():
                    error = task.exception()
            else:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            if body_ok and error is not None:
                raise error
