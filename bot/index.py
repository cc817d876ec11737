"""The passage index: corpus → sentences → windows → vectors, saved under `embeddings/` and swapped in atomically.

Layout of the index directory:

    CURRENT                 name of the live build (replaced atomically with os.replace)
    build-<time>-<id>/      one complete build: manifest.json, passages.json, windows.faiss (window vectors),
                            windows.npy (paragraph, first sentence, length of each window), paragraphs.npy,
                            sections.npy, bm25/
    .lock                   held while a build runs, so two builds never interleave

A build is written into a fresh `build-*` directory; only when every file is on disk does CURRENT move to it.
An interrupted or failed build leaves CURRENT (and so the last good index) untouched.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import platform
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bot import __version__
from bot.documents import CorpusError, Document, SkippedFile, corpus_files, load_corpus
from bot.embedding import Embedder
from bot.text import search_tokens, sentence_spans

log = logging.getLogger(__name__)

INDEX_FORMAT = 1
# Bump when parsing or chunking changes what a build produces, so old indexes are rebuilt.
CHUNKING = {"parser_version": 4, "max_window_sentences": 3, "max_quote_chars": 600, "max_unit_chars": 400}
_VERSIONED = ("sentence-transformers", "transformers", "torch", "faiss-cpu", "numpy", "bm25s")


class IndexError_(Exception):
    """The index directory cannot be used; the message says why."""


class IndexCorrupt(IndexError_):
    """Files of the live build are missing, unreadable or inconsistent."""


class BuildBusy(IndexError_):
    """Another build holds the lock."""


@dataclass(frozen=True)
class ParagraphRecord:
    doc: int
    text: str
    section: tuple[str, ...]
    speaker: str | None
    kind: str
    sentences: tuple[tuple[int, int], ...]
    section_id: int


@dataclass
class PassageIndex:
    """Everything a query needs, in memory."""

    path: Path
    manifest: dict[str, Any]
    documents: list[dict[str, Any]]
    paragraphs: list[ParagraphRecord]
    sections: list[str]
    window_para: np.ndarray  # paragraph of each window
    window_first: np.ndarray  # first sentence of each window within its paragraph
    window_len: np.ndarray  # number of sentences in each window
    window_index: Any  # faiss.IndexFlatIP over window vectors
    window_vectors: np.ndarray
    paragraph_vectors: np.ndarray
    section_vectors: np.ndarray
    bm25: Any  # bm25s.BM25 over window tokens

    def window_text(self, w: int) -> str:
        para = self.paragraphs[int(self.window_para[w])]
        first = int(self.window_first[w])
        start = para.sentences[first][0]
        end = para.sentences[first + int(self.window_len[w]) - 1][1]
        return para.text[start:end]

    @property
    def size(self) -> int:
        return len(self.window_para)


@dataclass
class BuildReport:
    documents: int
    paragraphs: int
    windows: int
    skipped: list[SkippedFile]
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    path: Path | None = None


# --- chunking ---------------------------------------------------------------------------------------------------


def unit_spans(text: str, max_chars: int = CHUNKING["max_unit_chars"]) -> list[tuple[int, int]]:
    """Sentence spans, with over-long sentences cut at clause boundaries so every quote fits its limit."""
    spans: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        while end - start > max_chars:
            piece = text[start : start + max_chars]
            cut = max(piece.rfind(sep) for sep in ("; ", ": ", ", ", " — ", " "))
            if cut <= 0:
                cut = max_chars - 1
            spans.append((start, start + cut + 1))
            start += cut + 1
            while start < end and text[start].isspace():
                start += 1
        if end > start:
            spans.append((start, end))
    return spans


def windows_of(sentences: tuple[tuple[int, int], ...]) -> Iterator[tuple[int, int]]:
    """(first sentence, length) of every run of 1..3 consecutive sentences that fits the quote limit."""
    for first in range(len(sentences)):
        for length in range(1, CHUNKING["max_window_sentences"] + 1):
            if first + length > len(sentences):
                break
            if sentences[first + length - 1][1] - sentences[first][0] > CHUNKING["max_quote_chars"]:
                break
            yield first, length


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


def staleness(manifest: dict[str, Any], corpus_dir: Path, embedder: Embedder) -> str | None:
    """Why a built index no longer matches the corpus and model, or None when it is current."""
    if manifest.get("model", {}).get("fingerprint") != embedder.fingerprint:
        return "the embedding model changed"
    if manifest.get("chunking") != CHUNKING:
        return "the chunking parameters changed"
    if Path(manifest.get("corpus_dir", "")) != corpus_dir.resolve():
        return "it was built from another corpus directory"
    if manifest.get("files") != corpus_hashes(corpus_dir):
        return "the corpus changed"
    return None


@contextlib.contextmanager
def build_lock(index_dir: Path, wait: bool = True) -> Iterator[None]:
    _check_index_dir(index_dir, create=True)
    with (index_dir / ".lock").open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise BuildBusy("An index build is already running.") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def import_bm25s() -> Any:
    """bm25s, imported lazily; it sets its logger to DEBUG on import, which would flood stderr."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    progress: Callable[[int, int], None] | None = None,
    wait: bool = True,
) -> BuildReport:
    """Build a fresh index from `corpus_dir` and make it live. The CLI and the Discord /reindex both call this.

    `progress(done, total)` is called as windows are embedded. Raises CorpusError when nothing can be indexed, in
    which case the previous index stays live.
    """
    started = time.monotonic()
    with build_lock(index_dir, wait=wait):
        hashes = corpus_hashes(corpus_dir)
        loaded = load_corpus(corpus_dir)
        if not loaded.documents:
            detail = "; ".join(f"{s.name}: {s.reason}" for s in loaded.skipped) or "it holds no .md or .txt files"
            raise CorpusError(f"Nothing to index in {corpus_dir}: {detail}.")
        previous = _previous_files(index_dir)
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        # when each document's current text was first indexed: kept across rebuilds while the document is unchanged
        earlier = _previous_indexed_at(index_dir)
        indexed_at = {
            d.name: earlier[d.name] if previous.get(d.name) == d.digest and d.name in earlier else now
            for d in loaded.documents
        }
        build = index_dir / f"build-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        try:
            counts = _write_build(
                build, corpus_dir, loaded.documents, loaded.skipped, hashes, embedder, progress, indexed_at
            )
            _swap_in(index_dir, build)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        _remove_old_builds(index_dir, keep=build)
    current = {d.name: d.digest for d in loaded.documents}
    return BuildReport(
        documents=len(loaded.documents),
        paragraphs=counts["paragraphs"],
        windows=counts["windows"],
        skipped=loaded.skipped,
        added=sorted(set(current) - set(previous)),
        changed=sorted(n for n in current if n in previous and previous[n] != current[n]),
        removed=sorted(set(previous) - set(current)),
        seconds=time.monotonic() - started,
        path=build,
    )


def _previous_indexed_at(index_dir: Path) -> dict[str, str]:
    try:
        build = current_build(index_dir)
        return read_manifest(build).get("indexed_at", {}) if build else {}
    except IndexError_:
        return {}


def _previous_files(index_dir: Path) -> dict[str, str]:
    try:
        build = current_build(index_dir)
        return read_manifest(build).get("indexed", {}) if build else {}
    except IndexError_:
        return {}


def _write_build(
    build: Path,
    corpus_dir: Path,
    documents: list[Document],
    skipped: list[SkippedFile],
    hashes: dict[str, str],
    embedder: Embedder,
    progress: Callable[[int, int], None] | None,
    indexed_at: dict[str, str],
) -> dict[str, int]:
    import faiss

    bm25s = import_bm25s()
    build.mkdir()
    paragraphs: list[dict[str, Any]] = []
    sections: dict[tuple[int, tuple[str, ...]], int] = {}
    section_texts: list[str] = []
    windows: list[tuple[int, int, int]] = []
    window_texts: list[str] = []
    for d, doc in enumerate(documents):
        for para in doc.paragraphs:
            spans = tuple(unit_spans(para.text))
            if not spans:
                continue
            key = (d, para.section)
            if key not in sections:
                sections[key] = len(section_texts)
                section_texts.append(" › ".join(para.section) if para.section else doc.title)
            p = len(paragraphs)
            paragraphs.append(
                {
                    "doc": d,
                    "text": para.text,
                    "section": list(para.section),
                    "speaker": para.speaker,
                    "kind": para.kind,
                    "sentences": [list(s) for s in spans],
                    "section_id": sections[key],
                }
            )
            for first, length in windows_of(spans):
                windows.append((p, first, length))
                window_texts.append(para.text[spans[first][0] : spans[first + length - 1][1]])

    total = len(window_texts) + len(paragraphs) + len(section_texts)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    window_vectors = embedder.encode(window_texts, progress=tick)
    paragraph_vectors = embedder.encode([p["text"] for p in paragraphs], progress=tick)
    section_vectors = embedder.encode(section_texts, progress=tick)

    index = faiss.IndexFlatIP(window_vectors.shape[1])
    index.add(window_vectors)
    faiss.write_index(index, str(build / "windows.faiss"))
    np.save(build / "paragraphs.npy", paragraph_vectors)
    np.save(build / "sections.npy", section_vectors)
    np.save(build / "windows.npy", np.asarray(windows, dtype=np.int32).reshape(-1, 3))

    retriever = bm25s.BM25()
    retriever.index([search_tokens(t) or ["\x00"] for t in window_texts], show_progress=False)
    retriever.save(str(build / "bm25"), show_progress=False)

    doc_records = [
        {
            "name": doc.name,
            "title": doc.title,
            "url": doc.url,
            "speaker": doc.speaker,
            "interviewer": doc.interviewer,
            "is_interview": doc.is_interview,
            "digest": doc.digest,
        }
        for doc in documents
    ]
    _write_json(
        build / "passages.json", {"documents": doc_records, "paragraphs": paragraphs, "sections": section_texts}
    )
    checksums = {p.relative_to(build).as_posix(): file_sha256(p) for p in sorted(build.rglob("*")) if p.is_file()}
    manifest = {
        "format": INDEX_FORMAT,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "corpus_dir": str(corpus_dir.resolve()),
        "model": {
            "name": embedder.name,
            "path": str(embedder.model_dir),
            "fingerprint": embedder.fingerprint,
            "dimension": int(window_vectors.shape[1]),
            "normalized": True,
        },
        "chunking": CHUNKING,
        "files": hashes,
        "indexed": {doc.name: doc.digest for doc in documents},
        "indexed_at": indexed_at,
        "skipped": [{"name": s.name, "reason": s.reason} for s in skipped],
        "counts": {
            "documents": len(documents),
            "paragraphs": len(paragraphs),
            "sections": len(section_texts),
            "windows": len(windows),
        },
        "versions": library_versions(),
        "checksums": checksums,
    }
    _write_json(build / "manifest.json", manifest)
    return {"paragraphs": len(paragraphs), "windows": len(windows)}


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
    for path in index_dir.iterdir():
        if path != keep and path.is_dir() and path.name.startswith("build-"):
            shutil.rmtree(path, ignore_errors=True)
    for path in index_dir.glob(".CURRENT.*"):
        path.unlink(missing_ok=True)


# --- loading ----------------------------------------------------------------------------------------------------


def load_index(index_dir: Path) -> PassageIndex:
    """Load the live build; raises IndexCorrupt (or IndexError_) with a reason instead of a traceback."""
    import faiss

    bm25s = import_bm25s()
    build = current_build(index_dir)
    if build is None:
        raise IndexCorrupt("no index has been built yet")
    if not build.is_dir():
        raise IndexCorrupt(f"CURRENT names {build.name}, which does not exist")
    manifest = read_manifest(build)
    for rel, expected in manifest.get("checksums", {}).items():
        path = build / rel
        try:
            actual = file_sha256(path)
        except OSError as exc:
            raise IndexCorrupt(f"{rel} of {build.name} cannot be read ({exc.strerror or exc})") from exc
        if actual != expected:
            raise IndexCorrupt(f"{rel} of {build.name} does not match its checksum")
    try:
        data = json.loads((build / "passages.json").read_text(encoding="utf-8"))
        windows = np.load(build / "windows.npy")
        window_index = faiss.read_index(str(build / "windows.faiss"))
        paragraph_vectors = np.load(build / "paragraphs.npy")
        section_vectors = np.load(build / "sections.npy")
        bm25 = bm25s.BM25.load(str(build / "bm25"), show_progress=False)
        paragraphs = [
            ParagraphRecord(
                doc=p["doc"],
                text=p["text"],
                section=tuple(p["section"]),
                speaker=p["speaker"],
                kind=p["kind"],
                sentences=tuple((s, e) for s, e in p["sentences"]),
                section_id=p["section_id"],
            )
            for p in data["paragraphs"]
        ]
    except Exception as exc:  # any unreadable piece means the build is unusable
        raise IndexCorrupt(f"{build.name} could not be read ({exc.__class__.__name__}: {exc})") from exc
    counts = manifest.get("counts", {})
    if not (
        window_index.ntotal == len(windows) == counts.get("windows")
        and len(paragraphs) == len(paragraph_vectors) == counts.get("paragraphs")
        and len(data["sections"]) == len(section_vectors)
    ):
        raise IndexCorrupt(f"{build.name} has inconsistent counts")
    return PassageIndex(
        path=build,
        manifest=manifest,
        documents=data["documents"],
        paragraphs=paragraphs,
        sections=data["sections"],
        window_para=windows[:, 0].copy(),
        window_first=windows[:, 1].copy(),
        window_len=windows[:, 2].copy(),
        window_index=window_index,
        window_vectors=window_index.reconstruct_n(0, window_index.ntotal),
        paragraph_vectors=paragraph_vectors,
        section_vectors=section_vectors,
        bm25=bm25,
    )


def ensure_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    notify: Callable[[str], None],
    progress: Callable[[int, int], None] | None = None,
) -> PassageIndex:
    """Load the index, first building it when it is missing, stale (corpus or model changed) or corrupt."""
    try:
        build = current_build(index_dir)
        if build is None:
            reason = "no index has been built yet"
        else:
            reason = staleness(read_manifest(build), corpus_dir, embedder)
            if reason is None:
                return load_index(index_dir)
    except IndexCorrupt as exc:
        reason = f"the index is corrupt: {exc}"
    notify(f"Building the index ({reason}).")
    build_index(corpus_dir, index_dir, embedder, progress=progress)
    return load_index(index_dir)
