"""Application commands: the bot registers them over REST (validated as Discord does), and users run them
(``invoke``), type in their options (``autocomplete``), with options built and resolved as Discord sends them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .protocol import (
    ALL_PERMISSIONS,
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    AUTOCOMPLETE_TYPES,
    DiscordAPIError,
    UserFile,
    _json_response,
    _Upload,
)
from .validation import _FormErrors, _validate_command

if TYPE_CHECKING:
    from .interactions import Interaction


class CommandsMixin:
    """Registered commands (``commands``: {"global": [...], guild_id: [...]}, ``command_puts``) and the
    interactions users start with them."""

    def _find_command(self, name: str, guild_id: int | None, ctype: int) -> dict | None:
        """A command as a user sees it: one registered in their guild (None: in a DM), else a global one."""
        scopes = [self.commands["global"]]
        if guild_id is not None:
            scopes.insert(0, self.commands.get(guild_id, []))
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
        guild = None if dm else int(self._resolve_channel(channel).get("guild_id") or 0) or None
        command = self._find_command(name, guild, ctype)
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
            if not granted and required is not None and int(required) & ~self.member_permissions(user_id, guild):
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
        channel_payload = self._resolve_channel(channel)
        guild = int(channel_payload["guild_id"])
        command = self._find_command(name, guild, 1)
        if command is None:
            raise LookupError(f"command {name!r} is not registered")
        required = command.get("default_member_permissions")
        if not granted and required is not None and int(required) & ~self.member_permissions(user_id, guild):
            raise PermissionError(f"{name!r} requires permissions {required}; Discord would not show it")
        if focused not in options:
            raise ValueError("the focused option must be among the options typed")
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

    def _command_scope(self, app_id: str, guild_id: str | None) -> Any:
        if int(app_id) != self.application_id:
            raise DiscordAPIError(403, 50001, "Missing Access")
        self._check_guild(guild_id)
        return int(guild_id) if guild_id is not None else "global"

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
