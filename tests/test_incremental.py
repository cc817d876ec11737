"""Incremental reindex: only what changed is parsed and embedded, and the result equals a full rebuild's."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bot.embedding import TextEncoder
from bot.index import build_index, current_build, load_index
from bot.index.derive import Layout, _merged, _search, _unkey, derive
from bot.index.lexical import Terms, write_bm25
from bot.index.load import open_build
from bot.questions import UNRELATED_QUESTIONS
from bot.retrieval import Retriever
from bot.text import search_tokens
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
    assert left.bm25.vocab_dict == right.bm25.vocab_dict
    for name in ("data", "indices", "indptr"):
        assert np.array_equal(left.bm25.scores[name], right.bm25.scores[name]), name
    keep = ("indexed", "files", "skipped", "counts", "chunking", "search")
    assert {k: left.manifest[k] for k in keep} == {k: right.manifest[k] for k in keep}


def assert_derived_from_scratch(index_dir: Path, encoder: TextEncoder, tmp_path: Path) -> None:
    """The live build's derived arrays, the terms and closest windows it keeps for the next build, and its BM25
    index are what working them out from scratch over its passages and vectors gives."""
    live = load_index(index_dir)
    full = derive(open_build(live.path, verify=False, derived=False), encoder, Layout.of(live))
    assert live.derived.keys() == full.arrays.keys()
    for name, array in full.arrays.items():
        assert array.dtype == live.derived[name].dtype and np.array_equal(array, live.derived[name]), name
    assert live.notes == full.notes
    with np.load(live.path / "reuse.npz") as npz:
        kept = {name: npz[name] for name in npz.files}
    for name in ("prose_quotable", "para_speaker", "unrelated_queries"):
        assert np.array_equal(kept[name], full.reuse[name]), name
    k = kept["unrelated_ids"].shape[1]  # a merge may know fewer of the closest windows than a search, never others
    assert k >= live.derived["unrelated_ids"].shape[1]
    assert np.array_equal(kept["unrelated_ids"], full.reuse["unrelated_ids"][:, :k])
    assert np.array_equal(kept["unrelated_sims"], full.reuse["unrelated_sims"][:, :k])
    assert json.loads((live.path / "reuse.json").read_text(encoding="utf-8")) == full.reuse_notes
    terms = Terms.count(search_tokens(live.window_text(w)) for w in range(live.size))
    for name, array in terms.arrays().items():
        assert np.array_equal(kept[name], array), name
    write_bm25(terms, tmp_path / "bm25")
    bm25 = type(live.bm25).load(str(tmp_path / "bm25"), mmap=False, show_progress=False)
    assert bm25.vocab_dict == live.bm25.vocab_dict
    for name in ("data", "indices", "indptr"):
        assert np.array_equal(bm25.scores[name], live.bm25.scores[name]), name
    shutil.rmtree(tmp_path / "bm25")


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


def test_what_a_reindex_copies_equals_what_a_build_from_scratch_works_out(
    corpus: Path, tmp_path: Path, fast_encoder: TextEncoder, monkeypatch: pytest.MonkeyPatch
):
    """Flags, owners, centroids, suggestions, topics, the unrelated questions' closest windows, terms and BM25
    weights copied and put together by a reindex equal a derivation from scratch, through changes that renumber
    sections and documents, remove windows close to an unrelated question, and add and remove the only interview
    (which decides which windows are quotable and how the unrelated questions are asked)."""
    monkeypatch.setattr("bot.index.derive.UNRELATED_CANDIDATES", 10)  # few kept: a removal can use them up
    monkeypatch.setattr("bot.index.derive.UNRELATED_KEPT", 30)
    searched: list[int] = []

    def spy(vectors, rows, queries, k):
        searched.append(len(rows))
        return _search(vectors, rows, queries, k)

    monkeypatch.setattr("bot.index.derive._search", spy)
    index = tmp_path / "index"
    build_index(corpus, index, fast_encoder)
    assert_derived_from_scratch(index, fast_encoder, tmp_path)
    interview = next(corpus.glob("*interview*"))
    text = interview.read_text(encoding="utf-8")

    def closest_document() -> Path:  # the guide closest to an unrelated question
        live = load_index(index)
        docs = live.derived["para_doc"][live.window_para[live.derived["unrelated_ids"][0]]]
        names = [live.documents[d]["name"] for d in docs.tolist()]
        return next(corpus / name for name in names if name != interview.name)

    changes = [
        lambda: (corpus / "first-contribution.md").write_text(
            (corpus / "first-contribution.md").read_text() + "\n## Pairing\n\nPair with a reviewer on Fridays.\n"
        ),
        lambda: (corpus / "0-first.md").write_text("# First\n\nThis page sorts before every other page.\n"),
        lambda: closest_document().unlink(),
        lambda: interview.unlink(),
        lambda: interview.write_text(text, encoding="utf-8"),
    ]
    for step, change in enumerate(changes):
        searched.clear()
        change()
        report = build_index(corpus, index, fast_encoder)
        assert report.embedded_documents <= 1
        if step in (0, 1):  # merged: only the new document's windows were searched
            assert 0 < sum(searched) < load_index(index).size / 4, step
        assert_derived_from_scratch(index, fast_encoder, tmp_path)
    assert load_index(index).notes["has_speaker"]

    build_index(corpus, tmp_path / "full", fast_encoder)
    assert_same_index(index, tmp_path / "full")


def test_a_live_build_that_kept_nothing_for_reuse_is_read_again(
    corpus: Path, tmp_path: Path, fast_encoder: TextEncoder, caplog: pytest.LogCaptureFixture
):
    """A live build made before builds kept their terms and derived arrays: its documents are still reused, their
    windows are read again, and the result is the same."""
    build_index(corpus, tmp_path / "index", fast_encoder)
    live = current_build(tmp_path / "index")
    manifest = json.loads((live / "manifest.json").read_text())
    for name in ("reuse.npz", "reuse.json"):  # as built before these files were kept
        (live / name).unlink()
        del manifest["checksums"][name], manifest["sizes"][name]
    (live / "manifest.json").write_text(json.dumps(manifest))
    path = corpus / "help-wanted.md"
    path.write_text(path.read_text() + "\nGood first issues are a gentle way to start reviewing code.\n")
    report = build_index(corpus, tmp_path / "index", fast_encoder)
    assert report.embedded_documents == 1
    assert "not reusing the live build's terms and derived arrays" in caplog.text
    assert_derived_from_scratch(tmp_path / "index", fast_encoder, tmp_path)
    build_index(corpus, tmp_path / "full", fast_encoder)
    assert_same_index(tmp_path / "index", tmp_path / "full")


@pytest.mark.parametrize("case", ["unchanged", "top windows gone, copies added", "too many gone", "reordered"])
def test_merged_closest_windows_are_a_search_s_or_none(case: str, monkeypatch: pytest.MonkeyPatch):
    """Merging the live build's closest windows with the new windows' gives the first windows an exact search over
    the new build gives, ties (copies of a window) included, or None when too few of them are known."""
    monkeypatch.setattr("bot.index.derive.UNRELATED_CANDIDATES", 10)
    monkeypatch.setattr("bot.index.derive.UNRELATED_KEPT", 20)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((300, 8)).astype(np.float16)
    queries = rng.standard_normal((4, 8)).astype(np.float32)
    first = _unkey(_search(vectors, np.arange(300), queries, 20))[0]
    vectors[150:160] = vectors[first[0, 19]]  # copies of the last window kept for the first question: ties with it
    ids, sims = _unkey(_search(vectors, np.arange(300), queries, 20))
    previous = SimpleNamespace(arrays={"unrelated_ids": ids, "unrelated_sims": sims}, index=SimpleNamespace(size=300))
    gone = {
        "unchanged": [],
        "top windows gone, copies added": np.unique(ids[:, :3]),
        "too many gone": ids[0, :15],
        "reordered": [],
    }[case]
    kept = np.setdiff1d(np.arange(300), gone)
    added = vectors[[ids[1, 0], ids[2, 19], ids[2, 19]]] if case == "top windows gone, copies added" else vectors[:0]
    if case == "reordered":  # documents in another order
        kept = np.concatenate([kept[100:], kept[:100]])
    now = np.concatenate([vectors[kept[:50]], added, vectors[kept[50:]]])
    moved = np.full(300, -1)
    moved[kept] = np.concatenate([np.arange(50), np.arange(50 + len(added), len(now))])
    merged = _merged(SimpleNamespace(size=len(now), window_vectors=now), previous, moved, queries)
    searched = _search(now, np.arange(len(now)), queries, 20)
    if case == "too many gone":
        assert merged is None
    else:
        assert merged is not None and 10 <= merged.shape[1] <= 20
        assert np.array_equal(merged, searched[:, : merged.shape[1]])
    if case == "unchanged":
        assert merged.shape[1] == 20  # nothing gone: every window kept is still known
