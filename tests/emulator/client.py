"""The discord.py side: point an unmodified discord.py at the emulator, and run a client against it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import discord
import discord.gateway
import discord.http
import yarl

if TYPE_CHECKING:
    from .emulator import DiscordEmulator


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
