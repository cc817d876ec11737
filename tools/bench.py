"""`make bench`: every speed, memory and scale figure of the project in one run, each beside its baselines.

One file of about 600 lines: every measurement shares the corpora it lays out and the one report it writes.

Corpus sizes: the project corpus (the interview), + the 8 contributor-guide documents from tests/fixtures, and + 10 %,
50 % and 100 % of the Kubernetes community repository's Markdown (965 files, read from the sample archive beside the
project: ../shared/samples/kubernetes-community-docs.tar.gz, or BENCH_LARGE_ARCHIVE). At each size:

- full index build, as a user runs it (`python -m bot index` in its own process): time and peak memory;
- warm query latency (p50 / p95 over the evaluation questions);
- the same for two baselines measured in this run: the naive path (sentence-transformers for questions and for every
  passage, no reuse, no de-duplication; built only up to 10 % unless BENCH_NAIVE_ALL=1, since at 100 % it takes
  over ten minutes), and the typical peer, a dense-only retriever over whole paragraphs (MiniLM via
  sentence-transformers + FAISS IndexFlatIP).

Then: cold start to the first answer; the Discord bot (`python -m bot run` against the loopback emulator from tests/)
started, connected and answering, its resident memory, reply latency with 20 people asking at once and the heartbeat
during a burst, with the interview corpus and with the full large corpus; incremental reindex after one file of the
large corpus is edited, added or removed (CLI and the /reindex code path); recall@10 of the served dense search
against exact search; hit@3 of the evaluation questions with and without the large corpus.

Results are printed and written to BENCHMARKS.md with a plot (benchmarks.png). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
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

from bot.config import PROJECT_ROOT, Settings
from bot.embedding import Embedder, TextEncoder
from bot.encoder import query_embedder
from bot.index import PassageIndex, load_index
from bot.retrieval import Retriever, _top
from tools.evaluation import EVAL_DIR, GUIDES_DIR, EvalQuestion, evaluate, load_questions

DEFAULT_ARCHIVE = PROJECT_ROOT.parent / "shared" / "samples" / "kubernetes-community-docs.tar.gz"
LARGE_FRACTIONS = (0.1, 0.5, 1.0)
EDITED = "CONTRIBUTING.md"  # the large-corpus file edited and removed by the incremental benchmark


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ratio(ours: float, base: float) -> str:
    return f"{base / ours:.1f}× faster" if ours <= base else f"{ours / base:.1f}× slower"


@dataclass
class Size:
    label: str
    corpus: Path
    files: int
    megabytes: float
    windows: int = 0
    build_s: float = 0.0
    build_mb: float = 0.0
    peer_build_s: float = 0.0
    naive_build_s: float | None = None
    query: dict[str, tuple[float, float]] = field(default_factory=dict)  # system -> (p50, p95) ms


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


def run_measured(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run a command to completion: (seconds, peak resident memory in MB)."""
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as err:
        peak = Path(tmp) / "peak"
        started = time.perf_counter()
        process = subprocess.run(
            [sys.executable, "-c", _PEAK_OF, str(peak), *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if process.returncode != 0:
            err.seek(0)
            raise BenchError(f"{' '.join(args[1:4])} failed: {err.read().decode(errors='replace')[-2000:]}")
        return elapsed, int(peak.read_text()) / 1024


def bot_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


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


# --- corpora ----------------------------------------------------------------------------------------------------


def make_corpora(work: Path, archive: Path | None) -> list[Size]:
    settings = Settings.from_env()
    sizes = []

    def corpus(label: str, large: list[Path] | None, root: Path | None) -> Size:
        target = work / f"corpus-{len(sizes)}"
        shutil.copytree(settings.corpus_dir, target)
        if large is not None:
            shutil.copytree(GUIDES_DIR, target / "k8s-contributor-guide")
            for path in large:
                dest = target / "k8s-community" / path.relative_to(root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)
        files = [p for p in target.rglob("*") if p.is_file()]
        return Size(label, target, len(files), sum(p.stat().st_size for p in files) / 1e6)

    sizes.append(corpus("interview", None, None))
    sizes.append(corpus("+ 8 guides", [], None))
    if archive is not None:
        root = work / "large"
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
        everything = sorted(p for p in root.rglob("*") if p.is_file())
        for fraction in LARGE_FRACTIONS:
            step = round(1 / fraction)
            chosen = everything if fraction == 1.0 else everything[::step]
            sizes.append(corpus(f"+ {fraction:.0%} large ({len(chosen)} files)", chosen, root))
    return sizes


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


def measure_size(size: Size, work: Path, encoder: TextEncoder, embedder: Embedder, questions: list[str]) -> None:
    index_dir = work / f"index-{size.corpus.name}"
    size.build_s, size.build_mb = run_measured(
        bot_cli("index", "--corpus", str(size.corpus), "--index", str(index_dir))
    )
    peer_dir = work / f"peer-{size.corpus.name}"
    size.peer_build_s, _ = run_measured(
        [sys.executable, "-m", "tools.bench", "--peer-build", str(size.corpus), str(peer_dir)]
    )
    if size.megabytes < 3 or os.environ.get("BENCH_NAIVE_ALL"):
        size.naive_build_s, _ = run_measured([sys.executable, "-m", "tools.bench", "--naive-build", str(size.corpus)])
    index = load_index(index_dir)
    size.windows = index.size
    ours = Retriever(index, encoder)
    size.query["this bot"] = latencies(ours.answer, questions)
    naive = Retriever(index, embedder)
    size.query["naive"] = latencies(naive.answer, questions)
    peer = PeerRetriever(peer_dir, embedder)
    size.query["peer"] = latencies(peer.answer, questions)
    print(f"  {size.label}: {size.windows} passages, build {size.build_s:.1f} s", file=sys.stderr, flush=True)


def recall_at_10(index: PassageIndex, encoder: TextEncoder, questions: list[str]) -> float:
    """How many of the exact top 10 (FAISS IndexFlatIP search) the served candidate step finds."""
    found = 0
    for q in questions:
        vector = encoder.encode_query(q)
        _, exact = index.window_index.search(vector.reshape(1, -1), 10)
        served = _top(index.window_vectors @ vector, 10)
        found += len(set(exact[0]) & set(served.tolist()))
    return found / (10 * len(questions))


def hit_rates(
    index: PassageIndex, encoder: TextEncoder, questions: list[EvalQuestion]
) -> dict[str, tuple[float, float]]:
    """hit@1 and hit@3 of this bot and of the two baselines of `make eval`, on one index."""
    return {system: (s.hit1, s.hit3) for system, s in evaluate(index, encoder, questions).items()}


@dataclass
class ColdStart:
    seconds: float  # best of 3, process start to the answer printed
    memory_mb: float  # peak resident memory of that process
    naive_seconds: float
    naive_memory_mb: float
    peer_seconds: float
    peer_memory_mb: float


def cold_starts(index_dir: Path, corpus: Path, peer_dir: Path) -> ColdStart:
    """`python -m bot ask` with the index built, beside the naive path (sentence-transformers for the question) and
    the peer (sentence-transformers + a FAISS search over paragraphs), each in its own process, best of 3."""
    commands = [
        bot_cli("ask", "--corpus", str(corpus), "--index", str(index_dir), "how do I start?"),
        [sys.executable, "-m", "tools.bench", "--naive-ask", str(index_dir)],
        [sys.executable, "-m", "tools.bench", "--peer-ask", str(peer_dir)],
    ]
    best = [min((run_measured(command) for _ in range(3)), key=lambda r: r[0]) for command in commands]
    return ColdStart(*best[0], *best[1], *best[2])


def naive_ask(index_dir: Path) -> None:
    retriever = Retriever(load_index(index_dir), Embedder.from_setting(Settings.from_env().embedding_model))
    print(retriever.answer("how do I start?").to_json())


def peer_ask(folder: Path) -> None:
    print(PeerRetriever(folder, Embedder.from_setting(Settings.from_env().embedding_model)).answer("how do I start?"))


def incremental(size: Size, work: Path) -> dict[str, tuple[float, float, int]]:
    """Edit, add and remove one file of the large corpus. After each change, reindex with the CLI (its own process,
    reading the live build from disk) and with AnswerService.reindex, what /reindex runs (the live index in memory;
    it reuses what its own index holds, so the CLI's build before it saves it nothing). Returns
    {change: (CLI seconds, /reindex seconds, documents embedded by /reindex)}."""
    from bot.service import AnswerService

    settings = Settings.from_env()
    index_dir = work / f"index-{size.corpus.name}"
    edited = size.corpus / "k8s-community" / EDITED
    added = size.corpus / "k8s-community" / "benchmark-added.md"
    service = AnswerService(
        size.corpus, index_dir, Embedder.from_setting(settings.embedding_model), encoder_dir=settings.encoder_dir
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
        cli, _ = run_measured(bot_cli("index", "--corpus", str(size.corpus), "--index", str(index_dir)))
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
                rss = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status.splitlines() if "Vm" in line}

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
            "gap_x": gap / heartbeat,
            "problems": problems,
        }

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(scenario(Path(tmp)))


# --- report -------------------------------------------------------------------------------------------------------


def plot(sizes: list[Size], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [s.megabytes for s in sizes]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for system, style in (("this bot", "o-"), ("naive", "s--"), ("peer", "^:")):
        left.plot(x, [s.query[system][0] for s in sizes], style, label=system)
    left.set(xlabel="corpus size (MB of files)", ylabel="warm query latency p50 (ms)", title="Query latency")
    left.set_xscale("symlog", linthresh=0.1)
    left.legend()
    right.plot(x, [s.build_s for s in sizes], "o-", label="this bot (full build)")
    naive = [(s.megabytes, s.naive_build_s) for s in sizes if s.naive_build_s is not None]
    right.plot([a for a, _ in naive], [b for _, b in naive], "s--", label="naive")
    right.plot(x, [s.peer_build_s for s in sizes], "^:", label="peer (paragraphs only)")
    right.set(xlabel="corpus size (MB of files)", ylabel="index build (s)", title="Index build time")
    right.set_xscale("symlog", linthresh=0.1)
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--peer-build", nargs=2, type=Path, metavar=("CORPUS", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--naive-build", type=Path, metavar="CORPUS", help=argparse.SUPPRESS)
    parser.add_argument("--naive-ask", type=Path, metavar="INDEX", help=argparse.SUPPRESS)
    parser.add_argument("--peer-ask", type=Path, metavar="PEER", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "BENCHMARKS.md")
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

    settings = Settings.from_env()
    embedder = Embedder.from_setting(settings.embedding_model)
    encoder = query_embedder(settings.encoder_dir, embedder)  # made once here, so no build below pays for it
    archive = Path(os.environ.get("BENCH_LARGE_ARCHIVE", DEFAULT_ARCHIVE))
    if not archive.is_file():
        print(f"note: {archive} not found; the large-corpus sizes are left out", file=sys.stderr)
        archive = None  # type: ignore[assignment]
    evalq = [q for name in ("dev", "holdout") for q in load_questions(EVAL_DIR / f"{name}.jsonl")]
    questions = [q.question for q in evalq]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sizes = make_corpora(work, archive)
        for size in sizes:
            measure_size(size, work, encoder, embedder, questions)
        first, largest = sizes[0], sizes[-1]
        index_of = {s.label: load_index(work / f"index-{s.corpus.name}") for s in (sizes[1], largest)}

        hits = {label: hit_rates(index, encoder, evalq) for label, index in index_of.items()}
        recall = recall_at_10(index_of[largest.label], encoder, questions)
        cold = {
            s.label: cold_starts(work / f"index-{s.corpus.name}", s.corpus, work / f"peer-{s.corpus.name}")
            for s in (first, largest)
        }
        inc = incremental(largest, work) if archive is not None else {}
        discord = {
            s.label: discord_figures(s.corpus, work / f"index-{s.corpus.name}", questions) for s in (first, largest)
        }

    total = time.perf_counter() - started
    lines = report(sizes, hits, recall, cold, inc, discord, total)
    print("\n".join(lines))
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plot(sizes, args.out.with_name("benchmarks.png"))
    print(f"\nwrote {args.out} and {args.out.with_name('benchmarks.png')}", file=sys.stderr)
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


def report(
    sizes: list[Size],
    hits: dict[str, dict[str, tuple[float, float]]],
    recall: float,
    cold: dict[str, ColdStart],
    inc: dict[str, tuple[float, float, int]],
    discord: dict[str, dict[str, float]],
    total: float,
) -> list[str]:
    out = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {dt.date.today().isoformat()}: {machine()}. The whole run took "
        f"{total / 60:.0f} minutes. The machine is shared, so figures vary from run to run by 10-30 %.",
        "",
        "![query latency and build time against corpus size](benchmarks.png)",
        "",
        "## Build and query time by corpus size",
        "",
        "Build: `python -m bot index` from scratch, in its own process (ONNX Runtime, each distinct text embedded "
        "once). Naive: the same passages embedded with sentence-transformers, duplicates and all. Peer: a dense-only "
        "retriever over whole paragraphs (sentence-transformers + FAISS IndexFlatIP). Query: warm, per question, over "
        "the evaluation questions asked 3 times; the naive query embeds with sentence-transformers.",
        "",
        "| corpus | files | MB | passages | build | peak memory | naive build | peer build | query p50 / p95 "
        "| naive query p50 | peer query p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sizes:
        p50, p95 = s.query["this bot"]
        naive_build = (
            f"{s.naive_build_s:.1f} s ({ratio(s.build_s, s.naive_build_s)})"
            if s.naive_build_s is not None
            else "not run"
        )
        out.append(
            f"| {s.label} | {s.files} | {s.megabytes:.1f} | {s.windows:,} | {s.build_s:.1f} s | {s.build_mb:.0f} MB "
            f"| {naive_build} | {s.peer_build_s:.1f} s ({ratio(s.build_s, s.peer_build_s)}) | {p50:.1f} / {p95:.1f} ms "
            f"| {s.query['naive'][0]:.1f} ms ({ratio(p50, s.query['naive'][0])}) "
            f"| {s.query['peer'][0]:.1f} ms ({ratio(p50, s.query['peer'][0])}) |"
        )
    largest = sizes[-1]
    out += ["", "## Targets", "", "| measure | figure | target |", "|---|---|---|"]
    for label, c in cold.items():
        out.append(
            f"| cold start to the first answer (`python -m bot ask`, index built), {label}, best of 3 "
            f"| {c.seconds:.2f} s, peak {c.memory_mb:.0f} MB; naive {c.naive_seconds:.2f} s "
            f"({ratio(c.seconds, c.naive_seconds)}), {c.naive_memory_mb:.0f} MB; peer {c.peer_seconds:.2f} s "
            f"({ratio(c.seconds, c.peer_seconds)}), {c.peer_memory_mb:.0f} MB | ≤ 4 s |"
        )
    for label, d in discord.items():
        out.append(
            f"| Discord bot: process start → connected / → first answer, {label} "
            f"| {d['ready_s']:.2f} s / {d['first_answer_s']:.2f} s | as soon as the cold start |"
        )
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
    out.append(
        f"| full build, {largest.label} | {largest.build_s / 60:.1f} min, peak {largest.build_mb:.0f} MB | ≤ 8 min |"
    )
    p50, _ = largest.query["this bot"]
    out.append(f"| warm query p50, {largest.label} | {p50:.1f} ms | ≤ 25 ms |")
    out.append(
        f"| recall@10 of the served dense search against exact search, {largest.label} | {recall:.3f} "
        "| ≥ 0.99 (the index stays exact at every size) |"
    )
    for change, (cli, served, embedded) in inc.items():
        out.append(
            f"| incremental reindex after one file is {change}: CLI (own process) / `/reindex` path "
            f"({embedded} document(s) embedded), {largest.label} | {cli:.1f} s / {served:.1f} s "
            f"(full build {largest.build_s:.0f} s: {ratio(served, largest.build_s)}) | ≤ 10 s |"
        )
    out += [
        "",
        "## Retrieval quality with and without the large corpus",
        "",
        "The questions of `make eval` (dev + holdout: the interview's, the guides' and the archive's, which the "
        "smaller corpus cannot answer), asked of the corpus with the "
        "guides and of the same corpus with the large one added; a hit is a quote holding a gold span.",
        "",
        "| system | " + " | ".join(f"hit@1 / hit@3, {label}" for label in hits) + " |",
        "|---|" + "---|" * len(hits),
    ]
    systems = next(iter(hits.values()))
    for system in systems:
        cells = [f"{hits[label][system][0]:.2f} / {hits[label][system][1]:.2f}" for label in hits]
        out.append(f"| {system} | " + " | ".join(cells) + " |")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
