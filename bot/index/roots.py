"""The directories a build reads: the corpus directory, whose documents are named by their path in it, and each
synced source's checkout, whose documents are named `NAME/PATH`. A build records its roots in its manifest, so a
later build (`python -m bot index`, /reindex, a corpus change) reads the same checkouts until the next sync."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pathspec

from bot.anchors import anchor_style, anchors, page_url
from bot.documents import HTML_SUFFIXES, SUPPORTED_SUFFIXES, CorpusError, corpus_listing


@dataclass(frozen=True)
class Root:
    """A source's checkout as a build reads it."""

    name: str  # plain name: its documents are named NAME/PATH
    path: Path  # the checkout of `commit`
    include: tuple[str, ...] = ()  # gitignore-style patterns; none: every supported file
    exclude: tuple[str, ...] = ()
    link: str | None = None  # web page of a file, with {path}; None: its documents have no page
    authority: float | None = None  # for documents whose front matter sets none
    commit: str | None = None

    @property
    def prefix(self) -> str:
        return f"{self.name}/"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "include": list(self.include),
            "exclude": list(self.exclude),
            "link": self.link,
            "authority": self.authority,
            "commit": self.commit,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Root:
        return cls(
            name=data["name"],
            path=Path(data["path"]),
            include=tuple(data.get("include", ())),
            exclude=tuple(data.get("exclude", ())),
            link=data.get("link"),
            authority=data.get("authority"),
            commit=data.get("commit"),
        )

    def selects(self, relative: str) -> bool:
        """Is a file of the checkout (path relative to it) one of the source's documents?"""
        if not relative.lower().endswith(SUPPORTED_SUFFIXES + HTML_SUFFIXES):
            return False
        if self.include and not _spec(self.include).match_file(relative):
            return False
        return not (self.exclude and _spec(self.exclude).match_file(relative))


_SPECS: dict[tuple[str, ...], pathspec.GitIgnoreSpec] = {}


def _spec(patterns: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    if patterns not in _SPECS:
        _SPECS[patterns] = pathspec.GitIgnoreSpec.from_lines(patterns)
    return _SPECS[patterns]


def roots_of(manifest: dict[str, Any]) -> list[Root]:
    """The source checkouts a build read (none for a build made before sources existed)."""
    return [Root.from_json(item) for item in manifest.get("sources", [])]


@dataclass(frozen=True)
class Listed:
    name: str  # the document's name in the index
    path: Path
    root: Root | None  # None: the corpus directory


def list_documents(corpus_dir: Path, roots: list[Root]) -> tuple[list[Listed], list[str]]:
    """Every file of the corpus directory and of each source's checkout that is to be read, and the names of those
    an ignore file (`.botignore`, in the corpus directory or at the top of a checkout) keeps out. Raises
    CorpusError when a checkout is missing or two files would have the same name."""
    files, ignored = corpus_listing(corpus_dir)
    listed = [Listed(path.relative_to(corpus_dir).as_posix(), path, None) for path in files]
    for root in roots:
        if not root.path.is_dir():
            raise CorpusError(
                f"The checkout of source {root.name} ({root.path}) is missing; run `python -m bot sources sync`."
            )
        paths, kept_out = corpus_listing(root.path)
        ignored += [root.prefix + name for name in kept_out]
        for path in paths:
            relative = path.relative_to(root.path).as_posix()
            if root.selects(relative):
                listed.append(Listed(root.prefix + relative, path, root))
    seen: set[str] = set()
    for item in listed:
        if item.name in seen:
            source = item.root.name if item.root else ""
            raise CorpusError(
                f"{item.name} is both a file of the corpus directory and of source {source}; rename the corpus "
                "folder or the source."
            )
        seen.add(item.name)
    return listed, ignored


def hashes_of(listed: list[Listed]) -> dict[str, str]:
    """sha256 of every listed file (skipped ones too, so fixing a file makes the index stale)."""
    hashes = {}
    for item in listed:
        try:
            hashes[item.name] = hashlib.sha256(item.path.read_bytes()).hexdigest()
        except OSError:
            hashes[item.name] = "unreadable"
    return hashes


def set_page(record: dict[str, Any], root: Root | None) -> None:
    """Give a document's record its web page and its headings' anchors, from its source's link pattern."""
    page = style = None
    if root is not None and root.link:
        page = page_url(root.link, record["name"][len(root.prefix) :])
        style = anchor_style(root.link)
    record["page"] = page
    record["anchors"] = anchors(record.get("headings", []), style) if page and style else []


def link_of(record: dict[str, Any], heading: int = -1) -> str | None:
    """Where a reader finds a passage: the front matter's url, else the document's page at the passage's heading."""
    if record.get("url"):
        return str(record["url"])
    page = record.get("page")
    if not page:
        return None
    marks = record.get("anchors") or []
    if 0 <= heading < len(marks) and marks[heading]:
        return f"{page}#{marks[heading]}"
    return str(page)


def absolute_links(
    record: dict[str, Any], links: tuple[tuple[int, int, str], ...], start: int, end: int
) -> tuple[tuple[int, int, str], ...]:
    """The links of a paragraph that fall in its text from `start` to `end`, as offsets in that stretch, each with
    an absolute target: a relative one is resolved against the document's page (or front-matter url); one that
    cannot be made absolute is left out (its text stays plain text)."""
    base = record.get("url") or record.get("page")
    kept = []
    for a, b, target in links:
        if a < start or b > end:
            continue
        target = target.strip()
        if not urlsplit(target).scheme and base and str(base).startswith(("http://", "https://")):
            target = urljoin(str(base), target)
        if urlsplit(target).scheme not in ("http", "https", "mailto"):
            continue  # relative with nothing to resolve it against, or a scheme no reader should follow
        kept.append((a - start, b - start, target))
    return tuple(kept)
