"""Incremental reindex: only what changed is parsed and embedded, and the result equals a full rebuild's."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.embedding import TextEncoder
from bot.index import build_index, current_build, load_index
from bot.questions import UNRELATED_QUESTIONS
from bot.retrieval import Retriever
from tests.conftest import CORPUS, GUIDES


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    for name in ("first-contribution.md", "non-code-contributions.md", "help-wanted.md"):
        shutil.copy(GUIDES / name, corpus / name)
    (corpus / "notes.md").write_text("---\ntitle: Notes\n---\n\n```\nonly code here\n```\n")  # skipped: no prose
    return corpus


class CountingEncoder:
    """The real encoder, counting the corpus texts it is asked to embed (not the fixed unrelated questions every
    build embeds to set the decline line)."""

    def __init__(self, inner: TextEncoder) -> None:
        self.inner = inner
        self.name, self.fingerprint, self.model_dir = inner.name, inner.fingerprint, inner.model_dir
        self.runtime = inner.runtime
        self.texts: list[str] = []

    def encode(self, texts, batch_size=64, progress=None):
        if list(texts) != list(UNRELATED_QUESTIONS):
            self.texts += texts
        return self.inner.encode(texts, batch_size=batch_size, progress=progress)

    def encode_query(self, text):
        return self.inner.encode_query(text)


def assert_same_index(a: Path, b: Path) -> None:
    """Two index directories hold the same passages, vectors (bit for bit) and BM25 scores."""
    left, right = load_index(a), load_index(b)
    assert left.documents == right.documents
    assert list(left.paragraphs) == list(right.paragraphs)
    assert left.sections == right.sections
    for name in ("window_para", "window_first", "window_len", "window_vectors", "paragraph_vectors"):
        assert np.array_equal(getattr(left, name), getattr(right, name)), name
    assert np.array_equal(left.section_vectors, right.section_vectors)
    for name in left.derived:  # flags, owners, centroids: worked out from the same passages and vectors
        assert np.array_equal(left.derived[name], right.derived[name]), name
    assert left.notes == right.notes
    tokens = ["review", "contribut", "issu"]
    assert np.array_equal(left.bm25.get_scores(tokens), right.bm25.get_scores(tokens))
    keep = ("indexed", "files", "skipped", "counts", "chunking", "search")
    assert {k: left.manifest[k] for k in keep} == {k: right.manifest[k] for k in keep}


@pytest.mark.parametrize("change", ["edit", "add", "remove"])
def test_one_changed_file_is_all_that_is_embedded_and_the_result_equals_a_full_rebuild(
    change: str, corpus: Path, tmp_path: Path, fast_encoder: TextEncoder
):
    build_index(corpus, tmp_path / "index", fast_encoder)
    if change == "edit":
        path = corpus / "help-wanted.md"
        path.write_text(path.read_text() + "\nGood first issues are a gentle way to start reviewing code.\n")
    elif change == "add":
        (corpus / "sub").mkdir()
        (corpus / "sub" / "faq.md").write_text("# FAQ\n\nThe mailing list is the best place for long questions.\n")
    else:
        (corpus / "first-contribution.md").unlink()

    counting = CountingEncoder(fast_encoder)
    report = build_index(corpus, tmp_path / "index", counting)
    expected = {"edit": (1, ["help-wanted.md"]), "add": (1, ["sub/faq.md"]), "remove": (0, [])}[change]
    assert (report.embedded_documents, report.changed + report.added) == expected
    assert report.embedded_texts == len(counting.texts) == len(set(counting.texts))
    if change == "remove":
        assert report.removed == ["first-contribution.md"] and counting.texts == []
    else:  # only the changed document's texts were embedded
        changed = load_index(tmp_path / "index")
        d = next(i for i, doc in enumerate(changed.documents) if doc["name"] == expected[1][0])
        own = {p.text for p in changed.paragraphs if p.doc == d}
        assert own <= set(counting.texts)
        assert len(counting.texts) < changed.size / 3
    assert [s.name for s in report.skipped] == ["notes.md"]

    build_index(corpus, tmp_path / "full", fast_encoder)  # from scratch
    assert_same_index(tmp_path / "index", tmp_path / "full")


def test_reuse_follows_the_live_index_in_memory_and_answers_change(
    corpus: Path, tmp_path: Path, fast_encoder: TextEncoder
):
    build_index(corpus, tmp_path / "index", fast_encoder)
    live = load_index(tmp_path / "index")
    (corpus / "office-hours.md").write_text(
        "# Office hours\n\nNewcomers can bring any question to the monthly office hours on the community calendar.\n"
    )
    (current_build(tmp_path / "index") / "windows.faiss").write_bytes(b"damaged")  # only the copy in memory is good
    counting = CountingEncoder(fast_encoder)
    report = build_index(corpus, tmp_path / "index", counting, previous=live)
    assert report.added == ["office-hours.md"] and report.embedded_documents == 1
    answer = Retriever(load_index(tmp_path / "index"), fast_encoder).answer("when are the office hours?")
    assert answer.answered and answer.results[0].document == "office-hours.md"


def test_a_model_or_runtime_change_embeds_everything(corpus: Path, tmp_path: Path, fast_encoder, embedder):
    build_index(corpus, tmp_path / "index", fast_encoder)
    counting = CountingEncoder(embedder)  # sentence-transformers: same model, another runtime
    report = build_index(corpus, tmp_path / "index", counting)
    assert report.embedded_documents == report.documents == 4
    manifest = json.loads((current_build(tmp_path / "index") / "manifest.json").read_text())
    assert manifest["model"]["runtime"] == "sentence-transformers"


def test_other_library_versions_or_full_embed_everything_and_a_fixed_file_is_read_again(
    corpus: Path, tmp_path: Path, fast_encoder: TextEncoder
):
    build_index(corpus, tmp_path / "index", fast_encoder)
    manifest_path = current_build(tmp_path / "index") / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["versions"]["onnxruntime"] = "0.0.1"  # as if built before an upgrade: its numbers may differ
    manifest_path.write_text(json.dumps(manifest))
    report = build_index(corpus, tmp_path / "index", fast_encoder)
    assert report.embedded_documents == report.documents == 4

    assert build_index(corpus, tmp_path / "index", fast_encoder, reuse=False).embedded_documents == 4
    (corpus / "notes.md").write_text("# Notes\n\nThe notes now hold a sentence about weekly triage meetings.\n")
    report = build_index(corpus, tmp_path / "index", fast_encoder)
    assert (report.changed, report.skipped, report.embedded_documents) == ([], [], 1)
    assert report.added == ["notes.md"]  # skipped before, so new to the index


def test_a_large_index_extends_its_search_graph_and_skips_what_is_gone(
    corpus: Path, tmp_path: Path, fast_encoder: TextEncoder, monkeypatch: pytest.MonkeyPatch
):
    """Above the exact-search size the dense candidates come from an HNSW graph; a reindex adds the new passages to
    the live graph, never serves a passage that is gone, and builds the graph again once too much of it is stale."""
    monkeypatch.setattr("bot.index.build.EXACT_SEARCH_LIMIT", 100)  # this small corpus counts as large
    build_index(corpus, tmp_path / "index", fast_encoder)
    first = load_index(tmp_path / "index")
    assert first.manifest["search"]["kind"] == "hnsw-sq8" and first.search_ids is None

    path = corpus / "help-wanted.md"
    path.write_text(path.read_text() + "\nThe mentoring cohort meets on Thursdays in the #sig-contribex channel.\n")
    build_index(corpus, tmp_path / "index", fast_encoder)
    second = load_index(tmp_path / "index")
    stale = second.manifest["search"]["stale"]
    assert 0 < stale <= 0.2 * len(second.search_ids) and second.window_index.ntotal == len(second.search_ids)
    assert set(second.search_ids[second.search_ids >= 0].tolist()) == set(range(second.size))  # every window once
    retriever = Retriever(second, fast_encoder)
    answer = retriever.answer("when does the mentoring cohort meet?")
    assert "Thursdays" in answer.results[0].quote
    served = retriever.dense(fast_encoder.encode(["how do I find a good first issue?"]))[0].candidates
    assert len(served) and served.max() < second.size and len(np.unique(served)) == len(served)

    (corpus / "first-contribution.md").unlink()  # a large share of the graph goes stale: it is built again
    (corpus / "non-code-contributions.md").unlink()
    build_index(corpus, tmp_path / "index", fast_encoder)
    third = load_index(tmp_path / "index")
    assert third.manifest["search"]["stale"] == 0 and third.search_ids is None
    assert third.window_index.ntotal == third.size
