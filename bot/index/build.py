"""Building: `build_index` reuses the live build's unchanged documents, parses and embeds the new and changed ones
(each window leaning toward its heading path), writes a fresh build directory and swaps it in; `ensure_index` loads
the index, first building it when it is missing, stale or corrupt."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.documents import CorpusError, SkippedFile, SkippedFileError, load_document
from bot.embedding import TextEncoder
from bot.index.chunking import CHUNKING, Reused, _chunk, _Part
from bot.index.derive import Layout, Previous, derive
from bot.index.lexical import Terms, join, write_bm25
from bot.index.load import ParagraphStore, PassageIndex, load_index, open_build
from bot.index.roots import Root, hashes_of, list_documents, roots_of, set_page
from bot.index.store import (
    INDEX_FORMAT,
    IndexCorrupt,
    IndexError_,
    _remove_old_builds,
    _swap_in,
    _write_json,
    build_lock,
    current_build,
    file_sha256,
    library_versions,
    read_manifest,
    staleness,
)
from bot.text import search_tokens
from bot.timing import lap

log = logging.getLogger("bot.index")  # the package's name, which log lines carried before it was split into modules


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


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: TextEncoder,
    progress: Callable[[int, int], None] | None = None,
    wait: bool = True,
    previous: PassageIndex | None = None,
    reuse: bool = True,
    sources: Sequence[Root] | None = None,
) -> BuildReport:
    """Build the index of `corpus_dir` and make it live. The CLI, the Discord /reindex and corpus changes all call
    this.

    Incremental: a document whose bytes are unchanged since the live build keeps its passages and vectors from that
    build (`previous`, or the live build read from disk), and a file skipped before and unchanged keeps its reason,
    so only new and changed documents are parsed and embedded. Each document is embedded on its own, in a fixed
    order, so the result is the same as a full rebuild's. `reuse=False` embeds everything again. `progress(done,
    total)` is called as texts are embedded. Raises CorpusError when nothing can be indexed, in which case the
    previous index stays live.

    Besides `corpus_dir`, the build reads the synced sources' checkouts: `sources` when given (a sync gives the
    checkouts it just validated), else those the live build read.
    """
    started = time.monotonic()
    with build_lock(index_dir, wait=wait):
        manifest = previous.manifest if previous is not None else _live_manifest(index_dir)
        roots = list(sources) if sources is not None else roots_of(manifest)
        listed, ignored = list_documents(corpus_dir, roots)
        hashes = hashes_of(listed)
        old_files: dict[str, str] = manifest.get("indexed", {})
        earlier: dict[str, str] = manifest.get("indexed_at", {})
        reuse = reuse and _reusable(manifest, embedder)
        reusable, live = _reusable_parts(previous, index_dir) if reuse else ({}, None)
        old_skips = {s["name"]: s["reason"] for s in manifest.get("skipped", [])} if reuse else {}
        old_hashes: dict[str, str] = manifest.get("files", {})
        # a source whose authority changed: its documents are parsed again (their records carry it)
        old_authority = {r.name: r.authority for r in roots_of(manifest)}
        reparse = {r.name for r in roots if r.name in old_authority and old_authority[r.name] != r.authority}
        lap("listing")
        parts: list[_Part] = []
        skipped: list[SkippedFile] = []
        for item in listed:
            name, root = item.name, item.root
            digest = hashes.get(name)
            fresh = root is not None and root.name in reparse
            if not fresh and name in reusable and reusable[name].record["digest"] == digest:
                parts.append(reusable[name])
            elif not fresh and name in old_skips and old_hashes.get(name) == digest:
                skipped.append(SkippedFile(name, old_skips[name]))
            else:
                try:
                    authority = root.authority if root else None
                    parts.append(_chunk(load_document(item.path, name, authority, html=root is not None)))
                except SkippedFileError as exc:
                    skipped.append(SkippedFile(name, str(exc)))
            if parts and parts[-1].name == name:
                set_page(parts[-1].record, root)
        lap("parsing")
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
            counts, embedded = _write_build(
                build, corpus_dir, parts, skipped, hashes, embedder, indexed_at, ignored, progress, live, roots
            )
            _swap_in(index_dir, build)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        _remove_old_builds(index_dir, keep=build)
        lap("swap")
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


def _reusable_parts(previous: PassageIndex | None, index_dir: Path) -> tuple[dict[str, _Part], PassageIndex | None]:
    """The documents of the live build (`previous`, else read from disk), by name, and that build."""
    if previous is None:
        try:
            previous = load_index(index_dir)
        except IndexError_ as exc:
            log.warning("not reusing the live build (%s); embedding everything", exc)
            return {}, None
    return _parts_of(previous), previous


def _parts_of(index: PassageIndex) -> dict[str, _Part]:
    """Cut a loaded index back into its documents (paragraphs, windows and sections of a document are contiguous).
    Their paragraphs are not decoded: the build copies them from the index's file."""
    layout = Layout.of(index)
    at = np.searchsorted(index.window_para, layout.paragraphs)  # each document's first window
    parts = {}
    for d, record in enumerate(index.documents):
        para_lo, para_hi = int(layout.paragraphs[d]), int(layout.paragraphs[d + 1])
        section_lo, section_hi = int(layout.sections[d]), int(layout.sections[d + 1])
        win_lo, win_hi = int(at[d]), int(at[d + 1])
        windows = np.stack(
            [
                index.window_para[win_lo:win_hi] - para_lo,
                index.window_first[win_lo:win_hi],
                index.window_len[win_lo:win_hi],
            ],
            axis=1,
        ).astype(np.int32)
        parts[record["name"]] = _Part(
            record=dict(record),
            paragraphs=[],
            sections=index.sections[section_lo:section_hi],
            windows=windows,
            # views of the previous build's mapped vectors: copied into the new build's files, never held whole
            window_vectors=index.window_vectors[win_lo:win_hi],
            paragraph_vectors=index.paragraph_vectors[para_lo:para_hi],
            section_vectors=index.section_vectors[section_lo:section_hi],
            fresh=False,
            reused=Reused(d, win_lo, para_lo, section_lo, para_hi - para_lo),
        )
    return parts


EMBED_BATCH = 32  # with texts sorted by length, small batches pad least (measured fastest on this model)


def _texts_to_embed(parts: list[_Part]) -> int:
    """How many distinct texts the fresh documents hold (each document's texts are embedded on their own)."""
    return sum(
        len({*(part.window_texts or []), *(p["text"] for p in part.paragraphs), *part.sections})
        for part in parts
        if part.fresh
    )


def _embed_part(part: _Part, embedder: TextEncoder, tick: Callable[[int], None]) -> None:
    """Embed one fresh document: its distinct texts (windows, paragraphs, headings) sorted by length in fixed-size
    batches. Batches never mix documents, so a document's vectors do not depend on what else is in the corpus, and
    an incremental build gives exactly what a full one would."""
    texts = [*(part.window_texts or []), *(p["text"] for p in part.paragraphs), *part.sections]
    unique = sorted(set(texts), key=lambda t: (len(t), t))
    part.window_texts = None
    if not unique:  # a document whose paragraphs hold no sentence: nothing to embed, nothing to search
        part.window_vectors = part.paragraph_vectors = part.section_vectors = np.zeros((0, 0), np.float32)
        return
    vectors = embedder.encode(unique, batch_size=EMBED_BATCH, progress=tick)
    row = {text: i for i, text in enumerate(unique)}
    everything = vectors[[row[t] for t in texts]]
    n_windows, n_paras = len(part.windows), len(part.paragraphs)
    part.window_vectors = everything[:n_windows]
    part.paragraph_vectors = everything[n_windows : n_windows + n_paras]
    part.section_vectors = everything[n_windows + n_paras :]
    if not part.record["is_interview"]:
        _lean_to_headings(part)


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
    progress: Callable[[int, int], None] | None = None,
    live: PassageIndex | None = None,
    roots: Sequence[Root] = (),
) -> tuple[dict[str, int], int]:
    """Write a build, streaming: each fresh document is embedded and its vectors written to the build's files
    before the next one is read, so a build holds one document's vectors (plus each window's terms, for BM25)
    rather than the corpus's. A reused document's paragraphs, terms and derived arrays are copied from the live
    build. Returns the counts and the number of texts embedded."""
    build.mkdir()
    total = _texts_to_embed(parts)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    if progress:
        progress(0, total)
    shapes = {
        "windows": sum(len(p.windows) for p in parts),
        "paragraphs": sum(p.reused.paragraphs if p.reused else len(p.paragraphs) for p in parts),
        "sections": sum(len(p.sections) for p in parts),
    }
    # each kind of vector is appended to its .npy file as documents come (plain writes: the pages go to the OS's
    # cache, not to this process's memory, as they would through a writable memory map)
    files: dict[str, Any] = {}

    def open_files(dimension: int) -> None:
        for kind, rows in shapes.items():
            fh = (build / f"{kind}.f16.npy").open("wb")
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)), "fortran_order": False}
            np.lib.format.write_array_header_1_0(fh, {**header, "shape": (rows, dimension)})
            files[kind] = fh

    at = dict.fromkeys(shapes, 0)
    # where the live build's windows are in this one (-1: their document changed or went), and this build's new ones
    moved = np.full(live.size if live is not None else 0, -1, dtype=np.int64)
    fresh_windows: list[np.ndarray] = []
    sections: list[str] = []
    windows = []
    ends: list[np.ndarray] = []  # where each paragraph's line ends in paragraphs.jsonl
    written = 0
    n_paragraphs = 0
    first_paragraph: list[int] = []  # each document's first paragraph and first section
    first_section: list[int] = []
    kept = _reuse_of(live) if live is not None else None  # what the live build kept for this one
    live_terms = Terms.read(kept[0], live.bm25.vocab_dict) if live is not None and kept is not None else None
    terms: list[tuple[Terms, int, int]] = []  # each document's windows' terms, in a table of its own or the live one
    with (build / "paragraphs.jsonl").open("wb") as fh:
        for d, part in enumerate(parts):
            span = np.arange(at["windows"], at["windows"] + len(part.windows))
            if part.fresh:
                _embed_part(part, embedder, tick)
                fresh_windows.append(span)
            elif part.reused is not None and len(moved):
                moved[part.reused.window : part.reused.window + len(span)] = span
            lap("embedding")
            for kind, vectors in (
                ("windows", part.window_vectors),
                ("paragraphs", part.paragraph_vectors),
                ("sections", part.section_vectors),
            ):
                if vectors is not None and len(vectors):
                    if not files:  # the vectors' length is known once the first document's are at hand
                        open_files(int(vectors.shape[1]))
                    files[kind].write(np.ascontiguousarray(vectors, dtype=np.float16).tobytes())
                    at[kind] += len(vectors)
            part.window_vectors = part.paragraph_vectors = part.section_vectors = None
            first_paragraph.append(n_paragraphs)
            first_section.append(len(sections))
            if part.reused is None:
                lines = b"".join(
                    json.dumps(
                        {**p, "doc": d, "section_id": p["section_id"] + len(sections)}, ensure_ascii=False
                    ).encode("utf-8")
                    + b"\n"
                    for p in part.paragraphs
                )
                terms.append((Terms.count(_window_tokens(part)), 0, len(part.windows)))
                n_paragraphs += len(part.paragraphs)
            else:
                assert live is not None and isinstance(live.paragraphs, ParagraphStore)
                was = part.reused
                lines = live.paragraphs.raw(was.paragraph, was.paragraph + was.paragraphs)
                if (was.doc, was.section) != (d, len(sections)):
                    lines = _renumbered(lines, d, len(sections) - was.section)
                n = len(part.windows)
                if live_terms is not None:
                    terms.append((live_terms, was.window, was.window + n))
                else:  # a live build that kept no terms: its windows are read again
                    texts = (live.window_text(w) for w in range(was.window, was.window + n))
                    terms.append((Terms.count(search_tokens(t) for t in texts), 0, n))
                n_paragraphs += was.paragraphs
            fh.write(lines)
            ends.append(written + np.flatnonzero(np.frombuffer(lines, dtype=np.uint8) == ord("\n")) + 1)
            written += len(lines)
            windows.append(part.windows + np.array([first_paragraph[-1], 0, 0], dtype=np.int32))
            lap("writing")
            sections += part.sections
            part.paragraphs = []  # written: the report needs only the document's record
    np.save(build / "paragraphs.offsets.npy", np.concatenate([[0], *ends]).astype(np.int64))
    window_rows = np.concatenate(windows).astype(np.int32)
    np.save(build / "windows.npy", window_rows)
    table = join(terms)
    write_bm25(table, build / "bm25")
    del terms
    lap("bm25")
    if not files:
        open_files(int(embedder.encode(["?"]).shape[1]))
    if at != shapes:
        raise IndexError_(f"the build's vectors do not match its passages ({at} written, {shapes} expected)")
    for fh in files.values():
        fh.close()
    window_vectors = np.load(build / "windows.f16.npy", mmap_mode="r")
    dimension = int(window_vectors.shape[1])
    reuse = (live, moved, np.concatenate([np.zeros(0, np.int64), *fresh_windows])) if live is not None else None
    search = write_search_index(build / "windows.faiss", window_vectors, reuse=reuse)
    lap("graph")
    del window_vectors
    _write_json(build / "documents.json", {"documents": [p.record for p in parts], "sections": sections})
    previous = None
    if live is not None and kept is not None:
        source = np.array([p.reused.doc if p.reused else -1 for p in parts], dtype=np.int64)
        previous = Previous(live, kept[0], kept[1], source)
    layout = Layout(np.array([*first_paragraph, n_paragraphs]), np.array([*first_section, len(sections)]))
    derived = derive(open_build(build, verify=False, derived=False), embedder, layout, previous)
    with (build / "derived.npz").open("wb") as fh:
        np.savez(fh, **derived.arrays)
    _write_json(build / "derived.json", derived.notes)
    with (build / "reuse.npz").open("wb") as fh:
        np.savez(fh, **derived.reuse, **table.arrays())
    _write_json(build / "reuse.json", derived.reuse_notes)
    lap("derived")
    files = [p for p in sorted(build.rglob("*")) if p.is_file()]
    checksums = {p.relative_to(build).as_posix(): file_sha256(p) for p in files}
    manifest = {
        "format": INDEX_FORMAT,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "corpus_dir": str(corpus_dir.resolve()),
        "sources": [r.to_json() for r in roots],
        "model": {
            "name": embedder.name,
            "path": str(embedder.model_dir),
            "fingerprint": embedder.fingerprint,
            "dimension": dimension,
            "normalized": True,
            "runtime": embedder.runtime,
        },
        "chunking": CHUNKING,
        "search": search,
        "files": hashes,
        "indexed": {p.name: p.record["digest"] for p in parts},
        "indexed_at": indexed_at,
        "skipped": [{"name": s.name, "reason": s.reason} for s in skipped],
        "ignored": ignored,
        "counts": {
            "documents": len(parts),
            "paragraphs": n_paragraphs,
            "sections": len(sections),
            "windows": len(window_rows),
        },
        "versions": library_versions(),
        "checksums": checksums,
        "sizes": {p.relative_to(build).as_posix(): p.stat().st_size for p in files},
    }
    _write_json(build / "manifest.json", manifest)
    lap("checksums")
    return {"paragraphs": n_paragraphs, "windows": len(window_rows)}, total


def _window_tokens(part: _Part) -> Iterator[list[str]]:
    """The search tokens of each window of a fresh document."""
    for p, first, length in part.windows.tolist():
        para = part.paragraphs[p]
        spans = para["sentences"]
        yield search_tokens(para["text"][spans[first][0] : spans[first + length - 1][1]])


def _renumbered(lines: bytes, doc: int, shift: int) -> bytes:
    """Paragraphs' JSON lines with their document number set to `doc` and their section numbers moved by `shift`,
    without decoding them. Each line is as `_write_build` wrote it: `{"doc": N, ` first and `"section_id": N,` further
    on; a quote inside a JSON string is always escaped, so `, "section_id": ` appears nowhere else."""
    out = []
    for line in lines.split(b"\n")[:-1]:
        if not line.startswith(b'{"doc": '):
            raise IndexError_("the live build's paragraphs are not in the expected form")
        head = line.index(b", ")
        at = line.index(b', "section_id": ', head) + len(b', "section_id": ')
        end = line.index(b",", at)
        out.append(b'{"doc": %d%b%d%b\n' % (doc, line[head:at], int(line[at:end]) + shift, line[end:]))
    return b"".join(out)


def _reuse_of(live: PassageIndex) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """What the live build kept for the next one (`reuse.npz`, `reuse.json`: window terms, what its derivation
    copies), or None when it kept nothing (built before these files were written) or they cannot be read; the
    build then reads the live build's paragraphs again."""
    try:
        with np.load(live.path / "reuse.npz") as npz:
            arrays = {key: npz[key] for key in npz.files}
        notes = json.loads((live.path / "reuse.json").read_text(encoding="utf-8"))
        if (
            len(arrays["term_ptr"]) != live.size + 1
            or len(arrays["para_speaker"]) != len(live.paragraphs)
            or len(notes["section_headings"]) != len(live.sections)
        ):
            raise ValueError("it does not match the build")
    except Exception as exc:  # any unreadable piece: the build works out everything again
        log.warning("not reusing the live build's terms and derived arrays (%s: %s)", exc.__class__.__name__, exc)
        return None
    return arrays, notes


# Below this many windows the search is exact (a flat inner-product index). Above it, an HNSW graph over 8-bit
# scalar-quantised vectors finds the candidates, which are then scored on their float16 vectors. Chosen by
# measurement (`python -m tools.search_choice`, 2026-12-01, on the 105,594 windows of the largest evaluation corpus:
# how often the evaluation questions' exact top window is among the 300 candidates, one thread): an IVF index with
# 8-bit codes (324 lists) keeps 0.929 at 1.1 ms a search (40 probed) and 0.979 at 3.8 ms (160); this graph keeps
# 0.967 at 0.9 ms (search depth 300) and 0.975 at 1.3 ms (500), and its search time grows far slower than the
# corpus. Scored in full, the candidates at depth 300 give the same first answers as scoring every window (`make
# bench` measures the share of exact top-10 answers kept).
EXACT_SEARCH_LIMIT = 20_000
HNSW_NEIGHBOURS = 32
HNSW_BUILD_DEPTH = 64
HNSW_SEARCH_DEPTH = 300


MAX_STALE_SHARE = 0.2  # a reused graph is rebuilt once this share of its entries are passages no longer there


def write_search_index(
    path: Path,
    vectors: np.ndarray,
    exact_limit: int | None = None,
    reuse: tuple[PassageIndex, np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Write the FAISS index that serves dense candidates for `vectors`; returns what it is, for the manifest.

    `reuse` is (the live build, where its windows are in this build or -1, this build's new windows). A live HNSW
    graph is then extended with the new windows instead of built again (seconds instead of a quarter of a minute at
    100,000 windows): entries of windows that are gone stay in the graph, marked stale in `search_ids.npy` (graph
    entry -> window, or -1) and skipped by every search, until they make up `MAX_STALE_SHARE` of it."""
    import faiss

    threads = faiss.omp_get_max_threads()  # serving runs FAISS on one thread; building the graph uses every core
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        return _write_search_index(faiss, path, vectors, exact_limit, reuse)
    finally:
        faiss.omp_set_num_threads(threads)


def _write_search_index(
    faiss: Any,
    path: Path,
    vectors: np.ndarray,
    exact_limit: int | None,
    reuse: tuple[PassageIndex, np.ndarray, np.ndarray] | None,
) -> dict[str, Any]:
    n, dimension = vectors.shape
    if n <= (EXACT_SEARCH_LIMIT if exact_limit is None else exact_limit):
        index = faiss.IndexFlatIP(dimension)
        for start in range(0, n, 20_000):
            index.add(np.ascontiguousarray(vectors[start : start + 20_000], dtype=np.float32))
        faiss.write_index(index, str(path))
        return {"kind": "flat"}
    kind: dict[str, Any] = {"kind": "hnsw-sq8", "neighbours": HNSW_NEIGHBOURS, "search_depth": HNSW_SEARCH_DEPTH}
    if reuse is not None:
        live, moved, fresh = reuse
        if live.manifest.get("search", {}).get("kind") == "hnsw-sq8" and live.size:
            entries = live.search_ids if live.search_ids is not None else np.arange(live.size)
            kept = np.where(entries >= 0, moved[np.maximum(entries, 0)], -1)
            ids = np.concatenate([kept, fresh])
            stale = int((ids < 0).sum())
            if stale <= MAX_STALE_SHARE * len(ids):
                index = faiss.read_index(str(live.path / "windows.faiss"))
                if len(fresh):
                    index.add(np.ascontiguousarray(vectors[fresh], dtype=np.float32))
                faiss.write_index(index, str(path))
                np.save(path.with_name("search_ids.npy"), ids.astype(np.int32))
                return {**kind, "stale": stale}
    index = faiss.IndexHNSWSQ(dimension, faiss.ScalarQuantizer.QT_8bit, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_BUILD_DEPTH
    sample = np.sort(np.random.default_rng(0).choice(n, size=min(n, 50_000), replace=False))
    index.train(np.asarray(vectors[sample], dtype=np.float32))
    for start in range(0, n, 20_000):  # the vectors may be a float16 file: converted a slice at a time
        index.add(np.ascontiguousarray(vectors[start : start + 20_000], dtype=np.float32))
    faiss.write_index(index, str(path))
    return {**kind, "stale": 0}


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
