"""`sources.toml`: the git repositories whose documents the bot quotes, each a `[[source]]` table.

    [[source]]
    name = "community"          # plain name; its documents are named community/PATH
    git = "https://github.com/kubernetes/community.git"
    branch = "master"           # optional: the remote's default branch
    include = ["contributors/guide/**"]   # optional gitignore-style patterns; default every .md/.txt/.html
    exclude = ["archive/**"]    # optional
    link = "https://github.com/kubernetes/community/blob/master/{path}"   # optional page pattern
    authority = "normal"        # optional, as in front matter
    token_env = "COMMUNITY_TOKEN"   # optional: the environment variable holding a token for a private repository

A file that cannot be used is refused as a whole, with the line and the reason.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bot.anchors import repository_page
from bot.documents import AUTHORITY_WORDS, SkippedFileError, authority_of

KEYS = ("name", "git", "branch", "include", "exclude", "link", "authority", "token_env")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?[^@/:]+:")


class SourcesError(ValueError):
    """sources.toml cannot be used; the message gives the file, the line and the reason."""


@dataclass(frozen=True)
class SourceSpec:
    """One `[[source]]` of sources.toml."""

    name: str
    git: str  # a URL, or an absolute path (a relative one is resolved against the file's directory)
    branch: str | None = None  # None: the remote's default branch
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    link: str | None = None  # page pattern with {path}; None when the host's is not known
    authority: float | None = None
    token_env: str | None = None

    @property
    def shown_url(self) -> str:
        return redact(self.git)


def redact(url: str) -> str:
    """A URL without the user name and password it may carry (`https://token@host/…` → `https://***@host/…`)."""
    if not _URL_SCHEME.match(url):
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def is_local_path(git: str) -> bool:
    return not _URL_SCHEME.match(git) and not (_SCP_LIKE.match(git) and not git.startswith(("/", ".")))


def load_sources(path: Path) -> list[SourceSpec]:
    """The sources the file lists; none when it does not exist. Raises SourcesError for a file that cannot be used."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SourcesError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise SourcesError(f"{path}: is not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{path}: is not valid TOML ({exc}).") from None
    lines = text.splitlines()
    for key in data:
        if key != "source":
            raise SourcesError(
                f"{path}, line {_line_of(lines, key, 0, len(lines))}: unknown key {key!r} (only [[source]] tables)."
            )
    tables = data.get("source", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise SourcesError(f"{path}, line {_line_of(lines, 'source', 0, len(lines))}: write each source as [[source]].")
    starts = [i for i, line in enumerate(lines) if re.match(r"\s*\[\[\s*source\s*\]\]", line)]
    specs: list[SourceSpec] = []
    seen: dict[str, int] = {}
    for n, table in enumerate(tables):
        start = starts[n] if n < len(starts) else 0
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)

        def fail(key: str | None, reason: str, start: int = start, end: int = end) -> SourcesError:
            line = _line_of(lines, key, start, end) if key else start + 1
            return SourcesError(f"{path}, line {line}: {reason}")

        spec = _spec(table, fail, path.parent)
        if spec.name in seen:
            raise fail("name", f"source name {spec.name!r} is used twice (first on line {seen[spec.name]}).")
        seen[spec.name] = _line_of(lines, "name", start, end)
        specs.append(spec)
    return specs


def _line_of(lines: list[str], key: str | None, start: int, end: int) -> int:
    """The 1-based line where `key =` (or a table of that name) is written between two lines, else the first."""
    pattern = re.compile(rf"\s*(\[\[?\s*)?[\"']?{re.escape(key or '')}[\"']?\s*(=|\]|\.)")
    for i in range(start, end):
        if pattern.match(lines[i]):
            return i + 1
    return start + 1


def _spec(table: dict[str, Any], fail: Any, base: Path) -> SourceSpec:
    for key in table:
        if key not in KEYS:
            raise fail(key, f"unknown key {key!r} in [[source]] (known: {', '.join(KEYS)}).")
    for key in ("name", "git"):
        if key not in table:
            raise fail(None, f"this [[source]] has no {key!r}.")

    def text(key: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise fail(key, f"{key!r} must be a non-empty string.")
        return value.strip()

    def patterns(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise fail(key, f'{key!r} must be a list of glob patterns, such as ["docs/**", "*.md"].')
        return tuple(v.strip() for v in value)

    name = text("name") or ""
    if not _PLAIN_NAME.fullmatch(name) or name.strip(".") == "":
        raise fail(
            "name", f"source name {name!r} is not plain: use letters, digits, '-', '_' or '.' (no '/' or spaces)."
        )
    git = text("git") or ""
    if git.startswith("-"):
        raise fail("git", f"'git' must be a URL or a path, not {redact(git)!r}.")
    if is_local_path(git) and not Path(git).expanduser().is_absolute():
        git = str((base / Path(git).expanduser()).resolve())
    branch = text("branch")
    if branch is not None and (branch.startswith("-") or not re.fullmatch(r"[\w./+@-]+", branch) or ".." in branch):
        raise fail("branch", f"branch {branch!r} is not a branch name.")
    link = text("link")
    if link is not None and (not link.startswith(("http://", "https://")) or "{path}" not in link):
        raise fail("link", "'link' must be an http(s) URL with {path} where the file's path goes.")
    if link is None:
        link = repository_page(git, branch or "HEAD")
    authority = None
    if "authority" in table:
        try:
            authority = authority_of({"authority": table["authority"]})
        except SkippedFileError:
            words = ", ".join(AUTHORITY_WORDS)
            raise fail("authority", f"'authority' must be one of {words} or a number from 0 to 2.") from None
    token_env = text("token_env")
    if token_env is not None and not _ENV_NAME.fullmatch(token_env):
        raise fail("token_env", "'token_env' must name an environment variable, such as COMMUNITY_TOKEN.")
    return SourceSpec(
        name=name,
        git=git,
        branch=branch,
        include=patterns("include"),
        exclude=patterns("exclude"),
        link=link,
        authority=authority,
        token_env=token_env,
    )
