"""The gateway: HELLO, IDENTIFY and READY, RESUME with replay, heartbeats, member requests, dispatches gated by
intents, and the ways a connection can end (RECONNECT, a dropped socket, INVALID_SESSION)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import secrets
import time

from aiohttp import WSMsgType, web

from .protocol import (
    API_VERSION,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    _dumps,
)


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


class GatewayMixin:
    """The gateway session (``_session_id``, ``_seq``, the ``_log`` replayed on RESUME, the ``_live`` connection) and
    the events it dispatches."""

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
