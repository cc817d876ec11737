"""Discord's form validation of what a bot sends: messages, embeds, components, allowed mentions, application
commands and autocomplete choices. Every check raises or records Invalid Form Body (50035) with Discord's error tree,
keyed by dotted path (``embeds.0.title``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .protocol import AUTOCOMPLETE_TYPES, COMMAND_NAME_RE, FLAG_IS_COMPONENTS_V2, SELECT_TYPES, DiscordAPIError


class _FormErrors:
    """Collects Invalid Form Body (50035) errors keyed by dotted path, e.g. ``embeds.0.title``."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []

    def add(self, path: str, code: str, message: str) -> None:
        self.items.append((path, code, message))

    def max_len(self, path: str, value: Any, limit: int) -> None:
        if isinstance(value, str | list) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def length(self, path: str, value: Any, low: int, high: int) -> None:
        if not isinstance(value, str) or not low <= len(value) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def raise_if_any(self) -> None:
        if not self.items:
            return
        tree: dict[str, Any] = {}
        for path, code, message in self.items:
            node = tree
            for part in path.split(".") if path else []:
                node = node.setdefault(part, {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        raise DiscordAPIError(400, 50035, "Invalid Form Body", tree)


def _embed_text_size(embed: dict) -> int:
    size = len(embed.get("title") or "") + len(embed.get("description") or "")
    size += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
    for field in embed.get("fields") or []:
        size += len(field.get("name") or "") + len(field.get("value") or "")
    return size


def _validate_embeds(errs: _FormErrors, embeds: list) -> None:
    if len(embeds) > 10:
        errs.add("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    for i, embed in enumerate(embeds):
        path = f"embeds.{i}"
        errs.max_len(f"{path}.title", embed.get("title"), 256)
        errs.max_len(f"{path}.description", embed.get("description"), 4096)
        fields = embed.get("fields") or []
        errs.max_len(f"{path}.fields", fields, 25)
        for j, field in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                value = field.get(key)
                if not value:
                    errs.add(f"{path}.fields.{j}.{key}", "BASE_TYPE_REQUIRED", "This field is required")
                errs.max_len(f"{path}.fields.{j}.{key}", value, limit)
        errs.max_len(f"{path}.footer.text", (embed.get("footer") or {}).get("text"), 2048)
        errs.max_len(f"{path}.author.name", (embed.get("author") or {}).get("name"), 256)
    if sum(_embed_text_size(e) for e in embeds) > 6000:
        errs.add("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _walk_components(components: list, path: str) -> Iterator[tuple[str, dict]]:
    for i, component in enumerate(components):
        here = f"{path}.{i}"
        yield here, component
        if isinstance(component.get("components"), list):
            yield from _walk_components(component["components"], f"{here}.components")
        if isinstance(component.get("accessory"), dict):
            yield f"{here}.accessory", component["accessory"]


def _validate_components(errs: _FormErrors, components: list, flags: int) -> None:
    v2 = bool(flags & FLAG_IS_COMPONENTS_V2)
    if not v2:
        errs.max_len("components", components, 5)
        for i, row in enumerate(components):
            if row.get("type") != 1:
                errs.add(f"components.{i}.type", "UI_TYPE_INVALID", "Top-level components must be action rows.")
    elif sum(1 for _ in _walk_components(components, "components")) > 40:
        errs.add("components", "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in total.")
    seen: set[str] = set()
    for path, component in _walk_components(components, "components"):
        ctype = component.get("type")
        if ctype == 1:
            children = component.get("components") or []
            errs.max_len(f"{path}.components", children, 5)
            if any(c.get("type") in SELECT_TYPES for c in children) and len(children) > 1:
                errs.add(
                    f"{path}.components",
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
        elif ctype == 2:
            errs.max_len(f"{path}.label", component.get("label"), 80)
            style = component.get("style")
            if style == 5:
                if not component.get("url"):
                    errs.add(f"{path}.url", "BASE_TYPE_REQUIRED", "This field is required")
                if component.get("custom_id"):
                    errs.add(f"{path}.custom_id", "COMPONENT_CUSTOM_ID_INVALID", "Link buttons cannot have a custom_id")
            elif style != 6 and not component.get("custom_id"):
                errs.add(f"{path}.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
        elif ctype in SELECT_TYPES:
            if not component.get("custom_id"):
                errs.add(f"{path}.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
            errs.max_len(f"{path}.placeholder", component.get("placeholder"), 150)
            if ctype == 3:
                options = component.get("options") or []
                if not 1 <= len(options) <= 25:
                    errs.add(f"{path}.options", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length.")
                for j, option in enumerate(options):
                    for key in ("label", "value", "description"):
                        errs.max_len(f"{path}.options.{j}.{key}", option.get(key), 100)
        custom_id = component.get("custom_id")
        if custom_id is not None:
            errs.max_len(f"{path}.custom_id", custom_id, 100)
            if custom_id in seen:
                errs.add(
                    f"{path}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
                )
            seen.add(custom_id)


def _validate_allowed_mentions(errs: _FormErrors, allowed: Any) -> None:
    if allowed is None:
        return
    if not isinstance(allowed, dict):
        errs.add("allowed_mentions", "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    parse = allowed.get("parse") or []
    for i, kind in enumerate(parse):
        if kind not in ("users", "roles", "everyone"):
            errs.add(
                f"allowed_mentions.parse.{i}",
                "BASE_TYPE_CHOICES",
                "Value must be one of {'users', 'roles', 'everyone'}.",
            )
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            errs.add(
                "allowed_mentions",
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
            )
        errs.max_len(f"allowed_mentions.{kind}", allowed.get(kind), 100)


def _validate_message_form(body: dict, flags: int) -> None:
    errs = _FormErrors()
    content = body.get("content")
    errs.max_len("content", content, 2000)
    if flags & FLAG_IS_COMPONENTS_V2 and (content or body.get("embeds")):
        errs.add("content", "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2", "The 'content' field cannot be used")
    _validate_embeds(errs, body.get("embeds") or [])
    _validate_components(errs, body.get("components") or [], flags)
    _validate_allowed_mentions(errs, body.get("allowed_mentions"))
    errs.raise_if_any()


def _message_is_empty(message: dict) -> bool:
    return not (
        (message.get("content") or "").strip()
        or message.get("embeds")
        or message.get("components")
        or message.get("attachments")
        or message.get("sticker_items")
        or message.get("sticker_ids")
        or message.get("poll")
    )


def _validate_command_name(errs: _FormErrors, path: str, name: Any, chat_input: bool) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        errs.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    elif chat_input and (not COMMAND_NAME_RE.match(name) or name != name.lower()):
        errs.add(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")


def _validate_command_options(errs: _FormErrors, path: str, options: list) -> None:
    errs.max_len(path, options, 25)
    names: set[str] = set()
    seen_optional = False
    for i, option in enumerate(options):
        here = f"{path}.{i}"
        _validate_command_name(errs, f"{here}.name", option.get("name"), True)
        errs.length(f"{here}.description", option.get("description"), 1, 100)
        if option.get("name") in names:
            errs.add(f"{here}.name", "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique")
        names.add(option.get("name"))
        if option.get("type") in (1, 2):
            _validate_command_options(errs, f"{here}.options", option.get("options") or [])
            continue
        if option.get("required"):
            if seen_optional:
                errs.add(
                    f"{here}.required",
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if option.get("autocomplete") and (choices or option.get("type") not in AUTOCOMPLETE_TYPES):
            errs.add(
                f"{here}.autocomplete",
                "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID",
                "Autocomplete is for string, integer and number options without choices",
            )
        errs.max_len(f"{here}.choices", choices, 25)
        for j, choice in enumerate(choices):
            errs.length(f"{here}.choices.{j}.name", choice.get("name"), 1, 100)
            errs.max_len(f"{here}.choices.{j}.value", choice.get("value"), 100)


def _validate_choices(choices: Any, option_type: int) -> None:
    """An autocomplete answer: at most 25 choices, names of 1-100 characters, values of the option's type."""
    errs = _FormErrors()
    if not isinstance(choices, list):
        errs.add("data.choices", "BASE_TYPE_LIST", "Must be a list.")
        errs.raise_if_any()
    errs.max_len("data.choices", choices, 25)
    for i, choice in enumerate(choices):
        errs.length(f"data.choices.{i}.name", choice.get("name"), 1, 100)
        value = choice.get("value")
        if option_type == 3:
            if not isinstance(value, str):
                errs.add(f"data.choices.{i}.value", "BASE_TYPE_STRING", "Must be a string.")
            else:
                errs.max_len(f"data.choices.{i}.value", value, 100)
        elif option_type == 4 and (isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**53):
            errs.add(f"data.choices.{i}.value", "NUMBER_TYPE_COERCE", f"Value {value!r} is not int.")
        elif option_type == 10 and (isinstance(value, bool) or not isinstance(value, int | float)):
            errs.add(f"data.choices.{i}.value", "NUMBER_TYPE_COERCE", f"Value {value!r} is not a number.")
    errs.raise_if_any()


def _validate_command(errs: _FormErrors, path: str, command: Any) -> None:
    prefix = f"{path}." if path else ""
    if not isinstance(command, dict):
        errs.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    ctype = command.get("type", 1)
    _validate_command_name(errs, f"{prefix}name", command.get("name"), ctype == 1)
    if ctype == 1:
        errs.length(f"{prefix}description", command.get("description"), 1, 100)
        _validate_command_options(errs, f"{prefix}options", command.get("options") or [])
    elif command.get("description"):
        errs.add(
            f"{prefix}description", "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION", "Context menu commands have none"
        )
