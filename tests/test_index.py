import json
from pathlib import Path

import numpy as np
import pytest

from bot.documents import CorpusError
from bot.embedding import Embedder
from bot.index import (
    BuildBusy,
    IndexError_,
    build_index,
    build_lock,
    current_build,
    ensure_index,
    load_index,
)


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "welcome.md").write_text(
        "---\ntitle: Welcome\n---\n\n## Joining\n\nEveryone is welcome to join the weekly meeting. "
        "Notes are taken in a shared document.\n\n## Reviews\n\nEvery change needs one review from an owner.\n",
        encoding="utf-8",
    )
    (corpus / "faq.txt").write_text("FAQ\n\nThe mailing list is the best place to ask long questions.\n")
    return corpus


class CrashingEmbedder(Embedder):
    """The real model, but the build dies after the first batch, as if the process were killed mid-build."""

    def encode(self, texts, batch_size=64, progress=None):
        raise KeyboardInterrupt("simulated interruption")


def test_build_writes_a_self_describing_index(tiny_corpus: Path, tmp_path: Path, embedder: Embedder):
    report = build_index(tiny_corpus, tmp_path / "index", embedder)
    assert (report.documents, report.added, report.skipped) == (2, ["faq.txt", "welcome.md"], [])
    build = current_build(tmp_path / "index")
    assert build == report.path and build.is_dir()
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["model"]["dimension"] == 384 and manifest["model"]["fingerprint"] == embedder.fingerprint
    assert set(manifest["files"]) == {"faq.txt", "welcome.md"}
    assert manifest["chunking"]["max_quote_chars"] == 600
    assert {"faiss-cpu", "sentence-transformers", "torch", "numpy", "python"} <= set(manifest["versions"])
    index = load_index(tmp_path / "index")
    assert index.window_index.ntotal == index.size == manifest["counts"]["windows"] > 0
    assert index.documents[1]["title"] == "Welcome"


def test_ensure_index_reuses_a_fresh_index_and_rebuilds_a_stale_one(
    tiny_corpus: Path, tmp_path: Path, embedder: Embedder
):
    messages: list[str] = []
    first = ensure_index(tiny_corpus, tmp_path / "index", embedder, notify=messages.append)
    again = ensure_index(tiny_corpus, tmp_path / "index", embedder, notify=messages.append)
    assert again.path == first.path and messages == ["Building the index (no index has been built yet)."]

    (tiny_corpus / "faq.txt").write_text("FAQ\n\nThe forum is now the best place to ask long questions.\n")
    updated = ensure_index(tiny_corpus, tmp_path / "index", embedder, notify=messages.append)
    assert messages[-1] == "Building the index (the corpus changed)."
    assert updated.path != first.path and not first.path.exists()  # the old build is cleaned up after the swap
    assert any("forum" in p.text for p in updated.paragraphs)


def test_corrupt_index_is_detected_and_rebuilt(tiny_corpus: Path, tmp_path: Path, embedder: Embedder):
    build_index(tiny_corpus, tmp_path / "index", embedder)
    build = current_build(tmp_path / "index")
    (build / "windows.faiss").write_bytes(b"garbage")
    messages: list[str] = []
    index = ensure_index(tiny_corpus, tmp_path / "index", embedder, notify=messages.append)
    assert messages == [
        f"Building the index (the index is corrupt: windows.faiss of {build.name} does not match its checksum)."
    ]
    assert index.size > 0


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_passages_or_vectors_are_detected(tiny_corpus: Path, tmp_path: Path, embedder: Embedder, damage: str):
    """A cut vector file fails its size check; a changed byte in the paragraphs fails their checksum."""
    build_index(tiny_corpus, tmp_path / "index", embedder)
    build = current_build(tmp_path / "index")
    name = "windows.f16.npy" if damage == "truncate" else "paragraphs.jsonl"
    data = (build / name).read_bytes()
    (build / name).write_bytes(data[:-64] if damage == "truncate" else data.replace(b"e", b"E", 1))
    messages: list[str] = []
    index = ensure_index(tiny_corpus, tmp_path / "index", embedder, notify=messages.append)
    assert messages == [
        f"Building the index (the index is corrupt: {name} of {build.name} does not match its checksum)."
    ]
    assert index.size > 0 and index.path != build


def test_a_loaded_index_decodes_paragraphs_on_demand(tiny_corpus: Path, tmp_path: Path, embedder: Embedder):
    build_index(tiny_corpus, tmp_path / "index", embedder)
    index = load_index(tmp_path / "index")
    assert isinstance(index.window_vectors, np.ndarray) and index.window_vectors.dtype == np.float16
    assert not index.window_vectors.flags.owndata  # a view over the mapped file, not a copy in memory
    paragraphs = list(index.paragraphs)
    assert len(paragraphs) == len(index.paragraphs) == index.manifest["counts"]["paragraphs"]
    assert index.paragraphs[-1] == paragraphs[-1] and index.paragraphs[1:3] == paragraphs[1:3]
    assert index.window_text(0) in paragraphs[int(index.window_para[0])].text
    with pytest.raises(IndexError):
        index.paragraphs[len(paragraphs)]


def test_interrupted_build_keeps_the_last_good_index(tiny_corpus: Path, tmp_path: Path, embedder: Embedder):
    build_index(tiny_corpus, tmp_path / "index", embedder)
    good = current_build(tmp_path / "index")
    (tiny_corpus / "new.md").write_text("A brand new document with enough words to index.\n")
    with pytest.raises(KeyboardInterrupt):
        build_index(tiny_corpus, tmp_path / "index", CrashingEmbedder(embedder.model_dir))
    assert current_build(tmp_path / "index") == good
    assert sorted(p.name for p in (tmp_path / "index").iterdir() if p.name.startswith("build-")) == [good.name]
    assert load_index(tmp_path / "index").path == good


def test_empty_corpus_is_refused_and_the_old_index_kept(tiny_corpus: Path, tmp_path: Path, embedder: Embedder):
    build_index(tiny_corpus, tmp_path / "index", embedder)
    good = current_build(tmp_path / "index")
    for path in tiny_corpus.iterdir():
        path.unlink()
    (tiny_corpus / "blank.md").write_text("\n")
    with pytest.raises(CorpusError, match=r"Nothing to index in .*blank.md: empty file"):
        build_index(tiny_corpus, tmp_path / "index", embedder)
    assert current_build(tmp_path / "index") == good


def test_unusable_index_path_is_a_clear_error(tiny_corpus: Path, tmp_path: Path, embedder: Embedder):
    (tmp_path / "index").write_text("not a directory")
    with pytest.raises(IndexError_, match="is not a directory"):
        ensure_index(tiny_corpus, tmp_path / "index", embedder, notify=print)


def test_a_second_build_is_told_one_is_running(tiny_corpus: Path, tmp_path: Path, embedder: Embedder):
    with build_lock(tmp_path / "index"), pytest.raises(BuildBusy):
        build_index(tiny_corpus, tmp_path / "index", embedder, wait=False)


def test_report_lists_added_changed_and_removed(tiny_corpus: Path, tmp_path: Path, embedder: Embedder):
    build_index(tiny_corpus, tmp_path / "index", embedder)
    (tiny_corpus / "faq.txt").unlink()
    (tiny_corpus / "welcome.md").write_text("# Welcome\n\nEveryone is welcome, and reviews are friendly.\n")
    (tiny_corpus / "extra.md").write_text("# Extra\n\nAn extra document with a few words.\n")
    report = build_index(tiny_corpus, tmp_path / "index", embedder)
    assert (report.added, report.changed, report.removed) == (["extra.md"], ["welcome.md"], ["faq.txt"])
