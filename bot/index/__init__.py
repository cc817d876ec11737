"""The passage index: corpus → sentences → windows → vectors, saved under `embeddings/` and swapped in atomically.

Layout of the index directory:

    CURRENT                 name of the live build (replaced atomically with os.replace)
    build-<time>-<id>/      one complete build: manifest.json, passages.json, windows.faiss (window vectors),
                            windows.npy (paragraph, first sentence, length of each window), paragraphs.npy,
                            sections.npy, bm25/, derived.npz and derived.json (see derive.py), reuse.npz and
                            reuse.json (what the next build copies instead of working it out again)
    .lock                   held while a build runs, so two builds never interleave

A build is written into a fresh `build-*` directory; only when every file is on disk does CURRENT move to it.
An interrupted or failed build leaves CURRENT (and so the last good index) untouched.

The modules: `chunking.py` cuts a document into paragraphs and windows, `store.py` keeps the index directory
(fingerprints, CURRENT, manifests, the lock, the swap), `build.py` builds incrementally (and `ensure_index`),
`derive.py` works out what every question needs about every passage, `lexical.py` counts terms and writes BM25, and
`load.py` reads the live build back. Other code imports from `bot.index`, which re-exports what it uses.
"""

from bot.index.build import EMBED_BATCH, BuildReport, build_index, ensure_index
from bot.index.chunking import CHUNKING, _chunk, unit_spans, windows_of
from bot.index.load import ParagraphRecord, PassageIndex, import_bm25s, load_index
from bot.index.roots import Root, link_of, roots_of
from bot.index.store import (
    INDEX_FORMAT,
    BuildBusy,
    IndexCorrupt,
    IndexError_,
    build_lock,
    corpus_hashes,
    current_build,
    encoder_mismatch,
    file_sha256,
    fsync_path,
    library_versions,
    read_manifest,
    staleness,
)

__all__ = [
    "CHUNKING",
    "EMBED_BATCH",
    "INDEX_FORMAT",
    "BuildBusy",
    "BuildReport",
    "IndexCorrupt",
    "IndexError_",
    "ParagraphRecord",
    "PassageIndex",
    "Root",
    "_chunk",  # the corpus checks and the benchmarks cut documents exactly as a build does
    "build_index",
    "build_lock",
    "corpus_hashes",
    "current_build",
    "encoder_mismatch",
    "ensure_index",
    "file_sha256",
    "fsync_path",
    "import_bm25s",
    "library_versions",
    "link_of",
    "load_index",
    "read_manifest",
    "roots_of",
    "staleness",
    "unit_spans",
    "windows_of",
]
