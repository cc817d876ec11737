"""Loading: the live build opened as a `PassageIndex`, every file checked first, nothing decoded until it is needed.

Vectors are memory-mapped float16 arrays: a question reads only the rows of its candidates, and processes serving the
same build share the pages. Paragraphs are JSON lines in one file, decoded one at a time when a quote needs them.
What every question needs about every passage (flags, owners, document centroids) was worked out by the build and is
read as compact arrays (`derived.npz`)."""

from __future__ import annotations

import json
import logging
import mmap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from bot.documents import Block, Span
from bot.index.chunking import _block_of
from bot.index.store import IndexCorrupt, current_build, file_sha256, read_manifest


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
    heading: int = -1  # the heading it is under, by number in its document's `headings` (-1: the page top)
    links: tuple[tuple[int, int, str], ...] = ()  # each link's text in `text` and its target as written


def paragraph_record(p: dict[str, Any]) -> ParagraphRecord:
    return ParagraphRecord(
        doc=p["doc"],
        text=p["text"],
        section=tuple(p["section"]),
        speaker=p["speaker"],
        kind=p["kind"],
        sentences=tuple((s, e) for s, e in p["sentences"]),
        section_id=p["section_id"],
        code=tuple((s, e) for s, e in p["code"]),
        follow=tuple(_block_of(b) for b in p["follow"]),
        heading=p.get("heading", -1),
        links=tuple((s, e, str(t)) for s, e, t in p.get("links", ())),
    )


class ParagraphStore(Sequence[ParagraphRecord]):
    """The paragraphs of a build, one JSON object per line of `paragraphs.jsonl`, decoded on access."""

    def __init__(self, path: Path, offsets: np.ndarray) -> None:
        self._offsets = offsets
        self._last: tuple[int, ParagraphRecord] | None = None
        with path.open("rb") as fh:
            self._data: mmap.mmap | bytes = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if offsets[-1] else b""

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, i: int) -> ParagraphRecord: ...
    @overload
    def __getitem__(self, i: slice) -> list[ParagraphRecord]: ...
    def __getitem__(self, i: int | slice) -> ParagraphRecord | list[ParagraphRecord]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        last = self._last
        if last is not None and last[0] == i:  # the windows of one paragraph are read one after another
            return last[1]
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        record = paragraph_record(json.loads(self._data[start:end]))
        self._last = (i, record)
        return record

    def __iter__(self) -> Iterator[ParagraphRecord]:
        for i in range(len(self)):
            yield self[i]

    def raw(self, start: int, stop: int) -> bytes:
        """Paragraphs `start:stop` as the build wrote them: JSON lines, each ending in a newline."""
        return bytes(self._data[int(self._offsets[start]) : int(self._offsets[stop])])


@dataclass
class PassageIndex:
    """Everything a query needs: small arrays in memory, vectors and texts mapped from the build's files."""

    path: Path
    manifest: dict[str, Any]
    documents: list[dict[str, Any]]
    paragraphs: Sequence[ParagraphRecord]
    sections: list[str]
    window_para: np.ndarray  # paragraph of each window
    window_first: np.ndarray  # first sentence of each window within its paragraph
    window_len: np.ndarray  # number of sentences in each window
    window_index: Any  # FAISS index over the window vectors: exact below a size, approximate above (see build)
    window_vectors: np.ndarray  # float16, memory-mapped
    paragraph_vectors: np.ndarray
    section_vectors: np.ndarray
    bm25: Any  # bm25s.BM25 over window tokens
    derived: dict[str, np.ndarray] = field(default_factory=dict)  # what the build worked out (see `derive`)
    search_ids: np.ndarray | None = None  # the search index's entries -> windows (-1: stale), when it was reused
    notes: dict[str, Any] = field(default_factory=dict)  # the same, for lists of text

    def window_text(self, w: int) -> str:
        para = self.paragraphs[int(self.window_para[w])]
        first = int(self.window_first[w])
        start = para.sentences[first][0]
        end = para.sentences[first + int(self.window_len[w]) - 1][1]
        return para.text[start:end]

    @property
    def size(self) -> int:
        return len(self.window_para)


def import_bm25s() -> Any:
    """bm25s, imported lazily; it sets its logger to DEBUG on import, which would flood stderr."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


# files checked against their checksum at every load; the vector files are checked by size (a full hash of hundreds
# of megabytes would cost most of a cold start), and by their checksum when the build is written and verified; so is
# reuse.npz, which only the next build reads
_SIZE_CHECKED = ("windows.f16.npy", "paragraphs.f16.npy", "sections.f16.npy", "windows.faiss", "reuse.npz")


def load_index(index_dir: Path) -> PassageIndex:
    """Load the live build; raises IndexCorrupt (or IndexError_) with a reason instead of a traceback."""
    build = current_build(index_dir)
    if build is None:
        raise IndexCorrupt("no index has been built yet")
    if not build.is_dir():
        raise IndexCorrupt(f"CURRENT names {build.name}, which does not exist")
    return open_build(build)


def open_build(build: Path, verify: bool = True, derived: bool = True) -> PassageIndex:
    """Open one build directory (checked first when `verify`); `derived=False` while the build itself is written."""
    import faiss

    bm25s = import_bm25s()
    manifest = read_manifest(build) if verify else {}
    if verify:
        sizes = manifest.get("sizes", {})
        for rel, expected in manifest.get("checksums", {}).items():
            path = build / rel
            try:
                ok = path.stat().st_size == sizes.get(rel) if rel in _SIZE_CHECKED else file_sha256(path) == expected
            except OSError as exc:
                raise IndexCorrupt(f"{rel} of {build.name} cannot be read ({exc.strerror or exc})") from exc
            if not ok:
                raise IndexCorrupt(f"{rel} of {build.name} does not match its checksum")
    try:
        data = json.loads((build / "documents.json").read_text(encoding="utf-8"))
        windows = np.load(build / "windows.npy")
        offsets = np.load(build / "paragraphs.offsets.npy")
        paragraphs = ParagraphStore(build / "paragraphs.jsonl", offsets)
        window_vectors = _vectors(build / "windows.f16.npy")
        paragraph_vectors = _vectors(build / "paragraphs.f16.npy")
        section_vectors = _vectors(build / "sections.f16.npy")
        window_index = faiss.read_index(str(build / "windows.faiss")) if (build / "windows.faiss").exists() else None
        bm25 = bm25s.BM25.load(str(build / "bm25"), mmap=True, show_progress=False)
        search_ids = np.load(build / "search_ids.npy") if (build / "search_ids.npy").exists() else None
        arrays: dict[str, np.ndarray] = {}
        notes: dict[str, Any] = {}
        if derived:
            with np.load(build / "derived.npz") as npz:
                arrays = {key: npz[key] for key in npz.files}
            notes = json.loads((build / "derived.json").read_text(encoding="utf-8"))
    except Exception as exc:  # any unreadable piece means the build is unusable
        raise IndexCorrupt(f"{build.name} could not be read ({exc.__class__.__name__}: {exc})") from exc
    counts = manifest.get("counts", {}) if verify else {}
    if verify and not (
        (
            window_index is not None
            and window_index.ntotal == (len(windows) if search_ids is None else len(search_ids))
            and len(windows) == counts.get("windows") == len(window_vectors)
        )
        and len(paragraphs) == len(paragraph_vectors) == counts.get("paragraphs")
        and len(data["sections"]) == len(section_vectors)
        and all(len(arrays.get(k, ())) == len(windows) for k in ("window_flags",))
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
        window_vectors=window_vectors,
        paragraph_vectors=paragraph_vectors,
        section_vectors=section_vectors,
        bm25=bm25,
        derived=arrays,
        notes=notes,
        search_ids=search_ids,
    )


def _vectors(path: Path) -> np.ndarray:
    """A float16 matrix, memory-mapped (read whole when it holds no rows: there is nothing to map). Returned as a
    plain array over the mapping: numpy's memmap class adds a cost to every slice a question takes."""
    return np.load(path) if path.stat().st_size < 4096 else np.asarray(np.load(path, mmap_mode="r"))
