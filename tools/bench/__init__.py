"""`make bench`: every speed, memory and scale figure of the project in one run, each beside its baselines.

Corpus sizes: the project corpus (the interview), + the 8 contributor-guide documents from tests/fixtures, + 10 %,
50 % and 100 % of the Kubernetes community repository's Markdown (965 files, read from the sample archive beside the
project: ../shared/samples/kubernetes-community-docs.tar.gz, or BENCH_LARGE_ARCHIVE), and a synthetic 5× size (the
archive once as it is and 4 perturbed copies; tools/synthetic.py). At each real size:

- a full index build, as a user runs it (the build of `python -m bot index`, in its own process): time, peak memory
  and where the time goes (listing, parsing, embedding, writing, BM25, graph, derived arrays, checksums, swap);
- a serving process (load the index, answer the evaluation questions 3 times after a warm-up round): load time,
  warm query latency p50 / p95, resident memory read from /proc, and where a question's time goes (embedding, FAISS,
  BM25, scoring, selection);
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

The run saves what it found to benchmarks.json, then draws BENCHMARKS.md and its plot (benchmarks.png) from that file
and the targets (targets.py), beside the figures of the last run of the code before issue 11
(tools/bench_before.json). `python -m tools.bench --report-only benchmarks.json` draws them again without measuring.
The encoder is the configured one (ENCODER_PRECISION). Nothing here is a test.

A quick check of the whole run on small corpora (a few minutes; writes to a temporary folder, not BENCHMARKS.md):
`python -m tools.bench --quick` (1 % of the archive, ten files, as the "large" size and 5 copies of it), or choose
with --fractions, --copies, --skip and --out.

The modules: `measure.py` (a command's time and peak memory, latencies, memory), `scenarios.py` (corpora, builds,
serving, baselines, the synthetic size, cold starts, incremental reindexing, quality), `discord_scenario.py` (the
Discord scenario: the only module that imports the emulator from tests/), `results.py` (the run's results and their
JSON), `targets.py` (the targets, as data), `report.py` (BENCHMARKS.md and the plot) and `run.py` (the command line).
"""
