"""Syncing: every source fetched, checked and checked out, then the index updated through the one build function
the command line and Discord share, reading the new checkouts (only documents whose bytes changed are embedded).

A source that cannot be synced keeps the commit it had: its checkout and its documents in the index stay as they
were, and its failure is reported in one sentence. A source removed from sources.toml leaves the index. Nothing is
changed on disk until the new build is live: the previous checkouts are removed only then.

Layout of the sources directory (default data/sources/):

    NAME/repo.git/              bare cache repository, one commit deep
    NAME/checkouts/COMMIT/      the checkout the index reads
    state.json                  per source: the commit of the last sync, when it ran, the last failure
    .lock                       held while a sync runs
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.documents import CorpusError
from bot.embedding import TextEncoder
from bot.index import (
    BuildReport,
    IndexError_,
    PassageIndex,
    Root,
    build_index,
    current_build,
    read_manifest,
    roots_of,
)
from bot.index.store import file_lock
from bot.sources.config import SourceSpec, load_sources
from bot.sources.git import Limits, SyncError, check_out, check_text, check_tree, fetch

STATE_FILE = "state.json"


@dataclass(frozen=True)
class SourcesSetup:
    """What syncing needs from the settings: the sources listed, where their caches go, and the limits."""

    specs: tuple[SourceSpec, ...]
    directory: Path
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_settings(cls, settings: Settings) -> SourcesSetup:
        """Read sources.toml; raises SourcesError (with the line and the reason) when it cannot be used."""
        return cls(
            tuple(load_sources(settings.sources_file)),
            settings.sources_dir,
            Limits(settings.sources_max_files, settings.sources_max_bytes, settings.sources_git_timeout),
        )


@dataclass
class SourceResult:
    name: str
    git: str  # without credentials
    commit: str | None  # the commit now served (the previous one when this sync failed)
    previous: str | None = None
    error: str | None = None
    removed_source: bool = False  # no longer in sources.toml: its documents left the index
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def moved(self) -> bool:
        return self.commit != self.previous


@dataclass
class SyncReport:
    results: list[SourceResult]
    build: BuildReport | None  # None: no source moved, so the index was left as it was

    @property
    def errors(self) -> list[str]:
        return [r.error for r in self.results if r.error]


@contextlib.contextmanager
def sync_lock(directory: Path, wait: bool = True) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with file_lock(directory / ".lock", "A sync of the sources is already running.", wait):
        yield


def read_state(directory: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("sources", {}) if isinstance(data, dict) else {}


def _write_state(directory: Path, state: dict[str, dict[str, Any]]) -> None:
    tmp = directory / f".{STATE_FILE}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump({"sources": state}, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(directory / STATE_FILE)


def live_roots(index_dir: Path) -> list[Root]:
    """The checkouts the live build read (none when there is no build yet)."""
    try:
        build = current_build(index_dir)
        return roots_of(read_manifest(build)) if build else []
    except IndexError_:
        return []


def sync_sources(
    setup: SourcesSetup,
    corpus_dir: Path,
    index_dir: Path,
    embedder: TextEncoder,
    progress: Callable[[int, int], None] | None = None,
    wait: bool = True,
    previous: PassageIndex | None = None,
    always_build: bool = False,
    notify: Callable[[str], None] | None = None,
) -> SyncReport:
    """Fetch every source, then update the index when one moved (or `always_build`). Raises what `build_index`
    raises when the build fails, in which case nothing changed: the previous build and checkouts keep serving."""
    with sync_lock(setup.directory, wait=wait):
        state = read_state(setup.directory)
        served = {r.name: r for r in (roots_of(previous.manifest) if previous else live_roots(index_dir))}
        roots: list[Root] = []
        results: list[SourceResult] = []
        for spec in setup.specs:
            if notify:
                notify(f"Fetching {spec.name} from {spec.shown_url}…")
            old = served.get(spec.name)
            try:
                root = _sync_one(spec, setup, old)
            except SyncError as exc:
                error = str(exc)
                if old is not None:
                    roots.append(old)
                    error += f" It keeps serving commit {(old.commit or '')[:12]}."
                else:
                    error += " None of its documents are indexed yet."
                results.append(SourceResult(spec.name, spec.shown_url, old.commit if old else None, error=error))
                continue
            roots.append(root)
            results.append(SourceResult(spec.name, spec.shown_url, root.commit, old.commit if old else None))
        names = {spec.name for spec in setup.specs}
        for name, old in served.items():
            if name not in names:
                results.append(SourceResult(name, "", None, old.commit, removed_source=True))
        moved = {r.name: r.to_json() for r in roots} != {n: r.to_json() for n, r in served.items()}
        report = None
        try:
            if moved or always_build or current_build(index_dir) is None:
                report = build_index(
                    corpus_dir, index_dir, embedder, progress=progress, wait=wait, previous=previous, sources=roots
                )
        except CorpusError as exc:  # e.g. nothing to index because the only source failed: say why it failed
            _tidy(setup.directory, served.values(), names | set(served))
            raise CorpusError(" ".join([str(exc), *(r.error for r in results if r.error)])) from None
        except BaseException:
            _tidy(setup.directory, served.values(), names | set(served))
            raise
        _tidy(setup.directory, roots, names)
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        for result in results:
            if result.removed_source:
                state.pop(result.name, None)
            elif result.error:
                state.setdefault(result.name, {})["error"] = result.error
            else:
                state[result.name] = {"commit": result.commit, "synced_at": now, "git": result.git}
            if report is not None:
                prefix = f"{result.name}/"
                for kind in ("added", "changed", "removed"):
                    setattr(result, kind, [n for n in getattr(report, kind) if n.startswith(prefix)])
        _write_state(setup.directory, state)
        return SyncReport(results, report)


def _sync_one(spec: SourceSpec, setup: SourcesSetup, old: Root | None) -> Root:
    """Fetch one source and check out its commit (checked first); the new root, not yet served."""
    base = setup.directory / spec.name
    cache = base / "repo.git"
    commit = fetch(spec, cache, setup.limits)
    if old is not None and old.commit == commit and old.path.is_dir():
        path = old.path
    else:
        check_tree(spec, cache, commit, setup.limits)
        path = check_out(spec, cache, commit, base / "checkouts", setup.limits)
    root = Root(spec.name, path, spec.include, spec.exclude, spec.link, spec.authority, commit)
    check_text(spec, root)
    return root


def _tidy(directory: Path, keep: Any, names: set[str]) -> None:
    """Remove the checkouts no build reads any more, and the caches of sources no longer listed or served."""
    kept = {Path(r.path) for r in keep}
    if not directory.is_dir():
        return
    for base in directory.iterdir():
        if not base.is_dir() or base.name.startswith("."):
            continue
        if base.name not in names:
            shutil.rmtree(base, ignore_errors=True)
            continue
        checkouts = base / "checkouts"
        if checkouts.is_dir():
            for path in checkouts.iterdir():
                if path not in kept:
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)


def describe_sync(report: SyncReport, listed: int = 10) -> str:
    """Per source: the commit and the documents added, changed and removed; then what the build did."""
    lines = []
    for r in report.results:
        if r.removed_source:
            lines.append(f"{r.name}: removed from the sources file; {len(r.removed)} documents left the index.")
            continue
        if r.error:
            lines.append(f"{r.name}: {r.error}")
            continue
        commit = (r.commit or "")[:12]
        if r.previous is None:
            head = f"{r.name}: commit {commit} (first sync)"
        elif r.moved:
            head = f"{r.name}: commit {(r.previous or '')[:12]} → {commit}"
        else:
            head = f"{r.name}: commit {commit} (no change)"
        counts = ", ".join(f"{len(getattr(r, k))} {k}" for k in ("added", "changed", "removed"))
        lines.append(f"{head}; {counts}.")
        for kind in ("added", "changed", "removed"):
            names = getattr(r, kind)
            lines += [f"  {kind[0].upper()} {name}" for name in names[:listed]]
            if len(names) > listed:
                lines.append(f"  … and {len(names) - listed} more {kind}")
    if report.build is None:
        lines.append("The index is unchanged.")
    return "\n".join(lines)
