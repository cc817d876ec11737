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
* Guilds and shards: the bot is in ``guild_id`` and in every guild ``add_guild`` adds (``shard=(id, count)``
  places one on a shard). GET /gateway/bot recommends ``recommended_shards`` (default one per 1,000 guilds); each
  IDENTIFY's ``shard: [shard_id, num_shards]`` opens that shard's own session, which receives only the guilds with
  ``(guild_id >> 22) % num_shards == shard_id`` (READY, GUILD_CREATE, messages, interactions); DMs go to shard 0.
  ``reconnect``, ``drop_connection`` and ``invalidate_session`` take a ``shard``. ``shards_identified`` records
  each IDENTIFY's shard.

The package reads the way Discord's documentation does, one part a file:

* ``protocol.py``: intents, permissions, message flags, interaction types and limits; the error shape and JSON.
* ``state.py``: the guilds: ids, roles, channels, members, permissions and the overwrites that deny the bot.
* ``gateway.py``: HELLO, IDENTIFY/READY, RESUME and replay, heartbeats, dispatches gated by intents and routed
  by shard.
* ``rest.py``: the route table, authentication, rate limits, rejections, and the user, channel, message and guild
  routes.
* ``messages.py``: users' messages, threads and forum posts; the bot's messages, their mentions and pings.
* ``commands.py``: registering application commands, and users running them and typing in their options.
* ``interactions.py``: ``Interaction``, dispatching, clicks, callbacks and the interaction webhook.
* ``cdn.py``: attachments and the signed URLs they are served at.
* ``validation.py``: Discord's form validation (50035) of what the bot sends.
* ``emulator.py``: ``DiscordEmulator``, made of the parts above, with its server's lifecycle and the waits.
* ``client.py``: ``point_discord_py_at`` and ``running_client``.

Its own tests are ``test_emulator.py`` and ``test_sharding.py`` beside these files.
"""

from .client import point_discord_py_at, running_client
from .emulator import DiscordEmulator
from .interactions import Interaction
from .protocol import DiscordAPIError, UserFile

__all__ = [
    "DiscordAPIError",
    "DiscordEmulator",
    "Interaction",
    "UserFile",
    "point_discord_py_at",
    "running_client",
]
