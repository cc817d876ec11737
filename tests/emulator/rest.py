"""The REST API: the route table, authentication, request bodies (JSON or multipart), the per-channel message rate
limit, rejections in Discord's error shape, and the handlers for users, channels, messages and the guild. The
routes for commands and interactions are handled in commands.py and interactions.py."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .protocol import FLAG_EPHEMERAL, INTENT_GUILDS, SENDABLE_FLAGS, DiscordAPIError, _json_response, _Upload
from .validation import _FormErrors, _validate_message_form

_CHANNEL_MESSAGES = re.compile(r"/channels/\d+/messages")


class RestMixin:
    """Answers REST requests; records ``requests``, ``rejected``, ``rate_limited``, ``reactions`` and ``typing``."""

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any], bool]]:
        snow = r"(?P<{}>\d+)"
        table = [
            ("GET", r"/users/@me", self._get_me, True),
            ("GET", r"/users/" + snow.format("user_id"), self._get_user, True),
            ("GET", r"/gateway", self._get_gateway, False),
            ("GET", r"/gateway/bot", self._get_bot_gateway, True),
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
            ("DELETE", r"/users/@me/guilds/" + snow.format("guild_id"), self._leave_guild, True),
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

    async def _get_me(self, request: web.Request, body: Any, uploads: list[_Upload]) -> dict:
        return self.bot_user

    async def _get_user(self, request: web.Request, body: Any, uploads: list[_Upload], user_id: str) -> dict:
        user = self.users.get(int(user_id))
        if user is None:
            raise DiscordAPIError(404, 10013, "Unknown User")
        return user

    async def _get_gateway(self, request: web.Request, body: Any, uploads: list[_Upload]) -> dict:
        return {"url": self.gateway_url}

    async def _get_bot_gateway(self, request: web.Request, body: Any, uploads: list[_Upload]) -> dict:
        """The URL plus the number of shards Discord recommends (one per 1,000 guilds, or ``recommended_shards``)."""
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        shards = self.recommended_shards or max(1, math.ceil(len(self.guild_ids) / 1000))
        return {"url": self.gateway_url, "shards": shards, "session_start_limit": limit}

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
        if guild_id is not None and int(guild_id) not in self.guild_ids:
            raise DiscordAPIError(403, 50001, "Missing Access")

    async def _get_guild(self, request: web.Request, body: Any, uploads: list[_Upload], guild_id: str) -> dict:
        self._check_guild(guild_id)
        payload = self._guild_payload(int(guild_id))
        for key in ("members", "channels", "threads", "voice_states", "presences", "joined_at", "large", "lazy"):
            payload.pop(key, None)
        return payload

    async def _get_member(
        self, request: web.Request, body: Any, uploads: list[_Upload], guild_id: str, user_id: str
    ) -> dict:
        self._check_guild(guild_id)
        member = self._members_of(guild_id).get(int(user_id))
        if member is None:
            raise DiscordAPIError(404, 10007, "Unknown Member")
        return member

    async def _leave_guild(self, request: web.Request, body: Any, uploads: list[_Upload], guild_id: str) -> None:
        """The bot leaves a guild: it is gone from ``guild_ids`` (``left_guild_ids`` records it) and its shard gets
        GUILD_DELETE, as Discord sends a bot that left (no ``unavailable`` key)."""
        self._check_guild(guild_id)
        if int(guild_id) == self.guild_id:
            raise DiscordAPIError(400, 50055, "Invalid Guild")  # the emulator's first guild holds its fixtures
        self.guild_ids.remove(int(guild_id))
        self.left_guild_ids.append(int(guild_id))
        self._emit("GUILD_DELETE", {"id": guild_id}, INTENT_GUILDS)

    async def _get_roles(self, request: web.Request, body: Any, uploads: list[_Upload], guild_id: str) -> list:
        self._check_guild(guild_id)
        return [r for i, r in self._roles_by_id.items() if self._role_guild[i] == int(guild_id)]

    async def _get_channels(self, request: web.Request, body: Any, uploads: list[_Upload], guild_id: str) -> list:
        self._check_guild(guild_id)
        return [
            c for c in self._channels_by_id.values() if c.get("guild_id") == guild_id and c["type"] not in (10, 11, 12)
        ]
