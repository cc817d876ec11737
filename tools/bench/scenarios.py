"""The scenarios: the corpora at each size, a full build and a serving process (each split into its phases), the
baselines (naive path and dense-only peer), the synthetic size, cold starts, incremental reindexing and the served
pipeline against the exact one. The processes the bench starts run the `--build`, `--serve` (and such) entries of
`python -m tools.bench`, which call the functions here."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.config import PROJECT_ROOT, Settings
from bot.embedding import Embedder, TextEncoder
from bot.encoder import query_embedder
from bot.index import PassageIndex, load_index
from bot.retrieval import Retriever
from bot.timing import recording
from tools.bench.measure import (
    bench_cli,
    bot_cli,
    latencies,
    memory_mb,
    percentile,
    progress,
    run_measured,
    split_latencies,
)
from tools.bench.results import ColdStart, Exactness, Serving, Size
from tools.evaluation import BOT, EVAL_DIR, GUIDES_DIR, CachedEncoder, EvalQuestion, evaluate, load_questions
from tools.synthetic import ARCHIVE_FOLDER, CountingEncoder, SyntheticEncoder, write_copies

DEFAULT_ARCHIVE = PROJECT_ROOT.parent / "shared" / "samples" / "kubernetes-community-docs.tar.gz"
VECTOR_CACHE = PROJECT_ROOT / "embeddings" / ".eval"  # make eval's cache of every text's vector (BENCH_VECTOR_CACHE)
EDITED = "CONTRIBUTING.md"  # the large-corpus file edited and removed by the incremental benchmark
EXACT = "this bot, exact pipeline"


def encoder() -> TextEncoder:
    """What the bot builds and serves with, as configured (ENCODER_PRECISION)."""
    settings = Settings.from_env()
    model = Embedder.from_setting(settings.embedding_model)
    return query_embedder(settings.encoder_dir, model, settings.encoder_precision)


def eval_questions() -> list[EvalQuestion]:
    return [q for name in ("dev", "holdout") for q in load_questions(EVAL_DIR / f"{name}.jsonl")]


# --- corpora ----------------------------------------------------------------------------------------------------


def make_corpora(work: Path, archive: Path | None, fractions: tuple[float, ...]) -> list[Size]:
    settings = Settings.from_env()
    sizes: list[Size] = []

    def corpus(label: str, large: list[Path] | None, root: Path | None) -> Size:
        target = work / f"corpus-{len(sizes)}"
        shutil.copytree(settings.corpus_dir, target)
        if large is not None:
            shutil.copytree(GUIDES_DIR, target / "k8s-contributor-guide")
            for path in large:
                assert root is not None
                dest = target / ARCHIVE_FOLDER / path.relative_to(root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)
        return Size(label, str(target), *files_and_megabytes(target))

    sizes.append(corpus("interview", None, None))
    sizes.append(corpus("+ 8 guides", [], None))
    if archive is not None:
        root = work / "large"
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
        everything = sorted(p for p in root.rglob("*") if p.is_file())
        for fraction in fractions:
            step = round(1 / fraction)
            chosen = everything if fraction == 1.0 else everything[::step]
            sizes.append(corpus(f"+ {fraction:.0%} large ({len(chosen)} files)", chosen, root))
    return sizes


def files_and_megabytes(folder: Path) -> tuple[int, float]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files) / 1e6


def make_synthetic(largest: Size, work: Path, copies: int) -> Size:
    """The largest real corpus with `copies - 1` perturbed copies of its archive files beside the originals."""
    target = work / "corpus-synthetic"
    shutil.copytree(largest.corpus_dir, target)
    write_copies(target, copies)
    archive_files = sum(1 for p in (largest.corpus_dir / ARCHIVE_FOLDER).rglob("*") if p.is_file())
    label = f"{copies}× large, synthetic ({copies} × {archive_files} files)"
    return Size(label, str(target), *files_and_megabytes(target), synthetic=True)


# --- a full build and a serving process, each in its own process --------------------------------------------------


def build(corpus: Path, index_dir: Path) -> dict[str, object]:
    """What `python -m bot index` does (the same `build_index`, with the configured encoder), recording where the
    time goes. Run in its own process by the bench."""
    from bot.index import build_index

    with recording() as phases:
        report = build_index(corpus, index_dir, encoder())
    return {"phases_s": dict(phases), "embedded_texts": report.embedded_texts, "windows": report.windows}


def serve(index_dir: Path, limit: int | None = None) -> dict[str, object]:
    """What a bot process does before and while answering: import, load the index, make the retriever, then answer
    the evaluation questions, each split into its phases. Run in its own process by the bench."""
    started = time.perf_counter()
    index = load_index(index_dir)
    retriever = Retriever(index, encoder())
    loaded = time.perf_counter() - started
    p50, p95, phases = split_latencies(retriever.answer, [q.question for q in eval_questions()][:limit])
    rss, peak, mapped = memory_mb()
    return {
        "passages": index.size,
        "load_s": loaded,
        "p50_ms": p50,
        "p95_ms": p95,
        "rss_mb": rss,
        "peak_mb": peak,
        "file_mb": mapped,
        "phases_ms": phases,
    }


def measure_serving(size: Size, limit: int | None) -> None:
    run = run_measured(bench_cli("--serve", str(size.index_dir), *(["--questions", str(limit)] if limit else [])))
    size.serving = Serving(**json.loads(run.output.strip().splitlines()[-1]))
    size.windows = size.serving.passages
    size.query["this bot"] = (size.serving.p50_ms, size.serving.p95_ms)


def measure_size(size: Size, questions: list[str], naive: bool) -> None:
    progress(f"{size.label}: building ({size.files} files, {size.megabytes:.1f} MB)")
    built = run_measured(bench_cli("--build", size.corpus, str(size.index_dir)))
    size.build_s, size.build_mb = built.seconds, built.peak_mb
    figures = json.loads(built.output.strip().splitlines()[-1])
    size.build_phases_s, size.embedded_texts = figures["phases_s"], figures["embedded_texts"]
    progress(f"  built in {size.build_s:.1f} s, peak {size.build_mb:.0f} MB; peer build")
    peer = run_measured(bench_cli("--peer-build", size.corpus, str(size.peer_dir)))
    size.peer_build_s, size.peer_build_mb = peer.seconds, peer.peak_mb
    if naive:
        progress("  naive build")
        size.naive_build_s = run_measured(bench_cli("--naive-build", size.corpus)).seconds
    progress("  serving process")
    measure_serving(size, len(questions))
    model = Embedder.from_setting(Settings.from_env().embedding_model)
    if naive:
        size.query["naive"] = latencies(Retriever(load_index(size.index_dir), model).answer, questions)
    size.query["peer"] = latencies(PeerRetriever(size.peer_dir, model).answer, questions)
    assert size.serving is not None
    progress(
        f"  {size.label}: {size.windows:,} passages, query p50 {size.serving.p50_ms:.1f} ms, "
        f"serving {size.serving.rss_mb:.0f} MB"
    )


# --- the encoders side by side ------------------------------------------------------------------------------------


def encoder_speeds(rounds: int = 3) -> dict[str, dict[str, float]]:
    """Each encoder precision's speed, measured in turns in this process so that a busy machine slows both alike:
    the guides' distinct texts embedded as a build does (batches of EMBED_BATCH, best of `rounds`, in texts a second),
    and the dev questions one at a time (p50 and p95 milliseconds)."""
    from bot.config import ENCODER_PRECISIONS
    from bot.documents import corpus_files, load_document
    from bot.index import EMBED_BATCH, _chunk

    settings = Settings.from_env()
    model = Embedder.from_setting(settings.embedding_model)
    encoders = {p: query_embedder(settings.encoder_dir, model, p) for p in ENCODER_PRECISIONS}
    texts: set[str] = set()
    for path in corpus_files(GUIDES_DIR):
        part = _chunk(load_document(path, path.name))
        texts.update([*(part.window_texts or []), *(p["text"] for p in part.paragraphs), *part.sections])
    ordered = sorted(texts, key=lambda t: (len(t), t))
    questions = [q.question for q in load_questions(EVAL_DIR / "dev.jsonl")]
    speeds: dict[str, list[float]] = {p: [] for p in encoders}
    times: dict[str, list[float]] = {p: [] for p in encoders}
    for e in encoders.values():  # warm up
        e.encode(ordered[:EMBED_BATCH], batch_size=EMBED_BATCH)
        for question in questions[:10]:
            e.encode_query(question)
    for _ in range(rounds):
        for p, e in encoders.items():
            started = time.perf_counter()
            e.encode(ordered, batch_size=EMBED_BATCH)
            speeds[p].append(len(ordered) / (time.perf_counter() - started))
        for question in questions:
            for p, e in encoders.items():
                started = time.perf_counter()
                e.encode_query(question)
                times[p].append((time.perf_counter() - started) * 1000)
    return {
        e.runtime: {
            "texts": len(ordered),
            "texts_per_s": max(speeds[p]),
            "query_p50_ms": statistics.median(times[p]),
            "query_p95_ms": percentile(times[p], 0.95),
        }
        for p, e in encoders.items()
    }


# --- the synthetic size -------------------------------------------------------------------------------------------


def synthetic_build(corpus: Path, index_dir: Path) -> dict[str, int]:
    """Build the synthetic size through `build_index` with the synthetic encoder (see tools/synthetic.py)."""
    from bot.index import build_index

    real = CountingEncoder(encoder())
    folder = Path(os.environ.get("BENCH_VECTOR_CACHE", VECTOR_CACHE))
    folder.mkdir(parents=True, exist_ok=True)
    cached = CachedEncoder(real, folder)
    synthetic = SyntheticEncoder(cached)
    report = build_index(corpus, index_dir, synthetic, reuse=False)
    cached.save()
    return {
        "windows": report.windows,
        "documents": report.documents,
        "perturbed_texts": synthetic.perturbed,
        "unmarked_texts": synthetic.unmarked,
        "embedded_texts": real.embedded,
    }


def measure_synthetic(size: Size, limit: int | None) -> None:
    run = run_measured(bench_cli("--synthetic-build", size.corpus, str(size.index_dir)))
    size.build_s, size.build_mb = run.seconds, run.peak_mb
    size.notes = json.loads(run.output.strip().splitlines()[-1])
    progress(
        f"{size.label}: built in {size.build_s:.0f} s from reused vectors ({size.notes['embedded_texts']:,} texts "
        f"embedded for real); serving"
    )
    measure_serving(size, limit)
    assert size.serving is not None
    progress(f"  {size.label}: {size.windows:,} passages, query p50 {size.serving.p50_ms:.1f} ms")


# --- baselines ----------------------------------------------------------------------------------------------------


def peer_build(corpus: Path, out: Path) -> None:
    """The typical peer: each paragraph embedded whole with sentence-transformers into a FAISS IndexFlatIP."""
    import faiss

    from bot.documents import load_corpus

    embedder = Embedder.from_setting(Settings.from_env().embedding_model)
    texts = [p.text for d in load_corpus(corpus).documents for p in d.paragraphs]
    vectors = embedder.encode(texts)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    out.mkdir(parents=True, exist_ok=True)
    faiss.write_index(index, str(out / "paragraphs.faiss"))
    (out / "paragraphs.json").write_text(json.dumps(texts), encoding="utf-8")


def naive_build(corpus: Path) -> None:
    """The naive path: every passage, paragraph and heading embedded with sentence-transformers, duplicates and all
    (what builds did before ONNX builds, de-duplication and reuse)."""
    from bot.documents import SkippedFileError, corpus_files, load_document
    from bot.index import _chunk

    embedder = Embedder.from_setting(Settings.from_env().embedding_model)
    texts: list[str] = []
    for path in corpus_files(corpus):
        try:
            part = _chunk(load_document(path, path.relative_to(corpus).as_posix()))
        except SkippedFileError:
            continue
        texts += [*(part.window_texts or []), *(p["text"] for p in part.paragraphs), *part.sections]
    embedder.encode(texts)


class PeerRetriever:
    def __init__(self, folder: Path, embedder: Embedder) -> None:
        import faiss

        self.index = faiss.read_index(str(folder / "paragraphs.faiss"))
        self.texts = json.loads((folder / "paragraphs.json").read_text(encoding="utf-8"))
        self.embedder = embedder

    def answer(self, question: str) -> list[str]:
        _, ids = self.index.search(self.embedder.encode_query(question).reshape(1, -1), 3)
        return [self.texts[i] for i in ids[0] if i >= 0]


def naive_ask(index_dir: Path) -> None:
    retriever = Retriever(load_index(index_dir), Embedder.from_setting(Settings.from_env().embedding_model))
    print(retriever.answer("how do I start?").to_json())


def peer_ask(folder: Path) -> None:
    print(PeerRetriever(folder, Embedder.from_setting(Settings.from_env().embedding_model)).answer("how do I start?"))


# --- quality: the served pipeline against the exact one ------------------------------------------------------------


def recall_of_exact(index: PassageIndex, encoder: TextEncoder, questions: list[str]) -> Exactness:
    served, exact = Retriever(index, encoder), Retriever(index, encoder, exact=True)
    shares: list[float] = []
    disagree = 0
    for question in questions:
        want, got = exact.answer(question, k=10), served.answer(question, k=10)
        disagree += want.answered != got.answered
        if want.results:
            keys = {(r.document, r.paragraph, r.quote) for r in got.results}
            shares.append(sum((r.document, r.paragraph, r.quote) in keys for r in want.results) / len(want.results))
    return Exactness(statistics.fmean(shares) if shares else 0.0, len(shares), disagree)


def hit_rates(
    index: PassageIndex, encoder: TextEncoder, questions: list[EvalQuestion]
) -> dict[str, tuple[float, float]]:
    """hit@1 and hit@3 of this bot (served and exact pipelines) and of the two baselines of `make eval`."""
    scores = evaluate(index, encoder, questions, Retriever(index, encoder))
    scores[EXACT] = evaluate(index, encoder, questions, Retriever(index, encoder, exact=True), peers=False)[BOT]
    return {system: (s.hit1, s.hit3) for system, s in scores.items()}


# --- cold starts and incremental reindexing ---------------------------------------------------------------------


def cold_starts(size: Size, baselines: bool = True) -> ColdStart:
    """`python -m bot ask` with the index built, beside the naive path (sentence-transformers for the question) and
    the peer (sentence-transformers + a FAISS search over paragraphs), each in its own process, best of 3."""
    commands = [bot_cli("ask", "--corpus", size.corpus, "--index", str(size.index_dir), "how do I start?")]
    if baselines:
        commands += [bench_cli("--naive-ask", str(size.index_dir)), bench_cli("--peer-ask", str(size.peer_dir))]
    best = [min((run_measured(command) for _ in range(3)), key=lambda r: r.seconds) for command in commands]
    figures = [x for run in best for x in (run.seconds, run.peak_mb)]
    return ColdStart(*figures)


def incremental(size: Size) -> dict[str, tuple[float, float, int]]:
    """Edit, add and remove one file of the large corpus. After each change, reindex with the CLI (its own process,
    reading the live build from disk) and with AnswerService.reindex, what /reindex runs (the live index in memory;
    it reuses what its own index holds, so the CLI's build before it saves it nothing). Returns
    {change: (CLI seconds, /reindex seconds, documents embedded by /reindex)}."""
    from bot.service import AnswerService

    settings = Settings.from_env()
    folder = size.corpus_dir / ARCHIVE_FOLDER
    edited = folder / EDITED if (folder / EDITED).is_file() else sorted(folder.rglob("*.md"))[0]
    added = folder / "benchmark-added.md"
    service = AnswerService(
        size.corpus_dir,
        size.index_dir,
        Embedder.from_setting(settings.embedding_model),
        encoder_dir=settings.encoder_dir,
        encoder_precision=settings.encoder_precision,
    )
    service.load()
    changes: list[tuple[str, Callable[[], object]]] = [
        ("edited", lambda: edited.write_bytes(edited.read_bytes() + b"\n\nReviewers may join the triage rotation.\n")),
        ("added", lambda: added.write_text("# Added\n\nA short new page about where newcomers can ask questions.\n")),
        ("removed", lambda: edited.unlink()),
    ]
    results: dict[str, tuple[float, float, int]] = {}
    for name, change in changes:
        change()
        cli = run_measured(bot_cli("index", "--corpus", size.corpus, "--index", str(size.index_dir))).seconds
        started = time.perf_counter()
        report = service.reindex()
        results[name] = (cli, time.perf_counter() - started, report.build.embedded_documents)
    return results
