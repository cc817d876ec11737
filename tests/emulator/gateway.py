"""The gateway: HELLO, IDENTIFY and READY, RESUME with replay, heartbeats, member requests, dispatches gated by
intents and routed by shard, and the ways a connection can end (RECONNECT, a dropped socket, INVALID_SESSION).

Sharding as Discord documents it: IDENTIFY may carry ``shard: [shard_id, num_shards]`` (``[0, 1]`` when absent);
a session receives the events of the guilds with ``(guild_id >> 22) % num_shards == shard_id`` (READY lists only
those, and only they get a GUILD_CREATE), and DMs go to shard 0 alone. A shard outside ``0 <= shard_id <
num_shards`` is closed with 4010 (Invalid shard). Each shard has its own session, sequence and replay log."""

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
from .state import shard_of


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


class _Session:
    """One shard's gateway session: what it identified with, its sequence, the log replayed on RESUME and its live
    connection (None while disconnected)."""

    def __init__(self, shard: tuple[int, int], intents: int) -> None:
        self.shard = shard
        self.intents = intents
        self.session_id = secrets.token_hex(16)
        self.seq = 0
        self.log: list[tuple[int, str]] = []
        self.live: _GatewayConnection | None = None

    def receives(self, guild_id: int | None) -> bool:
        """Whether this shard gets the events of `guild_id` (None: a DM, which only shard 0 gets)."""
        shard_id, count = self.shard
        return shard_of(guild_id, count) == shard_id if guild_id is not None else shard_id == 0

    def send(self, event: str, data: dict) -> None:
        """Queue a dispatch (op 0) with the next sequence number; kept for RESUME replay."""
        self.seq += 1
        frame = _dumps({"op": 0, "t": event, "s": self.seq, "d": data})
        self.log.append((self.seq, frame))
        if self.live is not None:
            self.live.queue.put_nowait(frame)


def _valid_shard(shard: object) -> tuple[int, int] | None:
    if shard is None:
        return (0, 1)
    if (
        isinstance(shard, list)
        and len(shard) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in shard)
        and 0 <= shard[0] < shard[1]
    ):
        return (shard[0], shard[1])
    return None


class GatewayMixin:
    """The gateway sessions (``_sessions``, one per shard id) and the events they dispatch. ``identifies``,
    ``resumes`` and ``intents`` (of the latest IDENTIFY) count over every shard; ``shards_identified`` lists each
    IDENTIFY's ``(shard_id, num_shards)``."""

    def _emit(self, event: str, data: dict, intent: int | None = None) -> None:
        """Dispatch to every session whose shard the event belongs to: a guild's (``guild_id``, or ``id`` for
        GUILD_CREATE and GUILD_DELETE) to its shard, anything else (DMs, their interactions) to shard 0."""
        guild = data.get("id") if event in ("GUILD_CREATE", "GUILD_DELETE") else data.get("guild_id")
        for session in list(self._sessions.values()):
            if intent is not None and not session.intents & intent:
                continue
            if session.receives(int(guild) if guild is not None else None):
                session.send(event, data)

    def _session(self, shard: int) -> _Session:
        session = self._sessions.get(shard)
        if session is None or session.live is None:
            raise RuntimeError(f"no live gateway connection for shard {shard}")
        return session

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
            for session in self._sessions.values():
                if session.live is conn:
                    session.live = None
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
            shard = _valid_shard(data.get("shard"))
            if shard is None:
                await conn.ws.close(code=4010, message=b"Invalid shard.")
                return
            self.identifies += 1
            self.shards_identified.append(shard)
            self.intents = int(data.get("intents") or 0)
            self.presence = data.get("presence")
            session = _Session(shard, self.intents)
            self._sessions[shard[0]] = session  # a new IDENTIFY on a shard replaces its session
            session.live = conn
            guilds = [g for g in self.guild_ids if session.receives(g)]
            ready = {
                "v": API_VERSION,
                "user": self.bot_user,
                "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
                "session_id": session.session_id,
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
            if shard != (0, 1):
                ready["shard"] = list(shard)
            session.send("READY", ready)
            if session.intents & INTENT_GUILDS:
                for guild in guilds:
                    session.send("GUILD_CREATE", self._guild_payload(guild))
            self._ready.set()
            self._notify()
        elif op == 6:
            if data.get("token") != self.token:
                await conn.ws.close(code=4004, message=b"Authentication failed.")
                return
            resumed = next((s for s in self._sessions.values() if s.session_id == data.get("session_id")), None)
            if resumed is None:
                conn.queue.put_nowait(_dumps({"op": 9, "d": False, "s": None, "t": None}))
                return
            last = data.get("seq") or 0
            resumed.live = conn
            for seq, frame in resumed.log:
                if seq > last:
                    conn.queue.put_nowait(frame)
            self.resumes += 1
            resumed.send("RESUMED", {"_trace": ["discord-emulator"]})
            self._notify()
        elif op == 8:
            self._answer_member_request(data or {})
        elif op == 3:
            self.presence = data

    def _answer_member_request(self, data: dict) -> None:
        guild = int(data.get("guild_id") or self.guild_id)
        if guild not in self.guild_ids:
            return
        members = list(self._members_of(guild).values())
        if data.get("user_ids"):
            wanted = (
                {int(u) for u in data["user_ids"]} if isinstance(data["user_ids"], list) else {int(data["user_ids"])}
            )
            members = [m for m in members if int(m["user"]["id"]) in wanted]
        elif data.get("query"):
            members = [m for m in members if m["user"]["username"].lower().startswith(data["query"].lower())]
        if data.get("limit"):
            members = members[: data["limit"]]
        chunk = {"guild_id": str(guild), "members": members, "chunk_index": 0, "chunk_count": 1}
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        self._emit("GUILD_MEMBERS_CHUNK", chunk)

    async def wait_until_ready(self, timeout: float = 10) -> None:
        """Wait until READY and GUILD_CREATE have been queued to the client."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def wait_until_resumed(self, count: int = 1, timeout: float = 10) -> None:
        """Wait until ``resumes >= count``."""
        await self._wait_until(lambda: True if self.resumes >= count else None, timeout, f"{count} RESUME(s)")

    async def reconnect(self, shard: int = 0) -> None:
        """Send op 7 RECONNECT to a shard; events emitted until the client RESUMEs are replayed then."""
        session = self._session(shard)
        conn, session.live = session.live, None
        assert conn is not None
        conn.queue.put_nowait(_dumps({"op": 7, "d": None, "s": None, "t": None}))
        await asyncio.sleep(0)

    async def drop_connection(self, shard: int = 0) -> None:
        """Cut a shard's gateway socket without a close frame; discord.py should reconnect and RESUME."""
        session = self._session(shard)
        conn, session.live = session.live, None
        assert conn is not None
        transport = conn.request.transport
        if transport is not None:
            transport.abort()
        await asyncio.sleep(0)

    async def invalidate_session(self, *, resumable: bool = False, shard: int = 0) -> None:
        """Send op 9 INVALID_SESSION to a shard; with ``resumable=False`` the client must IDENTIFY again."""
        session = self._session(shard)
        conn, session.live = session.live, None
        assert conn is not None
        conn.queue.put_nowait(_dumps({"op": 9, "d": resumable, "s": None, "t": None}))
        await asyncio.sleep(0)

    def _gateway_message(self, message: dict) -> dict:
        """A message as dispatched: with guild member data, and content blanked without the intent."""
        data = copy.deepcopy(message)
        data.pop("allowed_mentions", None)
        author_id = int(data["author"]["id"])
        members = self._members_of(data["guild_id"]) if "guild_id" in data else {}
        if author_id in members and not data.get("webhook_id"):
            data["member"] = {k: v for k, v in members[author_id].items() if k != "user"}
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
