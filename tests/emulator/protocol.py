"""What every part of the emulator shares: Discord's numbers (intents, permissions, flags, interaction types,
limits), its error shape, and the JSON it speaks."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

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


class _Upload:
    def __init__(self, field: str, filename: str, content_type: str, data: bytes) -> None:
        self.field = field
        self.filename = filename
        self.content_type = content_type
        self.data = data
