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
from bot.documents import (
    Block,
    CorpusError,
    Document,
    SkippedFile,
    SkippedFileError,
    Span,
    corpus_files,
    corpus_listing,
    load_document,
)
from bot.embedding import TextEncoder
from bot.text import english_share, search_tokens, sentence_spans

log = logging.getLogger(__name__)

INDEX_FORMAT = 1
# Bump when parsing or chunking changes what a build produces, so old indexes are rebuilt.
CHUNKING = {
    "parser_version": 9,
    "max_window_sentences": 3,
    "max_quote_chars": 600,
    "max_unit_chars": 400,
    # a window of a document that is not an interview is embedded with its place in the document: its vector leans
    # this far toward the vector of its "Title › Section" heading path (measured on the dev set, `make eval`)
    "heading_blend": 0.3,
}
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


@dataclass(frozen=True)
class ParagraphRecord:
    doc: int
    text: str
    section: tuple[str, ...]
    speaker: str | None
    kind: str
    sentences: tuple[tuple[int, int], ...]
    section_id: int
    code: tuple[Span, ...] = ()  # inline code in `text`
    follow: tuple[Block, ...] = ()  # the list or code a lead-in paragraph introduces


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
    embedded_documents: int = 0  # documents parsed and embedded by this build; the others were reused
    embedded_texts: int = 0
    ignored: list[str] = field(default_factory=list)  # files the corpus's .botignore keeps out
    authority: dict[str, float] = field(default_factory=dict)  # documents whose front matter sets another authority


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


def staleness(manifest: dict[str, Any], corpus_dir: Path, embedder: TextEncoder) -> str | None:
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
    embedder: TextEncoder,
    progress: Callable[[int, int], None] | None = None,
    wait: bool = True,
    previous: PassageIndex | None = None,
    reuse: bool = True,
) -> BuildReport:
    """Build the index of `corpus_dir` and make it live. The CLI, the Discord /reindex and corpus changes all call
    this.

    Incremental: a document whose bytes are unchanged since the live build keeps its passages and vectors from that
    build (`previous`, or the live build read from disk), and a file skipped before and unchanged keeps its reason,
    so only new and changed documents are parsed and embedded. Each document is embedded on its own, in a fixed
    order, so the result is the same as a full rebuild's. `reuse=False` embeds everything again. `progress(done,
    total)` is called as texts are embedded. Raises CorpusError when nothing can be indexed, in which case the
    previous index stays live.
    """
    started = time.monotonic()
    with build_lock(index_dir, wait=wait):
        hashes = corpus_hashes(corpus_dir)
        manifest = previous.manifest if previous is not None else _live_manifest(index_dir)
        old_files: dict[str, str] = manifest.get("indexed", {})
        earlier: dict[str, str] = manifest.get("indexed_at", {})
        reuse = reuse and _reusable(manifest, embedder)
        reusable = _reusable_parts(previous, index_dir) if reuse else {}
        old_skips = {s["name"]: s["reason"] for s in manifest.get("skipped", [])} if reuse else {}
        old_hashes: dict[str, str] = manifest.get("files", {})
        parts: list[_Part] = []
        skipped: list[SkippedFile] = []
        files, ignored = corpus_listing(corpus_dir)
        for path in files:
            name = path.relative_to(corpus_dir).as_posix()
            digest = hashes.get(name)
            if name in reusable and reusable[name].record["digest"] == digest:
                parts.append(reusable[name])
            elif name in old_skips and old_hashes.get(name) == digest:
                skipped.append(SkippedFile(name, old_skips[name]))
            else:
                try:
                    parts.append(_chunk(load_document(path, name)))
                except SkippedFileError as exc:
                    skipped.append(SkippedFile(name, str(exc)))
        if not parts:
            detail = "; ".join(f"{s.name}: {s.reason}" for s in skipped) or "it holds no .md or .txt files"
            raise CorpusError(f"Nothing to index in {corpus_dir}: {detail}.")
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        # when each document's current text was first indexed: kept across rebuilds while the document is unchanged
        indexed_at = {
            p.name: earlier[p.name] if old_files.get(p.name) == p.record["digest"] and p.name in earlier else now
            for p in parts
        }
        build = index_dir / f"build-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        try:
            embedded = _embed_parts(parts, embedder, progress)
            counts = _write_build(build, corpus_dir, parts, skipped, hashes, embedder, indexed_at, ignored)
            _swap_in(index_dir, build)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        _remove_old_builds(index_dir, keep=build)
    current = {p.name: p.record["digest"] for p in parts}
    return BuildReport(
        documents=len(parts),
        paragraphs=counts["paragraphs"],
        windows=counts["windows"],
        skipped=skipped,
        added=sorted(set(current) - set(old_files)),
        changed=sorted(n for n in current if n in old_files and old_files[n] != current[n]),
        removed=sorted(set(old_files) - set(current)),
        seconds=time.monotonic() - started,
        path=build,
        embedded_documents=sum(1 for p in parts if p.fresh),
        embedded_texts=embedded,
        ignored=ignored,
        authority={p.name: p.record["authority"] for p in parts if p.record.get("authority", 1.0) != 1.0},
    )


def _live_manifest(index_dir: Path) -> dict[str, Any]:
    try:
        build = current_build(index_dir)
        return read_manifest(build) if build else {}
    except IndexError_:
        return {}


@dataclass
class _Part:
    """One document's share of a build: its record, paragraphs (section ids local to it), section texts, windows
    (paragraph numbers local to it) and, once embedded, the vectors of each."""

    record: dict[str, Any]
    paragraphs: list[dict[str, Any]]
    sections: list[str]
    windows: np.ndarray  # (n, 3) int32: local paragraph, first sentence, length
    window_texts: list[str] | None = None
    window_vectors: np.ndarray | None = None
    paragraph_vectors: np.ndarray | None = None
    section_vectors: np.ndarray | None = None
    fresh: bool = True  # parsed and embedded by this build (not taken from the previous one)

    @property
    def name(self) -> str:
        return self.record["name"]


def _reusable(manifest: dict[str, Any], embedder: TextEncoder) -> bool:
    """Can a build reuse what `manifest`'s build parsed and embedded? Only with the same model, runtime, chunking
    and versions of the bot, Python and every library that parses or embeds (else the build is a full one)."""
    model = manifest.get("model", {})
    return (
        bool(manifest)
        and model.get("fingerprint") == embedder.fingerprint
        and model.get("runtime") == embedder.runtime
        and manifest.get("chunking") == CHUNKING
        and manifest.get("versions") == library_versions()
    )


def _reusable_parts(previous: PassageIndex | None, index_dir: Path) -> dict[str, _Part]:
    """The documents of the live build (`previous`, else read from disk), by name."""
    if previous is None:
        try:
            previous = load_index(index_dir)
        except IndexError_ as exc:
            log.warning("not reusing the live build (%s); embedding everything", exc)
            return {}
    return _parts_of(previous)


def _parts_of(index: PassageIndex) -> dict[str, _Part]:
    """Cut a loaded index back into its documents (paragraphs, windows and sections of a document are contiguous)."""
    para_doc = np.fromiter((p.doc for p in index.paragraphs), dtype=np.int64, count=len(index.paragraphs))
    docs = np.arange(len(index.documents))
    para_lo, para_hi = np.searchsorted(para_doc, docs, "left"), np.searchsorted(para_doc, docs, "right")
    win_lo = np.searchsorted(index.window_para, para_lo, "left")
    win_hi = np.searchsorted(index.window_para, para_hi, "left")
    parts = {}
    for d, record in enumerate(index.documents):
        paras = index.paragraphs[para_lo[d] : para_hi[d]]
        first_section = min((p.section_id for p in paras), default=0)
        last_section = max((p.section_id for p in paras), default=-1)
        windows = np.stack(
            [
                index.window_para[win_lo[d] : win_hi[d]] - para_lo[d],
                index.window_first[win_lo[d] : win_hi[d]],
                index.window_len[win_lo[d] : win_hi[d]],
            ],
            axis=1,
        ).astype(np.int32)
        parts[record["name"]] = _Part(
            record=dict(record),
            paragraphs=[
                {
                    "doc": d,
                    "text": p.text,
                    "section": list(p.section),
                    "speaker": p.speaker,
                    "kind": p.kind,
                    "sentences": [list(s) for s in p.sentences],
                    "section_id": p.section_id - first_section,
                    "code": [list(c) for c in p.code],
                    "follow": [_block_json(b) for b in p.follow],
                }
                for p in paras
            ],
            sections=index.sections[first_section : last_section + 1],
            windows=windows,
            window_vectors=index.window_vectors[win_lo[d] : win_hi[d]],
            paragraph_vectors=index.paragraph_vectors[para_lo[d] : para_hi[d]],
            section_vectors=index.section_vectors[first_section : last_section + 1],
            fresh=False,
        )
    return parts


def _block_json(block: Block) -> list[Any]:
    return [block.kind, block.text, [list(c) for c in block.code], block.depth]


def _block_of(item: list[Any]) -> Block:
    kind, text, code, depth = item
    return Block(kind, text, tuple((s, e) for s, e in code), depth)


def _chunk(doc: Document) -> _Part:
    """A parsed document cut into paragraphs of sentence units and windows of 1-3 of them."""
    paragraphs: list[dict[str, Any]] = []
    sections: dict[tuple[str, ...], int] = {}
    windows: list[tuple[int, int, int]] = []
    texts: list[str] = []
    for para in doc.paragraphs:
        spans = tuple(unit_spans(para.text))
        if not spans:
            continue
        if para.section not in sections:
            sections[para.section] = len(sections)
        p = len(paragraphs)
        paragraphs.append(
            {
                "doc": 0,
                "text": para.text,
                "section": list(para.section),
                "speaker": para.speaker,
                "kind": para.kind,
                "sentences": [list(s) for s in spans],
                "section_id": sections[para.section],
                "code": [list(c) for c in para.code],
                "follow": [_block_json(b) for b in para.follow],
            }
        )
        for first, length in windows_of(spans):
            windows.append((p, first, length))
            texts.append(para.text[spans[first][0] : spans[first + length - 1][1]])
    record = {
        "name": doc.name,
        "title": doc.title,
        "url": doc.url,
        "speaker": doc.speaker,
        "interviewer": doc.interviewer,
        "is_interview": doc.is_interview,
        "digest": doc.digest,
        "about": doc.about,
        "authority": doc.authority,
        "english": round(english_share(" ".join(p.text for p in doc.paragraphs)), 3),
    }
    return _Part(
        record=record,
        paragraphs=paragraphs,
        # an interview's heading is the question its paragraphs answer; elsewhere a heading is read with its title
        sections=[
            " › ".join(section if doc.is_interview else (doc.title, *section)) if section else doc.title
            for section in sections
        ],
        windows=np.asarray(windows, dtype=np.int32).reshape(-1, 3),
        window_texts=texts,
    )


EMBED_BATCH = 32  # with texts sorted by length, small batches pad least (measured fastest on this model)


def _embed_parts(parts: list[_Part], embedder: TextEncoder, progress: Callable[[int, int], None] | None) -> int:
    """Embed the fresh documents, one document at a time: its distinct texts (windows, paragraphs, headings) sorted
    by length in fixed-size batches. Batches never mix documents, so a document's vectors do not depend on what else
    is in the corpus, and an incremental build gives exactly what a full one would. Returns the texts embedded."""
    todo = []
    for part in parts:
        if part.fresh:
            texts = [*(part.window_texts or []), *(p["text"] for p in part.paragraphs), *part.sections]
            todo.append((part, texts, sorted(set(texts), key=lambda t: (len(t), t))))
    total = sum(len(unique) for _, _, unique in todo)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    if progress:
        progress(0, total)
    for part, texts, unique in todo:
        if not unique:  # a document whose paragraphs hold no sentence: nothing to embed, nothing to search
            part.window_vectors = part.paragraph_vectors = part.section_vectors = np.zeros((0, 0), np.float32)
            continue
        vectors = embedder.encode(unique, batch_size=EMBED_BATCH, progress=tick)
        row = {text: i for i, text in enumerate(unique)}
        everything = vectors[[row[t] for t in texts]]
        n_windows, n_paras = len(part.windows), len(part.paragraphs)
        part.window_vectors = everything[:n_windows]
        part.paragraph_vectors = everything[n_windows : n_windows + n_paras]
        part.section_vectors = everything[n_windows + n_paras :]
        if not part.record["is_interview"]:
            _lean_to_headings(part)
        part.window_texts = None
    return total


def _lean_to_headings(part: _Part) -> None:
    """Blend each window's vector with its heading path's (`CHUNKING["heading_blend"]`), so a passage is found by
    what its section is about as well as by its own words. A one-sentence paragraph's vector stays its window's."""
    assert part.window_vectors is not None and part.paragraph_vectors is not None and part.section_vectors is not None
    section_of = np.array([p["section_id"] for p in part.paragraphs], dtype=np.int64)
    paragraph_of = part.windows[:, 0]
    blended = part.window_vectors + CHUNKING["heading_blend"] * part.section_vectors[section_of[paragraph_of]]
    blended /= np.maximum(np.linalg.norm(blended, axis=1, keepdims=True), 1e-12)
    singles = [
        (w, int(p))
        for w, (p, first, length) in enumerate(part.windows.tolist())
        if first == 0 and length == len(part.paragraphs[p]["sentences"]) == 1
    ]
    if singles:
        windows, paragraphs = zip(*singles, strict=True)
        part.paragraph_vectors[list(paragraphs)] = blended[list(windows)]
    part.window_vectors = blended.astype(np.float32)


def _write_build(
    build: Path,
    corpus_dir: Path,
    parts: list[_Part],
    skipped: list[SkippedFile],
    hashes: dict[str, str],
    embedder: TextEncoder,
    indexed_at: dict[str, str],
    ignored: list[str],
) -> dict[str, int]:
    import faiss

    bm25s = import_bm25s()
    build.mkdir()
    paragraphs: list[dict[str, Any]] = []
    sections: list[str] = []
    windows = []
    for d, part in enumerate(parts):
        for para in part.paragraphs:
            paragraphs.append({**para, "doc": d, "section_id": para["section_id"] + len(sections)})
        windows.append(part.windows + np.array([len(paragraphs) - len(part.paragraphs), 0, 0], dtype=np.int32))
        sections += part.sections
    window_rows = np.concatenate(windows).astype(np.int32)
    # each kind of vector is gathered, written and let go in turn, so at most one extra copy is held at a time
    window_vectors = _take(parts, "window_vectors")
    dimension = int(window_vectors.shape[1])
    index = faiss.IndexFlatIP(dimension)
    index.add(window_vectors)
    del window_vectors
    faiss.write_index(index, str(build / "windows.faiss"))
    del index
    np.save(build / "paragraphs.npy", _take(parts, "paragraph_vectors"))
    np.save(build / "sections.npy", _take(parts, "section_vectors"))
    np.save(build / "windows.npy", window_rows)

    tokens = []
    for p, first, length in window_rows:
        para = paragraphs[p]
        spans = para["sentences"]
        tokens.append(search_tokens(para["text"][spans[first][0] : spans[first + length - 1][1]]) or ["\x00"])
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    retriever.save(str(build / "bm25"), show_progress=False)

    _write_json(
        build / "passages.json",
        {"documents": [p.record for p in parts], "paragraphs": paragraphs, "sections": sections},
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
            "dimension": dimension,
            "normalized": True,
            "runtime": embedder.runtime,
        },
        "chunking": CHUNKING,
        "files": hashes,
        "indexed": {p.name: p.record["digest"] for p in parts},
        "indexed_at": indexed_at,
        "skipped": [{"name": s.name, "reason": s.reason} for s in skipped],
        "ignored": ignored,
        "counts": {
            "documents": len(parts),
            "paragraphs": len(paragraphs),
            "sections": len(sections),
            "windows": len(window_rows),
        },
        "versions": library_versions(),
        "checksums": checksums,
    }
    _write_json(build / "manifest.json", manifest)
    return {"paragraphs": len(paragraphs), "windows": len(window_rows)}


def _take(parts: list[_Part], kind: str) -> np.ndarray:
    """One kind of vector of every document, in order, as one array; the documents let go of theirs."""
    blocks = [getattr(p, kind) for p in parts]
    for part in parts:
        setattr(part, kind, None)
    return np.ascontiguousarray(np.concatenate([b for b in blocks if b is not None and len(b)]), dtype=np.float32)


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
                code=tuple((s, e) for s, e in p["code"]),
                follow=tuple(_block_of(b) for b in p["follow"]),
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
    embedder: TextEncoder,
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
