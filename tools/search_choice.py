"""How the dense search index was chosen (bot/index/build.py): for each evaluation question, is the exact closest
window among the 300 candidates an index returns, and how long does one search take, on a built index.

    python -m tools.search_choice [INDEX_DIR]   (default: make eval's largest index, embeddings/.eval/)

Prints one line per index kind and setting: IVF with 8-bit codes at two probe counts, HNSW over 8-bit codes at two
search depths (each built here from the index's own vectors).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from bot.config import PROJECT_ROOT, Settings
from bot.embedding import Embedder
from bot.encoder import query_embedder
from bot.index import load_index
from tools.evaluation import EVAL_DIR, load_questions, precision_suffix

CANDIDATES = 300


def main(argv: list[str] | None = None) -> int:
    import faiss

    args = sys.argv[1:] if argv is None else argv
    settings = Settings.from_env()
    encoder = query_embedder(
        settings.encoder_dir, Embedder.from_setting(settings.embedding_model), settings.encoder_precision
    )
    largest = f"index-corpus-with-archive{precision_suffix(encoder)}"  # make eval's build for this encoder
    index_dir = Path(args[0]) if args else PROJECT_ROOT / "embeddings" / ".eval" / largest
    index = load_index(index_dir)
    questions = [q.question for name in ("dev", "holdout") for q in load_questions(EVAL_DIR / f"{name}.jsonl")]
    queries = encoder.encode(questions)
    vectors = np.asarray(index.window_vectors, dtype=np.float32)
    exact = np.argmax(queries @ vectors.T, axis=1)
    faiss.omp_set_num_threads(1)  # as served
    dimension = vectors.shape[1]
    nlist = int(np.sqrt(len(vectors)))
    ivf = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dimension), dimension, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    hnsw = faiss.IndexHNSWSQ(dimension, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 64
    for name, built in (("IVF-SQ8", ivf), ("HNSW-SQ8", hnsw)):
        faiss.omp_set_num_threads(2)
        started = time.perf_counter()
        built.train(vectors[:: max(1, len(vectors) // 50_000)])
        built.add(vectors)
        print(f"{name}: built in {time.perf_counter() - started:.1f} s over {len(vectors):,} windows")
        faiss.omp_set_num_threads(1)
        settings_of = (("nprobe", 40), ("nprobe", 160)) if name == "IVF-SQ8" else (("efSearch", 300), ("efSearch", 500))
        for knob, value in settings_of:
            if knob == "nprobe":
                built.nprobe = value
            else:
                built.hnsw.efSearch = value
            started = time.perf_counter()
            for query in queries:
                built.search(query[None, :], CANDIDATES)
            per_search = (time.perf_counter() - started) / len(queries) * 1000
            _, found = built.search(queries, CANDIDATES)
            kept = float(np.mean([exact[i] in found[i] for i in range(len(queries))]))
            print(
                f"  {knob} {value}: exact top window kept {kept:.3f} of {len(queries)} questions, {per_search:.2f} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
