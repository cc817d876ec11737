"""Section anchors as GitHub and GitLab render them, and the web page of a file in a hosted repository.

GitHub gives every Markdown heading an id: its text lowercased, every character that is not a letter, digit, mark,
underscore, hyphen or space removed, and each space turned into a hyphen (`## Squash commits` → `squash-commits`,
`## 🚀 Start` → `-start`). A repeated slug gets `-1`, `-2`… in document order. GitLab does the same but then
collapses runs of hyphens into one and trims them from the ends.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

GITHUB, GITLAB = "github", "gitlab"


def _keep(char: str) -> bool:
    if char in "- _":
        return True
    category = unicodedata.category(char)
    return category[0] in "LNM" or category == "Pc"


def slug(text: str, style: str = GITHUB) -> str:
    """One heading's slug, before repeats are numbered."""
    result = "".join(c for c in text.strip().lower() if _keep(c)).replace(" ", "-")
    if style == GITLAB:
        result = re.sub(r"-{2,}", "-", result)
    return result


def anchors(headings: Sequence[str], style: str = GITHUB) -> list[str]:
    """The anchor of every heading of a document, in order, with repeats numbered as the host does."""
    seen: dict[str, int] = {}
    result = []
    for heading in headings:
        base = slug(heading, style)
        count = seen.get(base, 0)
        anchor = base if count == 0 else f"{base}-{count}"
        while anchor in seen and count:  # a generated "x-1" taken by a real heading "X 1": count on
            count += 1
            anchor = f"{base}-{count}"
        seen[base] = count + 1
        seen.setdefault(anchor, 1)
        result.append(anchor)
    return result


_HOSTED = {
    "github.com": ("https://github.com/{repo}/blob/{branch}/{{path}}", GITHUB),
    "gitlab.com": ("https://gitlab.com/{repo}/-/blob/{branch}/{{path}}", GITLAB),
}


def repository_page(git_url: str, branch: str) -> str | None:
    """The web page pattern (with `{path}`) of a github.com or gitlab.com repository's files, else None."""
    host, repo = _host_and_repo(git_url)
    if host not in _HOSTED or not repo:
        return None
    return _HOSTED[host][0].format(repo=repo, branch=quote(branch, safe="/"))


def anchor_style(page_pattern: str | None) -> str | None:
    """How the pages of a link pattern name their headings' anchors: github, gitlab, or None (unknown host)."""
    if not page_pattern:
        return None
    host = (urlsplit(page_pattern).hostname or "").lower()
    if host == "gitlab.com" or host.startswith("gitlab."):
        return GITLAB
    return GITHUB


def _host_and_repo(git_url: str) -> tuple[str, str]:
    """("github.com", "owner/name") from https://, ssh:// and scp-like (git@host:owner/name.git) URLs."""
    url = git_url.strip()
    scp = re.match(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+)$", url)
    if scp and "://" not in url:
        host, path = scp.group(1), scp.group(2)
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ssh", "git"):
            return "", ""
        host, path = parts.hostname or "", parts.path
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)+", path):
        return host.lower(), ""
    return host.lower(), path


def page_url(pattern: str, path: str) -> str:
    """A file's page from a pattern with `{path}` (the path is percent-encoded, its slashes kept)."""
    return pattern.replace("{path}", quote(path, safe="/"))
