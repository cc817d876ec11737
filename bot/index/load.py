"""Loading: the live build read back into memory as a `PassageIndex`, every file checked against its checksum first."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def import_bm25s() -> Any:
    """bm25s, imported lazily; it sets its logger to DEBUG on import, which would flood stderr."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


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
