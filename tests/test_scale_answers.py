"""Answers on a real community's documents at a larger size: a sample of the Kubernetes community archive (from
../shared/samples) beside the project's corpus. The decline line must rise with the corpus, translations must
never be quoted, and plain questions must still be answered."""

import shutil
import tarfile
from dataclasses import replace

import faiss
import numpy as np
import pytest

from bot.config import PROJECT_ROOT
from bot.embedding import TextEncoder
from bot.index import build_index, load_index
from bot.index.build import write_search_index
from bot.retrieval import Retriever
from tests.conftest import CORPUS

ARCHIVE = PROJECT_ROOT.parent / "shared" / "samples" / "kubernetes-community-docs.tar.gz"
# a spread of the archive: guides, policies, SIG pages, translations, and records (minutes, elections, reports)
SAMPLE = (
    "community-membership.md",
    "governance.md",
    "code-of-conduct.md",
    "values.md",
    "contributors/guide/",
    "communication/",
    "mentoring/programs/",
    "sig-node/",
    "sig-docs/",
    "elections/steering/2021/",
    "events/2017/12-contributor-summit/",
)


@pytest.fixture(scope="module")
def archive_sample(tmp_path_factory: pytest.TempPathFactory, fast_encoder: TextEncoder) -> Retriever:
    if not ARCHIVE.is_file():
        pytest.fail(f"{ARCHIVE} is missing: the shared samples must sit beside the project")
    corpus = tmp_path_factory.mktemp("sample") / "corpus"
    shutil.copytree(CORPUS, corpus)
    with tarfile.open(ARCHIVE) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.lstrip("./").startswith(SAMPLE)]
        tar.extractall(corpus / "community", members=members, filter="data")
    index_dir = tmp_path_factory.mktemp("sample-index")
    build_index(corpus, index_dir, fast_encoder)
    return Retriever(load_index(index_dir), fast_encoder)


def test_the_sample_is_large_and_holds_translations(archive_sample: Retriever):
    names = [d["name"] for d in archive_sample.index.documents]
    assert len(names) > 100 and archive_sample.index.size > 10_000
    assert "community/contributors/guide/contributor-cheatsheet/README-de.md" in names


@pytest.mark.parametrize(
    "question",
    [
        "what's the quickest way to descale a kettle?",
        "who won the tour de france in 2019",
        "can you explain how compound interest works",
        "what should I pack for a week of camping in the rain?",
    ],
)
def test_off_topic_questions_are_declined_in_a_large_corpus(archive_sample: Retriever, question: str):
    answer = archive_sample.answer(question)
    assert not answer.answered and answer.results == []
    assert answer.suggestions, "a decline suggests questions the documents answer"


def test_the_decline_line_rises_with_the_corpus(archive_sample: Retriever, retriever: Retriever):
    assert retriever.threshold == retriever.weights.threshold  # the interview alone: the base line holds
    assert archive_sample.threshold > retriever.threshold + 0.05
    assert archive_sample.answer("who won the tour de france in 2019").confidence < retriever.weights.threshold


@pytest.mark.parametrize(
    ("question", "document"),
    [
        ("how do I become a member of the kubernetes github org?", "community-membership.md"),
        ("how do i report a code of conduct violation?", "code-of-conduct.md"),
        ("how did jaice get into kubernetes?", "jaice-singer-dumars-interview.md"),
    ],
)
def test_plain_questions_are_answered_from_the_right_document(archive_sample: Retriever, question: str, document: str):
    answer = archive_sample.answer(question)
    assert answer.answered
    assert any(r.document.endswith(document) for r in answer.results), [r.document for r in answer.results]


def test_translated_copies_are_never_quoted(archive_sample: Retriever):
    for question in ("how do I squash my commits?", "where can I find the community calendar?"):
        for r in archive_sample.answer(question, k=8).results:
            assert "/contributor-cheatsheet/README-" not in r.document, r.document


def test_copies_of_a_passage_are_shown_once(archive_sample: Retriever):
    quotes = [
        " ".join(r.quote.lower().split()) for r in archive_sample.answer("how do I squash my commits?", k=8).results
    ]
    assert len(quotes) == len(set(quotes))


def test_records_do_not_outrank_the_guides(archive_sample: Retriever):
    best = archive_sample.answer("what are the requirements to become a reviewer?").results[0]
    assert not any(part in best.document for part in ("elections/", "events/", "meeting-notes", "minutes"))


def test_candidates_keep_the_exact_answers(archive_sample: Retriever, fast_encoder: TextEncoder, tmp_path):
    """Above a size, FAISS searches an approximate index for the dense candidates; the answers must be (nearly)
    those of scoring every window."""
    index = archive_sample.index
    search = write_search_index(
        tmp_path / "windows.faiss", np.asarray(index.window_vectors, dtype=np.float32), exact_limit=1000
    )
    assert search["kind"] == "hnsw-sq8"
    approximate = replace(
        index,
        window_index=faiss.read_index(str(tmp_path / "windows.faiss")),
        manifest={**index.manifest, "search": search},
    )
    served = Retriever(approximate, fast_encoder)
    exact = Retriever(index, fast_encoder, exact=True)
    assert served.threshold == pytest.approx(exact.threshold, abs=0.02)
    kept = []
    for question in (
        "how do I become a member of the kubernetes github org?",
        "how do i report a code of conduct violation?",
        "who can vote in the steering committee election",
        "where do sig node folks meet",
        "how do I get my PR reviewed faster",
        "can I help with docs if I don't code",
        "what does a mentor do in the mentoring program",
        "how do I join slack",
    ):
        truth = {(r.document, r.paragraph, r.quote) for r in exact.answer(question, k=10).results}
        found = {(r.document, r.paragraph, r.quote) for r in served.answer(question, k=10).results}
        if truth:
            kept.append(len(truth & found) / len(truth))
    assert len(kept) >= 6 and sum(kept) / len(kept) >= 0.95
