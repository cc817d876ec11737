"""The guild as Discord keeps it: ids, roles, channels and DM channels, members, their permissions, and the
channel overwrites that deny the bot."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .protocol import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    BOT_ROLE_PERMISSIONS,
    DISCORD_EPOCH_MS,
    EVERYONE_PERMISSIONS,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILDS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
    DiscordAPIError,
    _now_iso,
)


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard that receives a guild's events: Discord's ``(guild_id >> 22) % num_shards``."""
    return (guild_id >> 22) % shard_count


class StateMixin:
    """Ids, users, roles, channels and permissions of the emulator's guilds (attributes set in
    ``DiscordEmulator.__init__``: ``users``, ``roles``, ``channels``, ``threads`` and their ``_..._by_id`` maps).

    The first guild (``guild_id``) is the one tests mostly use; ``add_guild`` adds more (the bot is in every one),
    each with its own @everyone and bot roles, members and channels. ``roles`` names only the first guild's roles;
    channel and thread names are unique across guilds."""

    def _snowflake(self, *, shard: tuple[int, int] | None = None) -> int:
        """A new id; with ``shard=(id, count)``, one whose guild would be on that shard (its timestamp is moved on a
        millisecond or two, as a guild created a moment later would be)."""
        self._snowflake_counter += 1
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        if shard is not None:
            while shard_of(ms << 22, shard[1]) != shard[0]:
                ms += 1
        return (ms << 22) | (self._snowflake_counter & 0x3FFFFF)

    def _members_of(self, guild_id: int | str | None) -> dict[int, dict]:
        return self._guild_members[int(guild_id) if guild_id else self.guild_id]

    def _add_role(
        self,
        name: str,
        permissions: int,
        *,
        role_id: int | None = None,
        managed_for: int | None = None,
        guild_id: int | None = None,
    ) -> int:
        guild_id = guild_id or self.guild_id
        role_id = role_id or self._snowflake()
        role: dict[str, Any] = {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": sum(1 for g in self._role_guild.values() if g == guild_id),
            "permissions": str(permissions),
            "managed": managed_for is not None,
            "mentionable": False,
            "flags": 0,
        }
        if managed_for is not None:
            role["tags"] = {"bot_id": str(managed_for)}
        self._roles_by_id[role_id] = role
        self._role_guild[role_id] = guild_id
        if guild_id == self.guild_id:
            self.roles[name] = role_id
        return role_id

    def add_role(self, name: str, *, permissions: int = 0) -> int:
        """Add a guild role (dispatches GUILD_ROLE_CREATE when connected)."""
        role_id = self._add_role(name, permissions)
        if self._sessions:
            self._emit(
                "GUILD_ROLE_CREATE", {"guild_id": str(self.guild_id), "role": self._roles_by_id[role_id]}, INTENT_GUILDS
            )
        return role_id

    def add_channel(self, name: str, *, type: int = 0, topic: str | None = None, guild: int | None = None) -> int:
        """Add a guild channel (0 text, 2 voice, 5 announcement, 15 forum) to the first guild or ``guild``; returns
        its id."""
        if name in self.channels:
            raise ValueError(f"a channel named {name!r} exists already")
        guild_id = str(guild or self.guild_id)
        channel_id = self._snowflake()
        channel: dict[str, Any] = {
            "id": str(channel_id),
            "type": type,
            "guild_id": guild_id,
            "name": name,
            "position": sum(1 for c in self._channels_by_id.values() if c.get("guild_id") == guild_id),
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
        if self._sessions:
            self._emit("CHANNEL_CREATE", channel, INTENT_GUILDS)
        return channel_id

    def add_guild(self, name: str, *, shard: tuple[int, int] | None = None) -> int:
        """Another guild the bot is in, with a text channel named ``name``, the bot and the owner as members;
        ``shard=(id, count)`` picks its id so that it lands on that shard. Returns its id (the channel is
        ``channels[name]``). Dispatches GUILD_CREATE to its shard when connected, as a bot joining a guild gets."""
        if name in self.channels:
            raise ValueError(f"a channel named {name!r} exists already")
        guild_id = self._snowflake(shard=shard)
        self.guild_ids.append(guild_id)
        self._guild_names[guild_id] = name
        self._guild_members[guild_id] = {}
        self._add_role("@everyone", EVERYONE_PERMISSIONS, role_id=guild_id, guild_id=guild_id)
        bot_role = self._add_role(
            self.bot_user["username"], BOT_ROLE_PERMISSIONS, managed_for=self.bot_id, guild_id=guild_id
        )
        self._add_member(self.bot_id, [bot_role], guild_id=guild_id)
        self._add_member(int(self.owner["id"]), [], guild_id=guild_id)
        self._system_channels[guild_id] = self.add_channel(name, guild=guild_id)
        if self._sessions:
            self._emit("GUILD_CREATE", self._guild_payload(guild_id), INTENT_GUILDS)
        return guild_id

    def _add_member(self, user_id: int, role_ids: list[int], *, guild_id: int | None = None) -> dict:
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
        self._members_of(guild_id)[user_id] = member
        return member

    def add_user(self, name: str, *, roles: Sequence[str] = (), bot: bool = False, guild: int | None = None) -> dict:
        """Add a member of the first guild (or of ``guild``, where only the first guild's role names are unknown)
        with the named roles; returns the user object."""
        unknown = [r for r in roles if r not in self.roles or (guild and guild != self.guild_id)]
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
        member = self._add_member(user_id, [self.roles[r] for r in roles], guild_id=guild)
        if self._sessions:
            self._emit("GUILD_MEMBER_ADD", member | {"guild_id": str(guild or self.guild_id)}, INTENT_GUILD_MEMBERS)
        return dict(user)

    def member_permissions(self, user: dict | int, guild: int | str | None = None) -> int:
        """Guild-level permissions of a member (of the first guild, or ``guild``) from @everyone and their roles."""
        user_id = int(user["id"]) if isinstance(user, dict) else int(user)
        if self.owner and user_id == int(self.owner["id"]):
            return ALL_PERMISSIONS
        member = self._members_of(guild)[user_id]
        perms = int(self._roles_by_id[int(guild or self.guild_id)]["permissions"])
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

    def _guild_payload(self, guild_id: int | None = None) -> dict:
        guild_id = guild_id or self.guild_id
        mine = [c for c in self._channels_by_id.values() if c.get("guild_id") == str(guild_id)]
        guild_channels = [c for c in mine if c["type"] not in (10, 11, 12)]
        threads = [c for c in mine if c["type"] in (10, 11, 12)]
        members = self._members_of(guild_id)
        return {
            "id": str(guild_id),
            "name": self._guild_names[guild_id],
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
            "roles": [r for i, r in self._roles_by_id.items() if self._role_guild[i] == guild_id],
            "emojis": [],
            "stickers": [],
            "features": ["COMMUNITY"],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(self._system_channels[guild_id]),
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
            "joined_at": members[self.bot_id]["joined_at"],
            "large": False,
            "unavailable": False,
            "lazy": True,
            "member_count": len(members),
            "members": list(members.values()),
            "channels": guild_channels,
            "threads": threads,
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

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

    def deny_bot(self, channel: str | int, permissions: int) -> None:
        """A channel permission overwrite that denies the bot `permissions` there (and in its threads)."""
        channel_id = int(self._resolve_channel(channel)["id"])
        self.bot_denied[channel_id] = self.bot_denied.get(channel_id, 0) | permissions

    def _check_bot_can_post(self, channel: dict, *, replying: bool) -> None:
        """Discord's checks for a bot message in a guild channel: view and send (send in threads for a thread), and
        read message history to reply."""
        base = int(channel.get("parent_id") or channel["id"]) if channel["type"] in (10, 11, 12) else int(channel["id"])
        perms = self.member_permissions(self.bot_id, channel["guild_id"]) & ~self.bot_denied.get(base, 0)
        send = SEND_MESSAGES_IN_THREADS if channel["type"] in (10, 11, 12) else SEND_MESSAGES
        if not perms & VIEW_CHANNEL:
            raise DiscordAPIError(403, 50001, "Missing Access")
        if not perms & send or (replying and not perms & READ_MESSAGE_HISTORY):
            raise DiscordAPIError(403, 50013, "Missing Permissions")
