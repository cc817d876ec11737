import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.config import PROJECT_ROOT
from bot.embedding import Embedder
from bot.encoder import MIN_COSINE, OnnxEmbedder, export_dir, load_onnx, query_embedder
from bot.index import build_index, current_build, ensure_index, read_manifest
from tests.conftest import CORPUS
from tools.evaluation import EVAL_DIR, load_questions


@pytest.fixture(scope="module")
def onnx(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> OnnxEmbedder:
    encoder = query_embedder(tmp_path_factory.mktemp("encoder"), embedder)
    assert isinstance(encoder, OnnxEmbedder), "the bundled model exports"
    return encoder


@pytest.fixture(scope="module")
def int8(onnx: OnnxEmbedder, embedder: Embedder) -> OnnxEmbedder:
    """The quantised export, made from the float one in the same cache."""
    encoder = query_embedder(onnx.onnx_path.parent.parent, embedder, "int8")
    assert isinstance(encoder, OnnxEmbedder), "the bundled model quantises"
    return encoder


def sample_texts() -> list[str]:
    questions = [q.question for q in load_questions(EVAL_DIR / "dev.jsonl")]
    passages = [p for p in CORPUS.joinpath("jaice-singer-dumars-interview.md").read_text().split("\n\n") if p][:40]
    return questions + passages


def test_onnx_vectors_match_the_model(onnx: OnnxEmbedder, embedder: Embedder):
    texts = sample_texts()
    cosines = (onnx.encode(texts) * embedder.encode(texts)).sum(axis=1)
    assert cosines.min() >= 0.999, cosines.min()
    questions = texts[:1]
    single = onnx.encode_query(questions[0])
    assert single.shape == (384,) and abs(float(np.linalg.norm(single)) - 1) < 1e-5


def test_the_export_is_cached_and_verified(onnx: OnnxEmbedder, embedder: Embedder):
    folder = export_dir(onnx.onnx_path.parent.parent, embedder)
    assert (folder / "verified.json").is_file() and (folder / "model.onnx").is_file()
    again = load_onnx(folder.parent, embedder)
    assert again is not None and again.onnx_path == onnx.onnx_path
    assert not list(folder.parent.glob(".staging-*")), "no half-written export is left behind"


def test_answering_from_the_command_line_never_imports_torch(corpus_index_dir: Path, onnx: OnnxEmbedder):
    code = (
        "import sys; from bot.cli import main; "
        f"main(['ask', '--corpus', {str(CORPUS)!r}, '--index', {str(corpus_index_dir)!r}, 'how do I start?']); "
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules, 'heavy imports'"
    )
    env = {"ENCODER_DIR": str(onnx.onnx_path.parent.parent), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Jaice Singer DuMars" in result.stdout


def test_a_damaged_export_is_replaced_instead_of_failing(onnx: OnnxEmbedder, embedder: Embedder, tmp_path: Path):
    cache = tmp_path / "encoder"
    shutil.copytree(onnx.onnx_path.parent.parent, cache)
    damaged = export_dir(cache, embedder) / "model.onnx"
    damaged.write_bytes(damaged.read_bytes()[:1000])  # as a crash or a full disk would leave it
    repaired = query_embedder(cache, embedder)
    assert isinstance(repaired, OnnxEmbedder)
    assert float(repaired.encode_query("how do I start?") @ embedder.encode_query("how do I start?")) > 0.999


def test_the_int8_export_is_verified_against_the_model_with_its_own_bound(
    int8: OnnxEmbedder, onnx: OnnxEmbedder, embedder: Embedder
):
    assert (int8.precision, int8.runtime, onnx.runtime) == ("int8", "onnxruntime-int8", "onnxruntime")
    assert int8.onnx_path.parent == export_dir(onnx.onnx_path.parent.parent, embedder, "int8") != onnx.onnx_path.parent
    record = json.loads((int8.onnx_path.parent / "verified.json").read_text())
    assert record["precision"] == "int8" and record["bound"] == MIN_COSINE["int8"] <= record["min_cosine"]
    assert int8.onnx_path.stat().st_size < onnx.onnx_path.stat().st_size / 3, "8-bit weights"
    texts = sample_texts()
    cosines = (int8.encode(texts) * embedder.encode(texts)).sum(axis=1)
    assert cosines.min() >= MIN_COSINE["int8"] and cosines.mean() >= 0.99, (cosines.min(), cosines.mean())


def test_an_index_is_served_only_by_the_precision_that_built_it(
    int8: OnnxEmbedder, onnx: OnnxEmbedder, small_corpus: Path, tmp_path: Path
):
    index_dir = tmp_path / "index"
    build_index(small_corpus, index_dir, onnx)
    build = current_build(index_dir)
    assert build is not None and read_manifest(build)["model"]["runtime"] == "onnxruntime"
    said: list[str] = []
    index = ensure_index(small_corpus, index_dir, int8, notify=said.append)
    assert said == [
        "Building the index (it was embedded by the fp32 encoder, and int8 is configured (ENCODER_PRECISION))."
    ]
    assert index.manifest["model"]["runtime"] == "onnxruntime-int8" and index.path != build
    assert ensure_index(small_corpus, index_dir, int8, notify=said.append).path == index.path, "current now"
