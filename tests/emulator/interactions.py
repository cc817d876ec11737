"""Interactions: the payload Discord dispatches, button and select clicks, the bot's callback (with its
deadline and the types allowed for each interaction), and the webhook it answers through afterwards (followups,
``@original``)."""

from __future__ import annotations

import asyncio
import copy
import secrets
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .protocol import (
    ALLOWED_CALLBACKS,
    APPLICATION_COMMAND,
    FLAG_EPHEMERAL,
    MESSAGE_COMPONENT,
    SELECT_TYPES,
    DiscordAPIError,
    _Upload,
)
from .validation import _FormErrors, _validate_choices, _walk_components

if TYPE_CHECKING:
    from .emulator import DiscordEmulator


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


class InteractionsMixin:
    """Dispatching interactions (``interactions`` and the maps by id and token) and the REST routes the bot answers
    them through."""

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
            "app_permissions": str(self.member_permissions(self.bot_id, channel.get("guild_id"))),
            "authorizing_integration_owners": {"0": channel.get("guild_id", str(self.guild_id))},
            "context": 0 if in_guild else 1,
        }
        if in_guild:
            guild_id = channel["guild_id"]
            perms = self.member_permissions(user_id, guild_id)
            payload["channel"] = channel | {"permissions": str(perms)}
            payload["guild_id"] = guild_id
            payload["guild"] = {"id": guild_id, "locale": "en-US", "features": ["COMMUNITY"]}
            payload["guild_locale"] = "en-US"
            payload["member"] = self._members_of(guild_id)[user_id] | {"permissions": str(perms)}
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
