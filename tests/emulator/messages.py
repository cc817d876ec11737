"""Messages: what users post (channels, DMs, forum posts and threads) and what the bot creates, edits and deletes,
with the mentions Discord resolves and the pings it would send."""

from __future__ import annotations

import asyncio
import copy
from typing import TYPE_CHECKING, Any

from .protocol import (
    FLAG_EPHEMERAL,
    FLAG_IS_COMPONENTS_V2,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    FLAG_SUPPRESS_NOTIFICATIONS,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    ROLE_MENTION_RE,
    SENDABLE_FLAGS,
    USER_MENTION_RE,
    DiscordAPIError,
    _now_iso,
    _Upload,
)
from .validation import _message_is_empty, _validate_message_form

if TYPE_CHECKING:
    from .interactions import Interaction


class MessagesMixin:
    """Users' messages (``post_message``, ``send_dm``, ``create_forum_post``) and the bot's (created, edited and deleted
    through REST and interaction webhooks), recorded in ``messages``, ``edits``, ``deletions`` and ``pings``."""

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
            "mentions": [self._mention_object(u, channel.get("guild_id")) for u in mentioned],
            "mention_roles": [
                r
                for r in dict.fromkeys(ROLE_MENTION_RE.findall(content))
                if int(r) in self._roles_by_id and str(self._role_guild[int(r)]) == channel["guild_id"]
            ]
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
            message["guild_id"] = channel["guild_id"]
        if referenced is not None:
            message["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": referenced["channel_id"],
                **({"guild_id": channel["guild_id"]} if in_guild else {}),
            }
            message["referenced_message"] = self._referenced_copy(referenced)
        return message

    def _mention_object(self, user_id: int, guild_id: str | None) -> dict:
        user = dict(self.users[user_id])
        members = self._members_of(guild_id) if guild_id else {}
        if user_id in members:
            user["member"] = {k: v for k, v in members[user_id].items() if k != "user"}
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
            "guild_id": parent["guild_id"],
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
                if int(r) in self._roles_by_id
                and str(self._role_guild[int(r)]) == message["guild_id"]
                and ("roles" in parse or int(r) in allowed_roles)
            ]
        everyone = in_guild and "everyone" in parse and ("@everyone" in content or "@here" in content)
        replied_user = None
        if referenced is not None and replied_ok:
            replied_user = int(referenced["author"]["id"])
        mentioned = list(users)
        if replied_user is not None and replied_user not in mentioned:
            mentioned.append(replied_user)
        message["mentions"] = [self._mention_object(u, message.get("guild_id")) for u in mentioned]
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
            message["guild_id"] = channel["guild_id"]
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
                **({"guild_id": referenced["guild_id"]} if "guild_id" in referenced else {}),
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
