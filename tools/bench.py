"""`make bench`: every speed, memory and scale figure of the project in one run, each beside its baselines.

One file (with tools/synthetic.py for the synthetic size): every measurement shares the corpora it lays out and the
one report it writes.

Corpus sizes: the project corpus (the interview), + the 8 contributor-guide documents from tests/fixtures, + 10 %,
50 % and 100 % of the Kubernetes community repository's Markdown (965 files, read from the sample archive beside the
project: ../shared/samples/kubernetes-community-docs.tar.gz, or BENCH_LARGE_ARCHIVE), and a synthetic 5× size (the
archive once as it is and 4 perturbed copies; tools/synthetic.py). At each real size:

- full index build, as a user runs it (`python -m bot index` in its own process): time and peak memory;
- a serving process (load the index, answer the evaluation questions 3 times after a warm-up round): load time,
  warm query latency p50 / p95 and resident memory read from /proc;
- the same for two baselines measured in this run: the naive path (sentence-transformers for questions and for every
  passage, no reuse, no de-duplication; built and asked only up to 10 % unless BENCH_NAIVE_ALL=1: beyond that it
  takes minutes and no longer tells anything new), and the typical peer, a dense-only retriever over whole
  paragraphs (MiniLM via sentence-transformers + FAISS IndexFlatIP).

The 5× size is built in its own process through the real build path with vectors reused from the originals (see
tools/synthetic.py), so it measures serving (latency, memory, cold start), not build time.

Then: cold start to the first answer; the Discord bot (`python -m bot run` against the loopback emulator from tests/)
started, connected and answering, its resident memory, reply latency with 20 people asking at once and the heartbeat
during a burst, with the interview corpus and with the largest real corpus; incremental reindex after one file of the
large corpus is edited, added or removed (CLI and the /reindex code path); the served pipeline against the exact one
(`Retriever(..., exact=True)`, every window scored): recall of the exact top-10 answers and hit@1 / hit@3 of both.

Results are printed, beside the figures of the last run of the code before issue 11 (tools/bench_before.json), and
written to BENCHMARKS.md with a plot (benchmarks.png). Nothing here is a test.

A quick check of the whole run on small corpora (a few minutes; writes to a temporary folder, not BENCHMARKS.md):
`python -m tools.bench --quick` (1 % of the archive, ten files, as the "large" size and 5 copies of it), or choose
with --fractions, --copies, --skip and --out.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import PROJECT_ROOT, Settings
from bot.embedding import Embedder, TextEncoder
from bot.encoder import query_embedder
from bot.index import PassageIndex, load_index
from bot.retrieval import Retriever
from tools.evaluation import BOT, EVAL_DIR, GUIDES_DIR, CachedEncoder, EvalQuestion, evaluate, load_questions
from tools.synthetic import ARCHIVE_FOLDER, CountingEncoder, SyntheticEncoder, write_copies

DEFAULT_ARCHIVE = PROJECT_ROOT.parent / "shared" / "samples" / "kubernetes-community-docs.tar.gz"
VECTOR_CACHE = PROJECT_ROOT / "embeddings" / ".eval"  # make eval's cache of every text's vector (BENCH_VECTOR_CACHE)
BEFORE = Path(__file__).with_name("bench_before.json")
LARGE_FRACTIONS = (0.1, 0.5, 1.0)
COPIES = 5
EDITED = "CONTRIBUTING.md"  # the large-corpus file edited and removed by the incremental benchmark
EXACT = "this bot, exact pipeline"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ratio(ours: float, base: float) -> str:
    return f"{base / ours:.1f}× faster" if ours <= base else f"{ours / base:.1f}× slower"


_STARTED = time.perf_counter()


def progress(message: str) -> None:
    minutes, seconds = divmod(int(time.perf_counter() - _STARTED), 60)
    print(f"[{minutes:02d}:{seconds:02d}] {message}", file=sys.stderr, flush=True)


@dataclass
class Serving:
    """A process that loads an index and answers questions, as the bot does (see `serve`)."""

    passages: int
    load_s: float  # process start to the retriever ready, imports included
    p50_ms: float
    p95_ms: float
    rss_mb: float  # resident memory after answering
    peak_mb: float
    file_mb: float = 0.0  # of which pages of memory-mapped files (the index's vectors and texts: shared, reclaimable)


@dataclass
class Size:
    label: str
    corpus: Path
    files: int
    megabytes: float
    synthetic: bool = False
    windows: int = 0
    build_s: float = 0.0
    build_mb: float = 0.0
    peer_build_s: float | None = None
    peer_build_mb: float | None = None
    naive_build_s: float | None = None
    serving: Serving | None = None
    query: dict[str, tuple[float, float]] = field(default_factory=dict)  # system -> (p50, p95) ms
    notes: dict[str, int] = field(default_factory=dict)  # the synthetic build's counts

    @property
    def index_dir(self) -> Path:
        return self.corpus.with_name(f"index-{self.corpus.name}")

    @property
    def peer_dir(self) -> Path:
        return self.corpus.with_name(f"peer-{self.corpus.name}")


# --- running things -------------------------------------------------------------------------------------------------


class BenchError(Exception):
    pass


# Runs a command and writes its peak resident memory (KiB) to argv[1]. Started as a fresh, small interpreter: a child
# forked straight from the bench (which holds large indexes) would count the bench's memory as its own peak.
_PEAK_OF = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)


@dataclass
class Run:
    seconds: float
    peak_mb: float
    output: str  # what the command printed


def run_measured(args: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command to completion: its time, peak resident memory and output."""
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        peak = Path(tmp) / "peak"
        started = time.perf_counter()
        process = subprocess.run(
            [sys.executable, "-c", _PEAK_OF, str(peak), *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=err,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if process.returncode != 0:
            err.seek(0)
            raise BenchError(f"{' '.join(args[1:4])} failed: {err.read().decode(errors='replace')[-2000:]}")
        out.seek(0)
        return Run(elapsed, int(peak.read_text()) / 1024, out.read().decode(errors="replace"))


def bot_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def bench_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tools.bench", *args]


def latencies(run: Callable[[str], object], questions: list[str], rounds: int = 3) -> tuple[float, float]:
    for q in questions[:10]:
        run(q)
    timings = []
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            run(q)
            timings.append((time.perf_counter() - t0) * 1000)
    return statistics.median(timings), percentile(timings, 0.95)


def eval_questions() -> list[EvalQuestion]:
    return [q for name in ("dev", "holdout") for q in load_questions(EVAL_DIR / f"{name}.jsonl")]


def memory_mb() -> tuple[float, float, float]:
    """This process's resident memory, its peak, and the part of it that is mapped files, in MB, from /proc."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM", "RssFile")):
            fields[line.split(":")[0]] = int(line.split()[1]) / 1024
    return fields["VmRSS"], fields["VmHWM"], fields.get("RssFile", 0.0)


# --- corpora ----------------------------------------------------------------------------------------------------


def make_corpora(work: Path, archive: Path | None, fractions: tuple[float, ...]) -> list[Size]:
    settings = Settings.from_env()
    sizes = []

    def corpus(label: str, large: list[Path] | None, root: Path | None) -> Size:
        target = work / f"corpus-{len(sizes)}"
        shutil.copytree(settings.corpus_dir, target)
        if large is not None:
            shutil.copytree(GUIDES_DIR, target / "k8s-contributor-guide")
            for path in large:
                dest = target / ARCHIVE_FOLDER / path.relative_to(root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)
        return Size(label, target, *files_and_megabytes(target))

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
    shutil.copytree(largest.corpus, target)
    write_copies(target, copies)
    archive_files = sum(1 for p in (largest.corpus / ARCHIVE_FOLDER).rglob("*") if p.is_file())
    label = f"{copies}× large, synthetic ({copies} × {archive_files} files)"
    return Size(label, target, *files_and_megabytes(target), synthetic=True)


# --- serving --------------------------------------------------------------------------------------------------------


def serve(index_dir: Path, limit: int | None = None) -> dict[str, float]:
    """What a bot process does before and while answering: import, load the index, make the retriever, then answer
    the evaluation questions. Run in its own process by the bench."""
    started = time.perf_counter()
    settings = Settings.from_env()
    encoder = query_embedder(settings.encoder_dir, Embedder.from_setting(settings.embedding_model))
    index = load_index(index_dir)
    retriever = Retriever(index, encoder)
    loaded = time.perf_counter() - started
    p50, p95 = latencies(retriever.answer, [q.question for q in eval_questions()][:limit])
    rss, peak, mapped = memory_mb()
    return {
        "passages": index.size,
        "load_s": loaded,
        "p50_ms": p50,
        "p95_ms": p95,
        "rss_mb": rss,
        "peak_mb": peak,
        "file_mb": mapped,
    }


def measure_serving(size: Size, limit: int | None) -> None:
    run = run_measured(bench_cli("--serve", str(size.index_dir), *(["--questions", str(limit)] if limit else [])))
    size.serving = Serving(**json.loads(run.output.strip().splitlines()[-1]))
    size.windows = size.serving.passages
    size.query["this bot"] = (size.serving.p50_ms, size.serving.p95_ms)


def synthetic_build(corpus: Path, index_dir: Path) -> dict[str, int]:
    """Build the synthetic size through `build_index` with the synthetic encoder (see tools/synthetic.py)."""
    from bot.index import build_index

    settings = Settings.from_env()
    real = CountingEncoder(query_embedder(settings.encoder_dir, Embedder.from_setting(settings.embedding_model)))
    folder = Path(os.environ.get("BENCH_VECTOR_CACHE", VECTOR_CACHE))
    folder.mkdir(parents=True, exist_ok=True)
    cached = CachedEncoder(real, folder)
    encoder = SyntheticEncoder(cached)
    report = build_index(corpus, index_dir, encoder, reuse=False)
    cached.save()
    return {
        "windows": report.windows,
        "documents": report.documents,
        "perturbed_texts": encoder.perturbed,
        "unmarked_texts": encoder.unmarked,
        "embedded_texts": real.embedded,
    }


def measure_synthetic(size: Size, limit: int | None) -> None:
    run = run_measured(bench_cli("--synthetic-build", str(size.corpus), str(size.index_dir)))
    size.build_s, size.build_mb = run.seconds, run.peak_mb
    size.notes = json.loads(run.output.strip().splitlines()[-1])
    progress(
        f"{size.label}: built in {size.build_s:.0f} s from reused vectors ({size.notes['embedded_texts']:,} texts "
        f"embedded for real); serving"
    )
    measure_serving(size, limit)
    progress(f"  {size.label}: {size.windows:,} passages, query p50 {size.serving.p50_ms:.1f} ms")  # type: ignore[union-attr]


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


# --- measurements ---------------------------------------------------------------------------------------------


def measure_size(size: Size, embedder: Embedder, questions: list[str], naive: bool) -> None:
    progress(f"{size.label}: building ({size.files} files, {size.megabytes:.1f} MB)")
    built = run_measured(bot_cli("index", "--corpus", str(size.corpus), "--index", str(size.index_dir)))
    size.build_s, size.build_mb = built.seconds, built.peak_mb
    progress(f"  built in {size.build_s:.1f} s, peak {size.build_mb:.0f} MB; peer build")
    peer = run_measured(bench_cli("--peer-build", str(size.corpus), str(size.peer_dir)))
    size.peer_build_s, size.peer_build_mb = peer.seconds, peer.peak_mb
    if naive:
        progress("  naive build")
        size.naive_build_s = run_measured(bench_cli("--naive-build", str(size.corpus))).seconds
    progress("  serving process")
    measure_serving(size, len(questions))
    if naive:
        size.query["naive"] = latencies(Retriever(load_index(size.index_dir), embedder).answer, questions)
    size.query["peer"] = latencies(PeerRetriever(size.peer_dir, embedder).answer, questions)
    assert size.serving is not None
    progress(
        f"  {size.label}: {size.windows:,} passages, query p50 {size.serving.p50_ms:.1f} ms, "
        f"serving {size.serving.rss_mb:.0f} MB"
    )


def retriever_of(index: PassageIndex, encoder: TextEncoder, exact: bool) -> Retriever:
    """The served pipeline (FAISS and bm25s candidates), or the exact one (every window scored)."""
    return Retriever(index, encoder, exact=exact)


@dataclass
class Exactness:
    """The served pipeline against the exact one, on the evaluation questions."""

    recall: float  # mean share of the exact top 10 that the served top 10 holds
    compared: int  # questions the exact pipeline answered (recall is over these)
    disagree: int  # questions one pipeline answered and the other declined


def recall_of_exact(index: PassageIndex, encoder: TextEncoder, questions: list[str]) -> Exactness:
    served, exact = retriever_of(index, encoder, False), retriever_of(index, encoder, True)
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
    scores = evaluate(index, encoder, questions, retriever_of(index, encoder, False))
    scores[EXACT] = evaluate(index, encoder, questions, retriever_of(index, encoder, True), peers=False)[BOT]
    return {system: (s.hit1, s.hit3) for system, s in scores.items()}


@dataclass
class ColdStart:
    seconds: float  # best of 3, process start to the answer printed
    memory_mb: float  # peak resident memory of that process
    naive_seconds: float | None = None
    naive_memory_mb: float | None = None
    peer_seconds: float | None = None
    peer_memory_mb: float | None = None


def cold_starts(size: Size, baselines: bool = True) -> ColdStart:
    """`python -m bot ask` with the index built, beside the naive path (sentence-transformers for the question) and
    the peer (sentence-transformers + a FAISS search over paragraphs), each in its own process, best of 3."""
    commands = [bot_cli("ask", "--corpus", str(size.corpus), "--index", str(size.index_dir), "how do I start?")]
    if baselines:
        commands += [bench_cli("--naive-ask", str(size.index_dir)), bench_cli("--peer-ask", str(size.peer_dir))]
    best = [min((run_measured(command) for _ in range(3)), key=lambda r: r.seconds) for command in commands]
    return ColdStart(*itertools.chain.from_iterable((r.seconds, r.peak_mb) for r in best))


def naive_ask(index_dir: Path) -> None:
    retriever = Retriever(load_index(index_dir), Embedder.from_setting(Settings.from_env().embedding_model))
    print(retriever.answer("how do I start?").to_json())


def peer_ask(folder: Path) -> None:
    print(PeerRetriever(folder, Embedder.from_setting(Settings.from_env().embedding_model)).answer("how do I start?"))


def incremental(size: Size) -> dict[str, tuple[float, float, int]]:
    """Edit, add and remove one file of the large corpus. After each change, reindex with the CLI (its own process,
    reading the live build from disk) and with AnswerService.reindex, what /reindex runs (the live index in memory;
    it reuses what its own index holds, so the CLI's build before it saves it nothing). Returns
    {change: (CLI seconds, /reindex seconds, documents embedded by /reindex)}."""
    from bot.service import AnswerService

    settings = Settings.from_env()
    folder = size.corpus / ARCHIVE_FOLDER
    edited = folder / EDITED if (folder / EDITED).is_file() else sorted(folder.rglob("*.md"))[0]
    added = folder / "benchmark-added.md"
    service = AnswerService(
        size.corpus, size.index_dir, Embedder.from_setting(settings.embedding_model), encoder_dir=settings.encoder_dir
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
        cli = run_measured(bot_cli("index", "--corpus", str(size.corpus), "--index", str(size.index_dir))).seconds
        started = time.perf_counter()
        report = service.reindex()
        results[name] = (cli, time.perf_counter() - started, report.build.embedded_documents)
    return results


# --- Discord ----------------------------------------------------------------------------------------------------


def discord_figures(corpus: Path, index_dir: Path, questions: list[str]) -> dict[str, float]:
    """`python -m bot run` in its own process, as in production, against the loopback emulator from tests/ running in
    this one (imported here, never by the bot). Latency is measured where a user would see it: from posting the
    question to the reply arriving. Each user asks in their own DM: Discord allows a bot 5 messages per 5 s in one
    channel, so 20 replies in one channel would measure Discord's rate limit, not the bot."""
    from tests.emulator import DiscordEmulator

    heartbeat = 1.0  # seconds; short, so that a stall would show (Discord's own is about 41 s)

    async def scenario(tmp: Path) -> dict[str, float]:
        async with DiscordEmulator(heartbeat_interval=heartbeat) as emulator:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "AUTO_ANSWER", "COOLDOWN"))}
            env.update(emulator.bot_env())
            env.update(
                DISCORD_GUILD_ID=str(emulator.guild_id),
                DATABASE_PATH=str(tmp / "bot.sqlite3"),
                CORPUS_DIR=str(corpus),
                INDEX_DIR=str(index_dir),
                COOLDOWN_SECONDS="0",
            )
            started = time.perf_counter()
            process = await asyncio.create_subprocess_exec(
                *bot_cli("run"),
                env=env,
                cwd=PROJECT_ROOT,
                stdin=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                users = [emulator.add_user(f"user{i}") for i in range(50)]
                asked = itertools.cycle(questions)

                async def ask(user: dict) -> float:
                    t0 = time.perf_counter()
                    message = await emulator.send_dm(user, next(asked))
                    await emulator.wait_for_message(lambda m: m["channel_id"] == message["channel_id"], timeout=60)
                    return (time.perf_counter() - t0) * 1000

                await emulator.wait_until_ready(timeout=300)
                ready = time.perf_counter() - started
                await ask(users[0])
                first_answer = time.perf_counter() - started
                await asyncio.gather(*(ask(user) for user in users[:20]))  # warm-up round
                measured: list[float] = []
                for _ in range(10):  # 10 rounds of 20 users asking at once
                    measured += await asyncio.gather(*(ask(user) for user in users[:20]))
                status = Path(f"/proc/{process.pid}/status").read_text()
                rss = {
                    line.split(":")[0]: int(line.split()[1]) / 1024
                    for line in status.splitlines()
                    if line.startswith(("Vm", "Rss"))
                }

                await asyncio.sleep(2 * heartbeat)
                first = len(emulator.heartbeats) - 1
                await asyncio.gather(*(ask(user) for user in users))
                settled = len(emulator.heartbeats) + 2
                while len(emulator.heartbeats) < settled:
                    await asyncio.sleep(heartbeat / 5)
                gap = max(b - a for a, b in itertools.pairwise(emulator.heartbeats[first:]))
                problems = len(emulator.rejected) + len(emulator.pings)
            finally:
                if process.returncode is None:
                    process.terminate()
                await asyncio.wait_for(process.wait(), 30)
        return {
            "ready_s": ready,
            "first_answer_s": first_answer,
            "p50_ms": statistics.median(measured),
            "p95_ms": percentile(measured, 0.95),
            "rss_mb": rss["VmRSS"],
            "peak_mb": rss["VmHWM"],
            "file_mb": rss.get("RssFile", 0.0),
            "gap_x": gap / heartbeat,
            "problems": problems,
        }

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(scenario(Path(tmp)))


# --- report -------------------------------------------------------------------------------------------------------


@dataclass
class Results:
    sizes: list[Size]  # the real sizes, smallest first, then the synthetic one when it ran
    hits: dict[str, dict[str, tuple[float, float]]]  # corpus label -> system -> (hit@1, hit@3)
    exactness: Exactness | None
    cold: dict[str, ColdStart]
    inc: dict[str, tuple[float, float, int]]
    discord: dict[str, dict[str, float]]
    total_s: float
    skipped: list[str]
    questions: int  # evaluation questions timed

    @property
    def real(self) -> list[Size]:
        return [s for s in self.sizes if not s.synthetic]

    @property
    def largest(self) -> Size:
        return self.real[-1]

    @property
    def synthetic(self) -> Size | None:
        return next((s for s in self.sizes if s.synthetic), None)


def load_before() -> dict[str, Any]:
    return json.loads(BEFORE.read_text(encoding="utf-8"))


def growth(small: Size, large: Size) -> tuple[float, float, float]:
    """(passages ×, query p50 ×, exponent): latency grows as passages ** exponent between the two sizes."""
    assert small.serving is not None and large.serving is not None
    passages = large.windows / max(small.windows, 1)
    latency = large.serving.p50_ms / small.serving.p50_ms
    return passages, latency, math.log(latency) / math.log(passages) if passages > 1 else float("nan")


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = load_before()
    served = [s for s in results.sizes if s.serving is not None]
    real = results.real
    fig, (latency, memory, build) = plt.subplots(1, 3, figsize=(15, 4.4))
    latency.plot([s.windows for s in served], [s.serving.p50_ms for s in served], "o-", label="this bot")  # type: ignore[union-attr]
    latency.plot(
        [b["passages"] for b in before["sizes"]],
        [b["query_p50_ms"] for b in before["sizes"]],
        "x--",
        color="grey",
        label=f"before ({before['commit']})",
    )
    naive = [s for s in real if "naive" in s.query]
    latency.plot([s.windows for s in naive], [s.query["naive"][0] for s in naive], "s--", label="naive")
    latency.plot([s.windows for s in real], [s.query["peer"][0] for s in real], "^:", label="peer")
    latency.set(xlabel="passages", ylabel="warm query p50 (ms)", title="Query latency per question", xscale="log")
    memory.plot([s.windows for s in served], [s.serving.rss_mb for s in served], "o-", label="serving process")  # type: ignore[union-attr]
    sized = {s.label: s.windows for s in real}
    discord = [(sized[label], d["rss_mb"]) for label, d in results.discord.items() if label in sized]
    memory.plot([a for a, _ in discord], [b for _, b in discord], "D", label="Discord bot")
    first, last = before["sizes"][0], before["sizes"][-1]
    memory.plot(
        [first["passages"], last["passages"]],
        [before["discord"]["interview"]["rss_mb"], before["discord"]["largest"]["rss_mb"]],
        "x--",
        color="grey",
        label=f"Discord bot before ({before['commit']})",
    )
    memory.set(xlabel="passages", ylabel="resident memory (MB)", title="Memory of a serving process", xscale="log")
    build.plot([s.windows for s in real], [s.build_s for s in real], "o-", label="this bot (full build)")
    build.plot(
        [b["passages"] for b in before["sizes"]],
        [b["build_s"] for b in before["sizes"]],
        "x--",
        color="grey",
        label=f"before ({before['commit']})",
    )
    naive_built = [s for s in real if s.naive_build_s is not None]
    build.plot([s.windows for s in naive_built], [s.naive_build_s for s in naive_built], "s--", label="naive")
    build.plot([s.windows for s in real], [s.peer_build_s for s in real], "^:", label="peer (paragraphs only)")
    build.set(xlabel="passages", ylabel="index build (s)", title="Index build time (real sizes)", xscale="log")
    synthetic = results.synthetic
    if synthetic is not None and synthetic.serving is not None:
        for axes, y in ((latency, synthetic.serving.p50_ms), (memory, synthetic.serving.rss_mb)):
            axes.annotate("synthetic", (synthetic.windows, y), textcoords="offset points", xytext=(-20, 8), fontsize=8)
    for axes in (latency, memory, build):
        axes.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def mark(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "**no**")


def report(results: Results) -> list[str]:
    before = load_before()
    sizes, largest, synthetic = results.sizes, results.largest, results.synthetic
    out = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {dt.date.today().isoformat()}: {machine()}. The whole run took "
        f"{results.total_s / 60:.0f} minutes. The machine is shared, so figures vary from run to run by 10-30 %. "
        f'"Before" is the last run of the code before issue 11 ({before["commit"]}, tools/bench_before.json).',
        "",
        "![query latency, memory and build time against passages](benchmarks.png)",
        "",
    ]
    out += targets_table(results, before)
    out += [
        "",
        "## Build, query and memory by corpus size",
        "",
        "Build: `python -m bot index` from scratch, in its own process. Serving: a process that loads the index and "
        "answers the evaluation questions 3 times after a warm-up round (latency per question, embedding included; "
        "resident memory after the last). Naive: the same passages embedded with sentence-transformers, duplicates "
        "and all, and questions embedded with it (run up to 10 % of the archive). Peer: a dense-only retriever over "
        "whole paragraphs (sentence-transformers + FAISS IndexFlatIP).",
        "",
        "| corpus | files | MB | passages | build | build peak | naive build | peer build | query p50 / p95 "
        "| serving memory | naive query p50 | peer query p50 | before: passages, query p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    before_by_label = {b["label"]: b for b in before["sizes"]}
    for s in sizes:
        assert s.serving is not None
        p50, p95 = s.serving.p50_ms, s.serving.p95_ms
        if s.synthetic:
            build = "see below"
            peak = naive_build = peer_build = naive_q = peer_q = "—"
        else:
            build, peak = f"{s.build_s:.1f} s", f"{s.build_mb:.0f} MB"
            naive_build = (
                f"{s.naive_build_s:.1f} s ({ratio(s.build_s, s.naive_build_s)})" if s.naive_build_s else "not run"
            )
            assert s.peer_build_s is not None
            peer_build = f"{s.peer_build_s:.1f} s ({ratio(s.build_s, s.peer_build_s)})"
            naive_q = (
                f"{s.query['naive'][0]:.1f} ms ({ratio(p50, s.query['naive'][0])})" if "naive" in s.query else "not run"
            )
            peer_q = f"{s.query['peer'][0]:.1f} ms ({ratio(p50, s.query['peer'][0])})"
        b = before_by_label.get(s.label)
        was = f"{b['passages']:,}, {b['query_p50_ms']:.1f} ms" if b else "—"
        out.append(
            f"| {s.label} | {s.files} | {s.megabytes:.1f} | {s.windows:,} | {build} | {peak} | {naive_build} "
            f"| {peer_build} | {p50:.1f} / {p95:.1f} ms | {s.serving.rss_mb:.0f} MB | {naive_q} | {peer_q} | {was} |"
        )
    out += growth_note(results)
    if synthetic is not None:
        out += synthetic_section(synthetic, largest)
    out += other_figures(results)
    out += quality_section(results, before)
    out += ["", "## Left out of this run", ""]
    out.append(
        "- The naive path beyond 10 % of the archive (build and queries): at 100 % its build took over ten minutes "
        "and its queries measured the model, not the index (BENCH_NAIVE_ALL=1 runs it everywhere)."
    )
    out.append(
        f"- Build time at the synthetic size (its vectors are reused, not computed), the peer and the naive path "
        f"there, and the Discord bot there (it is run at the interview and at {largest.label})."
    )
    out += [f"- {part}: skipped with --skip." for part in results.skipped]
    if results.questions < len(eval_questions()):
        out.append(f"- Latency was timed on the first {results.questions} evaluation questions only (--questions).")
    return out


def targets_table(results: Results, before: dict[str, Any]) -> list[str]:
    largest, synthetic = results.largest, results.synthetic
    b_large, b_cold, b_discord = before["sizes"][-1], before["cold_start"]["largest"], before["discord"]["largest"]
    peer_flag = "dense-only peer (MiniLM+FAISS paragraphs)"
    rows: list[tuple[str, str, str, str, str, bool | None]] = []  # measure, target, now, before, peer, met
    d = results.discord.get(largest.label)
    rows.append(
        (
            "Discord: question → reply, 20 people at once, p50 / p95",
            "p95 ≤ 150 ms",
            f"{d['p50_ms']:.0f} / {d['p95_ms']:.0f} ms" if d else "not run",
            f"{b_discord['p50_ms']} / {b_discord['p95_ms']} ms",
            "—",
            d["p95_ms"] <= 150 if d else None,
        )
    )
    assert largest.serving is not None
    p50, p95 = largest.serving.p50_ms, largest.serving.p95_ms
    rows.append(
        (
            "warm `ask` p50 / p95 (serving process, per question)",
            "p50 ≤ 8 ms",
            f"{p50:.1f} / {p95:.1f} ms",
            f"{b_large['query_p50_ms']} / {b_large['query_p95_ms']} ms",
            f"{largest.query['peer'][0]:.1f} ms p50",
            p50 <= 8,
        )
    )
    memory = (
        f"Discord bot {d['rss_mb']:.0f} MB (peak {d['peak_mb']:.0f}; mapped index files {d.get('file_mb', 0):.0f}); "
        if d
        else ""
    )
    rows.append(
        (
            "bot resident memory after answering (of which pages of the memory-mapped index files, shared by every "
            "process serving the build)",
            "≤ 400 MB",
            f"{memory}serving process {largest.serving.rss_mb:.0f} MB (mapped {largest.serving.file_mb:.0f})",
            f"Discord bot {b_discord['rss_mb']} MB (peak {b_discord['peak_mb']})",
            "—",
            (d["rss_mb"] if d else largest.serving.rss_mb) <= 400,
        )
    )
    rows.append(
        (
            "full build (`python -m bot index`, from scratch): peak memory",
            "≤ 800 MB",
            f"{largest.build_mb:.0f} MB",
            f"{b_large['build_mb']} MB",
            f"{largest.peer_build_mb:.0f} MB",
            largest.build_mb <= 800,
        )
    )
    rows.append(
        (
            "full build: time",
            "≤ 5 min",
            f"{largest.build_s / 60:.1f} min",
            f"{b_large['build_s'] / 60:.1f} min",
            f"{(largest.peer_build_s or 0) / 60:.1f} min",
            largest.build_s <= 300,
        )
    )
    cold = results.cold.get(largest.label)
    rows.append(
        (
            "cold start to the first answer (`python -m bot ask`, index built), best of 3",
            "≤ 1.5 s",
            f"{cold.seconds:.2f} s, peak {cold.memory_mb:.0f} MB" if cold else "not run",
            f"{b_cold['seconds']} s, peak {b_cold['peak_mb']} MB",
            f"{cold.peer_seconds:.2f} s, peak {cold.peer_memory_mb:.0f} MB" if cold and cold.peer_seconds else "—",
            cold.seconds <= 1.5 if cold else None,
        )
    )
    if synthetic is not None and synthetic.serving is not None:
        times = synthetic.serving.p50_ms / p50
        rows.append(
            (
                f"warm query p50 at {synthetic.label}, {synthetic.windows:,} passages",
                "≤ 2× the figure at the largest real size",
                f"{synthetic.serving.p50_ms:.1f} ms = {times:.2f}× {p50:.1f} ms",
                "not measured",
                "—",
                times <= 2,
            )
        )
    e = results.exactness
    if e is not None:
        rows.append(
            (
                f"candidate recall: share of the exact pipeline's top-10 answers the served pipeline returns "
                f"(mean over {e.compared} answered evaluation questions)",
                "≥ 0.99",
                f"{e.recall:.3f}; {e.disagree} question(s) answered by one pipeline only",
                "— (it scored every window: it is the exact pipeline)",
                "—",
                e.recall >= 0.99,
            )
        )
    hits = results.hits.get(largest.label)
    if hits:
        (s1, s3), (x1, x3) = hits[BOT], hits[EXACT]
        b_hits = before["hits"]["largest"]
        peer1, peer3 = hits["peer: MiniLM+FAISS paragraphs"]
        rows.append(
            (
                "hit@1 / hit@3 of the evaluation questions: served pipeline (exact pipeline)",
                "within 0.01 of the exact pipeline",
                f"{s1:.2f} / {s3:.2f} ({x1:.2f} / {x3:.2f})",
                f"{b_hits['hit1']:.2f} / {b_hits['hit3']:.2f}",
                f"{peer1:.2f} / {peer3:.2f}",
                max(abs(s1 - x1), abs(s3 - x3)) <= 0.01 + 1e-9,
            )
        )
    out = [
        "## Targets (issue 11)",
        "",
        f"At the largest real size, {largest.label}: {largest.windows:,} passages. Peer: the {peer_flag}, measured "
        f"in this run.",
        "",
        f"| measure | target | now | before ({before['commit']}) | peer | met |",
        "|---|---|---|---|---|---|",
    ]
    out += [f"| {m} | {t} | {n} | {b} | {p} | {mark(ok)} |" for m, t, n, b, p, ok in rows]
    met = [m for m, *_, ok in rows if ok]
    missed = [m for m, *_, ok in rows if ok is False]
    out += [
        "",
        f"Met: {len(met)} of {len(met) + len(missed)} checked." + (f" Not met: {'; '.join(missed)}." if missed else ""),
    ]
    return out


def growth_note(results: Results) -> list[str]:
    served = [s for s in results.sizes if s.serving is not None]
    if len(served) < 2:
        return []
    lines = [
        "",
        "How query latency grows with passages (p50, serving process; exponent 1 is linear, below 1 sublinear):",
        "",
    ]
    pairs = [(results.largest, results.synthetic)] if results.synthetic else []
    pairs += [(served[1] if len(served) > 2 else served[0], served[-1])]
    for small, large in pairs:
        if small is None or large is None or small is large:
            continue
        passages, latency, exponent = growth(small, large)
        verdict = "sublinear" if exponent < 1 else "linear or worse"
        lines.append(
            f"- {small.label} → {large.label}: passages ×{passages:.1f}, p50 ×{latency:.2f} "
            f"(exponent {exponent:.2f}: {verdict})."
        )
    return lines


def synthetic_section(synthetic: Size, largest: Size) -> list[str]:
    n = synthetic.notes
    assert synthetic.serving is not None
    return [
        "",
        f"## The synthetic size ({synthetic.label})",
        "",
        "The archive once as it is and perturbed copies of it (tools/synthetic.py): every line of prose in a copy "
        "has a word joined to its first word and to the first word of every sentence in it (`Welcome` becomes "
        "`Welcomexqzb`), so no copy's passage reads like another's, while the other words, and so BM25 and the "
        "sentence structure, stay. **This size measures serving (query latency, memory, cold start), not build "
        "time**: embedding five times the archive for real would take about 45 minutes here, so its index is built "
        "through the real build path (`build_index`) with an encoder that gives each copy's text its original's "
        "vector (from the vector cache of `make eval`, or embedded once) plus small noise, made unit length again.",
        "",
        f"Its build: {n.get('documents', 0):,} documents, {synthetic.windows:,} passages, "
        f"{n.get('perturbed_texts', 0):,} texts with a copy's marker and {n.get('unmarked_texts', 0):,} without "
        f"(the original archive, the interview, the guides, and the few lines of a copy the marker does not reach); "
        f"{n.get('embedded_texts', 0):,} texts were embedded for real (not in the cache); "
        f"{synthetic.build_s:.0f} s and {synthetic.build_mb:.0f} MB peak, which is no build figure. Serving: loaded "
        f"and ready in {synthetic.serving.load_s:.1f} s, p50 / p95 {synthetic.serving.p50_ms:.1f} / "
        f"{synthetic.serving.p95_ms:.1f} ms, {synthetic.serving.rss_mb:.0f} MB resident "
        f"({largest.label}: {largest.serving.p50_ms:.1f} ms, {largest.serving.rss_mb:.0f} MB).",  # type: ignore[union-attr]
    ]


def other_figures(results: Results) -> list[str]:
    largest = results.largest
    out = ["", "## Other figures", "", "| measure | figure | target |", "|---|---|---|"]
    for label, c in results.cold.items():
        if label == largest.label:
            continue  # in the targets table
        baselines = ""
        if c.naive_seconds is not None and c.peer_seconds is not None:
            baselines = (
                f"; naive {c.naive_seconds:.2f} s ({ratio(c.seconds, c.naive_seconds)}), {c.naive_memory_mb:.0f} MB; "
                f"peer {c.peer_seconds:.2f} s ({ratio(c.seconds, c.peer_seconds)}), {c.peer_memory_mb:.0f} MB"
            )
        out.append(
            f"| cold start to the first answer (`python -m bot ask`, index built), {label}, best of 3 "
            f"| {c.seconds:.2f} s, peak {c.memory_mb:.0f} MB{baselines} | ≤ 1.5 s at the largest real size |"
        )
    for label, d in results.discord.items():
        out.append(
            f"| Discord bot: process start → connected / → first answer, {label} "
            f"| {d['ready_s']:.2f} s / {d['first_answer_s']:.2f} s | as soon as the cold start |"
        )
        if label != largest.label:
            out.append(
                f"| Discord bot: resident memory after 220 questions (peak), {label} "
                f"| {d['rss_mb']:.0f} MB ({d['peak_mb']:.0f} MB) | ≤ 350 MB with the interview |"
            )
            out.append(
                f"| Discord: question → reply, 20 users at once, p50 / p95, {label} "
                f"| {d['p50_ms']:.0f} / {d['p95_ms']:.0f} ms | p95 ≤ 150 ms |"
            )
        out.append(
            f"| Discord: largest heartbeat gap in a burst of 50 questions, {label} "
            f"| {d['gap_x']:.2f}× the interval | < 1.5× |"
        )
        out.append(f"| Discord: requests Discord would reject, pings, {label} | {d['problems']:.0f} | 0 |")
    for change, (cli, served, embedded) in results.inc.items():
        out.append(
            f"| incremental reindex after one file is {change}: CLI (own process) / `/reindex` path "
            f"({embedded} document(s) embedded), {largest.label} | {cli:.1f} s / {served:.1f} s "
            f"(full build {largest.build_s:.0f} s: {ratio(served, largest.build_s)}) | ≤ 10 s |"
        )
    return out


def quality_section(results: Results, before: dict[str, Any]) -> list[str]:
    hits = results.hits
    if not hits:
        return []
    out = [
        "",
        "## Retrieval quality with and without the large corpus",
        "",
        "The questions of `make eval` (dev + holdout: the interview's, the guides' and the archive's, which the "
        "smaller corpus cannot answer), asked of the corpus with the guides and of the same corpus with the large "
        "one added; a hit is a quote holding a gold span. The exact pipeline scores every window "
        "(`Retriever(..., exact=True)`); the served one scores the FAISS and bm25s candidates.",
    ]
    out += [
        "",
        "| system | " + " | ".join(f"hit@1 / hit@3, {label}" for label in hits) + " |",
        "|---|" + "---|" * len(hits),
    ]
    for system in next(iter(hits.values())):
        cells = [f"{hits[label][system][0]:.2f} / {hits[label][system][1]:.2f}" for label in hits]
        out.append(f"| {system} | " + " | ".join(cells) + " |")
    was = before["hits"]
    cells = [
        f"{was[key]['hit1']:.2f} / {was[key]['hit3']:.2f}" if key else "—"
        for key in (
            "+ 8 guides" if label == "+ 8 guides" else "largest" if label == before["largest"] else None
            for label in hits
        )
    ]
    out.append(f"| before ({before['commit']}) | " + " | ".join(cells) + " |")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--peer-build", nargs=2, type=Path, metavar=("CORPUS", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--naive-build", type=Path, metavar="CORPUS", help=argparse.SUPPRESS)
    parser.add_argument("--naive-ask", type=Path, metavar="INDEX", help=argparse.SUPPRESS)
    parser.add_argument("--peer-ask", type=Path, metavar="PEER", help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=Path, metavar="INDEX", help=argparse.SUPPRESS)
    parser.add_argument("--synthetic-build", nargs=2, type=Path, metavar=("CORPUS", "INDEX"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="the report (default BENCHMARKS.md; with --quick, a temporary one)")
    parser.add_argument(
        "--fractions",
        nargs="+",
        type=float,
        default=list(LARGE_FRACTIONS),
        help="shares of the archive to run as large sizes (default 0.1 0.5 1)",
    )
    parser.add_argument(
        "--copies",
        type=int,
        default=COPIES,
        help="the synthetic size: the largest archive share this many times (0: none)",
    )
    parser.add_argument(
        "--skip", nargs="+", default=[], choices=["naive", "discord", "incremental"], help="parts to leave out"
    )
    parser.add_argument("--questions", type=int, help="time only the first N evaluation questions (default all)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="check the whole run on small corpora: --fractions 0.01 --questions 12, the report in a temporary folder",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.peer_build:
        peer_build(*args.peer_build)
        return 0
    if args.naive_build:
        naive_build(args.naive_build)
        return 0
    if args.naive_ask:
        naive_ask(args.naive_ask)
        return 0
    if args.peer_ask:
        peer_ask(args.peer_ask)
        return 0
    if args.serve:
        print(json.dumps(serve(args.serve, args.questions)))
        return 0
    if args.synthetic_build:
        print(json.dumps(synthetic_build(*args.synthetic_build)))
        return 0

    if args.quick:
        args.fractions, args.questions = [0.01], args.questions or 12
    out: Path = args.out or (
        Path(tempfile.gettempdir()) / "bench-quick" / "BENCHMARKS.md" if args.quick else PROJECT_ROOT / "BENCHMARKS.md"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env()
    embedder = Embedder.from_setting(settings.embedding_model)
    encoder = query_embedder(settings.encoder_dir, embedder)  # made once here, so no build below pays for it
    archive: Path | None = Path(os.environ.get("BENCH_LARGE_ARCHIVE", DEFAULT_ARCHIVE))
    if not archive.is_file():
        progress(f"note: {archive} not found; the large-corpus sizes are left out")
        archive = None
    evalq = eval_questions()
    questions = [q.question for q in evalq][: args.questions]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sizes = make_corpora(work, archive, tuple(args.fractions))
        naive_all = bool(os.environ.get("BENCH_NAIVE_ALL"))
        for size in sizes:
            naive = "naive" not in args.skip and (naive_all or size.megabytes < 3)
            measure_size(size, embedder, questions, naive)
        first, largest = sizes[0], sizes[-1]
        if archive is not None and args.copies > 1:
            synthetic = make_synthetic(largest, work, args.copies)
            progress(f"{synthetic.label}: {synthetic.files} files, {synthetic.megabytes:.1f} MB; building")
            measure_synthetic(synthetic, len(questions))
            sizes.append(synthetic)

        progress("served against exact pipeline: recall and hit rates")
        hits: dict[str, dict[str, tuple[float, float]]] = {}
        exactness = None
        for s in sizes[1:2] + ([largest] if largest is not sizes[1] else []):
            index = load_index(s.index_dir)
            hits[s.label] = hit_rates(index, encoder, evalq)
            if s is largest:
                exactness = recall_of_exact(index, encoder, [q.question for q in evalq])
            del index
        progress("cold starts")
        cold = {s.label: cold_starts(s) for s in (first, largest)}
        if sizes[-1].synthetic:
            cold[sizes[-1].label] = cold_starts(sizes[-1], baselines=False)
        inc = {}
        if archive is not None and "incremental" not in args.skip:
            progress("incremental reindex")
            inc = incremental(largest)
        discord = {}
        if "discord" not in args.skip:
            for s in (first, largest):
                progress(f"Discord bot, {s.label}")
                discord[s.label] = discord_figures(s.corpus, s.index_dir, questions)

    total = time.perf_counter() - started
    results = Results(sizes, hits, exactness, cold, inc, discord, total, args.skip, len(questions))
    lines = report(results)
    print("\n".join(lines))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plot(results, out.with_name("benchmarks.png"))
    progress(f"wrote {out} and {out.with_name('benchmarks.png')}")
    return 0


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, {platform.machine()}, Python {platform.python_version()}"


if __name__ == "__main__":
    raise SystemExit(main())
