"""The index directory on disk: fingerprints of the corpus, files and libraries, CURRENT and each build's manifest,
the build lock, and the atomic swap of a finished build into place (the layout is in `bot/index/__init__.py`)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from bot import __version__
from bot.documents import CorpusError, corpus_files
from bot.embedding import TextEncoder, precision_of
from bot.index.chunking import CHUNKING
from bot.index.roots import hashes_of, list_documents, roots_of

INDEX_FORMAT = 2  # 2: float16 vectors, a FAISS search index, paragraphs as JSON lines, derived arrays
_VERSIONED = (
    "sentence-transformers",
    "transformers",
    "torch",
    "onnxruntime",
    "tokenizers",
    "faiss-cpu",
    "numpy",
    "bm25s",
    "markdown-it-py",
    "snowballstemmer",
)


class IndexError_(Exception):
    """The index directory cannot be used; the message says why."""


class IndexCorrupt(IndexError_):
    """Files of the live build are missing, unreadable or inconsistent."""


class BuildBusy(IndexError_):
    """Another build holds the lock."""


# --- fingerprints and manifest ----------------------------------------------------------------------------------


def corpus_hashes(corpus_dir: Path) -> dict[str, str]:
    """sha256 of every file the corpus holds (skipped ones too, so fixing a file makes the index stale)."""
    hashes = {}
    for path in corpus_files(corpus_dir):
        try:
            hashes[path.relative_to(corpus_dir).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            hashes[path.relative_to(corpus_dir).as_posix()] = "unreadable"
    return hashes


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "bot": __version__}
    for name in _VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- the index directory ----------------------------------------------------------------------------------------


def _check_index_dir(index_dir: Path, create: bool) -> None:
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexError_(f"Index path {index_dir} exists but is not a directory.")
    if create:
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexError_(f"Cannot create index directory {index_dir}: {exc.strerror or exc}.") from exc
    if index_dir.exists() and not os.access(index_dir, os.R_OK | os.X_OK):
        raise IndexError_(f"Index directory {index_dir} is not readable.")


def current_build(index_dir: Path) -> Path | None:
    """The live build directory, or None when there is none yet."""
    _check_index_dir(index_dir, create=False)
    pointer = index_dir / "CURRENT"
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"cannot read {pointer} ({exc})") from exc
    if not name or "/" in name or name.startswith("."):
        raise IndexCorrupt(f"{pointer} does not name a build")
    return index_dir / name


def read_manifest(build: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorrupt(f"{build.name} has no manifest.json") from exc
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"manifest.json of {build.name} is unreadable ({exc.__class__.__name__})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != INDEX_FORMAT:
        raise IndexCorrupt(f"manifest.json of {build.name} has an unknown format")
    return manifest


def encoder_mismatch(manifest: dict[str, Any], embedder: TextEncoder) -> str | None:
    """Why a build's vectors cannot be searched with `embedder`'s questions (another model, or another precision:
    vectors of the int8 encoder and of the float one are not to be mixed), or None when they can."""
    model = manifest.get("model", {})
    if model.get("fingerprint") != embedder.fingerprint:
        return "the embedding model changed"
    built, serving = precision_of(model.get("runtime", "")), precision_of(embedder.runtime)
    if built != serving:
        return f"it was embedded by the {built} encoder, and {serving} is configured (ENCODER_PRECISION)"
    return None


def staleness(manifest: dict[str, Any], corpus_dir: Path, embedder: TextEncoder) -> str | None:
    """Why a built index no longer matches the corpus and model, or None when it is current."""
    mismatch = encoder_mismatch(manifest, embedder)
    if mismatch is not None:
        return mismatch
    if manifest.get("chunking") != CHUNKING:
        return "the chunking parameters changed"
    if Path(manifest.get("corpus_dir", "")) != corpus_dir.resolve():
        return "it was built from another corpus directory"
    roots = roots_of(manifest)
    present = [r for r in roots if r.path.is_dir()]
    try:
        hashes = hashes_of(list_documents(corpus_dir, present)[0])
    except CorpusError:
        return "the corpus cannot be listed"
    recorded: dict[str, str] = manifest.get("files", {})
    for root in roots:  # a checkout that is gone: its documents are served as they were (a sync fetches it again)
        if root not in present:
            hashes.update({n: d for n, d in recorded.items() if n.startswith(root.prefix)})
    if recorded != hashes:
        return "the corpus changed"
    return None


@contextlib.contextmanager
def build_lock(index_dir: Path, wait: bool = True) -> Iterator[None]:
    _check_index_dir(index_dir, create=True)
    with file_lock(index_dir / ".lock", "An index build is already running.", wait):
        yield


@contextlib.contextmanager
def file_lock(path: Path, busy: str, wait: bool = True) -> Iterator[None]:
    """An exclusive lock on `path` across processes; BuildBusy(`busy`) when `wait` is False and another holds it."""
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise BuildBusy(busy) from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- writing a build and swapping it in -------------------------------------------------------------------------


def _write_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())


def _swap_in(index_dir: Path, build: Path) -> None:
    """Point CURRENT at `build` in one atomic rename; readers see either the old build or the new one."""
    for path in build.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
    tmp = index_dir / f".CURRENT.{uuid.uuid4().hex[:8]}"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(build.name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(index_dir / "CURRENT")
    fsync_path(index_dir)


def fsync_path(path: Path) -> None:
    """Flush a file's or a directory's entries to disk (a directory after a rename in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_old_builds(index_dir: Path, keep: Path) -> None:
    """Remove the builds nobody serves. A bot process holds a shared flock on the build it serves (`bot/lease.py`),
    possibly long after CURRENT moved on, until it has loaded the new one: such a build is kept, and removed by a
    later build once its last reader has let go (or exited)."""
    for path in index_dir.iterdir():
        if path == keep or not path.name.startswith("build-") or not path.is_dir():
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held while deleting, so no reader leases it half-gone
        except OSError:
            os.close(fd)
            continue  # a process still serves it
        try:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)
    for path in index_dir.glob(".CURRENT.*"):
        path.unlink(missing_ok=True)
