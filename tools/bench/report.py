"""The report: BENCHMARKS.md and its plot, drawn from a run's results (`results.Results`, as saved to JSON) and the
targets (`targets.TARGETS`), beside the figures of the last run before issue 11 (tools/bench_before.json)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tools.bench.measure import ratio
from tools.bench.results import Results, Serving, Size
from tools.bench.scenarios import EXACT
from tools.bench.targets import TARGETS
from tools.evaluation import BOT

BEFORE = Path(__file__).parent.parent / "bench_before.json"
PEER = "peer: MiniLM+FAISS paragraphs"
# the phases bot/timing.py laps, as the report names them, in the order they run
BUILD_PHASES = {
    "listing": "listing, reuse",
    "parsing": "parsing",
    "embedding": "embedding",
    "writing": "writing",
    "bm25": "BM25",
    "graph": "graph (FAISS)",
    "derived": "derived arrays",
    "checksums": "checksums",
    "swap": "swap in",
}
QUESTION_PHASES = {
    "embedding": "embedding",
    "faiss": "FAISS",
    "bm25": "BM25",
    "scoring": "scoring",
    "second stage": "second stage",
    "selection": "selection (quotes)",
    "rest": "rest",
}


def second_stage_ms(serving: Serving) -> float:
    """The mean milliseconds a warm question spent in the second stage (0 when it had none)."""
    return serving.phases_ms.get("second stage", 0.0)


def load_before() -> dict[str, Any]:
    return json.loads(BEFORE.read_text(encoding="utf-8"))


def mark(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "**no**")


def figures(results: Results) -> dict[str, float | None]:
    """The figure each target judges (`targets.Target.figure`), None when this run did not measure it."""
    largest, synthetic = results.largest, results.synthetic
    serving = largest.serving
    discord = results.discord.get(largest.label)
    cold = results.cold.get(largest.label)
    edited = results.inc.get("edited")
    hits = results.hits.get(largest.label)
    return {
        "discord_p95_ms": discord["p95_ms"] if discord else None,
        "warm_p50_ms": serving.p50_ms - second_stage_ms(serving) if serving else None,
        "build_min": largest.build_s / 60 if largest.build_s else None,
        "build_peak_mb": largest.build_mb or None,
        "reindex_one_s": edited[1] if edited else None,
        "cold_start_s": cold.seconds if cold else None,
        "serving_rss_mb": discord["rss_mb"] if discord else (serving.rss_mb if serving else None),
        "synthetic_growth": (
            synthetic.serving.p50_ms / serving.p50_ms if synthetic and synthetic.serving and serving else None
        ),
        "candidate_recall": results.exactness.recall if results.exactness else None,
        "hits_vs_exact": (
            max(abs(hits[BOT][0] - hits[EXACT][0]), abs(hits[BOT][1] - hits[EXACT][1])) if hits else None
        ),
    }


def _cells(results: Results, before: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    """What the targets table shows for each figure: now, before, peer."""
    largest = results.largest
    serving = largest.serving
    b_large, b_cold, b_discord = before["sizes"][-1], before["cold_start"]["largest"], before["discord"]["largest"]
    d = results.discord.get(largest.label)
    cold = results.cold.get(largest.label)
    synthetic = results.synthetic
    cells: dict[str, tuple[str, str, str]] = {
        "discord_p95_ms": (
            f"{d['p50_ms']:.0f} / {d['p95_ms']:.0f} ms" if d else "not run",
            f"{b_discord['p50_ms']} / {b_discord['p95_ms']} ms",
            "—",
        ),
        "build_min": (
            f"{largest.build_s / 60:.1f} min",
            f"{b_large['build_s'] / 60:.1f} min",
            f"{(largest.peer_build_s or 0) / 60:.1f} min",
        ),
        "build_peak_mb": (
            f"{largest.build_mb:.0f} MB",
            f"{b_large['build_mb']} MB",
            f"{largest.peer_build_mb or 0:.0f} MB",
        ),
        "cold_start_s": (
            f"{cold.seconds:.2f} s, peak {cold.memory_mb:.0f} MB" if cold else "not run",
            f"{b_cold['seconds']} s, peak {b_cold['peak_mb']} MB",
            f"{cold.peer_seconds:.2f} s, peak {cold.peer_memory_mb:.0f} MB" if cold and cold.peer_seconds else "—",
        ),
    }
    if serving is not None:
        peer = largest.query.get("peer")
        second = second_stage_ms(serving)
        cells["warm_p50_ms"] = (
            f"{serving.p50_ms - second:.1f} ms (with the second stage's {second:.2f} ms: p50 / p95 "
            f"{serving.p50_ms:.1f} / {serving.p95_ms:.1f} ms)"
            if second
            else f"{serving.p50_ms:.1f} / {serving.p95_ms:.1f} ms",
            f"{b_large['query_p50_ms']} / {b_large['query_p95_ms']} ms",
            f"{peer[0]:.1f} ms p50" if peer else "—",
        )
        memory = (
            f"Discord bot {d['rss_mb']:.0f} MB (peak {d['peak_mb']:.0f}; mapped {d.get('file_mb', 0):.0f}); "
            if d
            else ""
        )
        cells["serving_rss_mb"] = (
            f"{memory}serving process {serving.rss_mb:.0f} MB (mapped {serving.file_mb:.0f})",
            f"Discord bot {b_discord['rss_mb']} MB (peak {b_discord['peak_mb']})",
            "—",
        )
    edited = results.inc.get("edited")
    cells["reindex_one_s"] = (
        f"{edited[1]:.1f} s (CLI {edited[0]:.1f} s)" if edited else "not run",
        "—",
        "—",
    )
    if synthetic is not None and synthetic.serving is not None and serving is not None:
        times = synthetic.serving.p50_ms / serving.p50_ms
        cells["synthetic_growth"] = (
            f"{synthetic.serving.p50_ms:.1f} ms at {synthetic.windows:,} passages = {times:.2f}× "
            f"{serving.p50_ms:.1f} ms",
            "not measured",
            "—",
        )
    e = results.exactness
    if e is not None:
        cells["candidate_recall"] = (
            f"{e.recall:.3f} over {e.compared} answered questions; {e.disagree} answered by one pipeline only",
            "— (it scored every window: it is the exact pipeline)",
            "—",
        )
    hits = results.hits.get(largest.label)
    if hits:
        (s1, s3), (x1, x3) = hits[BOT], hits[EXACT]
        b_hits = before["hits"]["largest"]
        peer1, peer3 = hits.get(PEER, (math.nan, math.nan))
        cells["hits_vs_exact"] = (
            f"{s1:.2f} / {s3:.2f} ({x1:.2f} / {x3:.2f})",
            f"{b_hits['hit1']:.2f} / {b_hits['hit3']:.2f}",
            f"{peer1:.2f} / {peer3:.2f}",
        )
    return cells


def targets_table(results: Results, before: dict[str, Any]) -> list[str]:
    largest = results.largest
    values, cells = figures(results), _cells(results, before)
    out = [
        "## Targets",
        "",
        f"With everything loaded: at the largest real size, {largest.label}, {largest.windows:,} passages. Peer: the "
        "dense-only peer (MiniLM+FAISS paragraphs), measured in this run. Targets are data (tools/bench/targets.py). "
        "The warm question's target is for the first stage: its figure is the p50 less the mean time of the second "
        "stage (bot/rerank.py), which the Discord figure includes.",
        "",
        f"| issue | measure | target | now | before ({before['commit']}) | peer | met |",
        "|---|---|---|---|---|---|---|",
    ]
    met: list[str] = []
    missed: list[str] = []
    for target in TARGETS:
        now, was, peer = cells.get(target.figure, ("not run", "—", "—"))
        ok = target.met(values.get(target.figure))
        (met if ok else missed if ok is False else []).append(target.measure)
        out.append(f"| {target.issue} | {target.measure} | {target.text} | {now} | {was} | {peer} | {mark(ok)} |")
    out += [
        "",
        f"Met: {len(met)} of {len(met) + len(missed)} checked." + (f" Not met: {'; '.join(missed)}." if missed else ""),
    ]
    return out


def report(results: Results) -> list[str]:
    before = load_before()
    sizes, largest, synthetic = results.sizes, results.largest, results.synthetic
    out = [
        "# Benchmarks",
        "",
        f"Measured by `{results.command or 'make bench'}` on {results.date}: {results.machine}. Encoder: "
        f"{results.encoder or 'onnxruntime'} (ENCODER_PRECISION). The whole run took {results.total_s / 60:.0f} "
        "minutes. The machine is shared, so figures vary from run to run by 10-30 %. "
        f'"Before" is the last run of the code before issue 11 ({before["commit"]}, tools/bench_before.json). '
        "This report is drawn from the run's results file (benchmarks.json): `python -m tools.bench --report-only "
        "benchmarks.json` draws it again.",
        "",
        "![query latency, memory, build time and the split of a warm question against passages](benchmarks.png)",
        "",
    ]
    out += targets_table(results, before)
    out += split_section(results)
    out += [
        "",
        "## Build, query and memory by corpus size",
        "",
        "Build: the build `python -m bot index` runs, from scratch, in its own process. Serving: a process that loads "
        "the index and answers the evaluation questions 3 times after a warm-up round (latency per question, "
        "embedding included; resident memory after the last). Naive: the same passages embedded with "
        "sentence-transformers, duplicates and all, and questions embedded with it (run up to 10 % of the archive). "
        "Peer: a dense-only retriever over whole paragraphs (sentence-transformers + FAISS IndexFlatIP).",
        "",
        "| corpus | files | MB | passages | build | build peak | naive build | peer build | query p50 / p95 "
        "| serving memory | naive query p50 | peer query p50 | before: passages, query p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    before_by_label = {b["label"]: b for b in before["sizes"]}
    for s in sizes:
        if s.serving is None:
            continue
        p50, p95 = s.serving.p50_ms, s.serving.p95_ms
        if s.synthetic:
            build = "see below"
            peak = naive_build = peer_build = naive_q = peer_q = "—"
        else:
            build, peak = f"{s.build_s:.1f} s", f"{s.build_mb:.0f} MB"
            naive_build = (
                f"{s.naive_build_s:.1f} s ({ratio(s.build_s, s.naive_build_s)})" if s.naive_build_s else "not run"
            )
            peer_build = f"{s.peer_build_s:.1f} s ({ratio(s.build_s, s.peer_build_s)})" if s.peer_build_s else "—"
            naive_q = (
                f"{s.query['naive'][0]:.1f} ms ({ratio(p50, s.query['naive'][0])})" if "naive" in s.query else "not run"
            )
            peer_q = f"{s.query['peer'][0]:.1f} ms ({ratio(p50, s.query['peer'][0])})" if "peer" in s.query else "—"
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
    if results.questions < results.all_questions:
        out.append(f"- Latency was timed on the first {results.questions} evaluation questions only (--questions).")
    return out


def split_section(results: Results) -> list[str]:
    """Where the time of a build and of a warm question goes, at every size (bot/timing.py's laps)."""
    built = [s for s in results.real if s.build_phases_s]
    served = [s for s in results.sizes if s.serving is not None and s.serving.phases_ms]
    if not built and not served and not results.encoders:
        return []
    out = ["", "## Where the time goes", ""]
    if built:
        phases = [p for p in BUILD_PHASES if any(p in s.build_phases_s for s in built)]
        out += [
            "A full build, in seconds by phase (its own process; the phases are timed in bot/index/build.py). "
            "Rest: what no phase holds, mostly imports and loading the encoder. Texts/s: distinct texts embedded "
            "per second of the embedding phase.",
            "",
            "| corpus | passages | texts embedded | "
            + " | ".join(BUILD_PHASES[p] for p in phases)
            + " | rest | total | texts/s |",
            "|---|---|---|" + "---|" * (len(phases) + 3),
        ]
        for s in built:
            rest = max(0.0, s.build_s - sum(s.build_phases_s.values()))
            speed = f"{s.texts_per_s:.0f}" if s.texts_per_s else "—"
            cells = [f"{s.build_phases_s.get(p, 0.0):.2f}" for p in phases]
            out.append(
                f"| {s.label} | {s.windows:,} | {s.embedded_texts:,} | {' | '.join(cells)} | {rest:.2f} "
                f"| {s.build_s:.1f} | {speed} |"
            )
    if served:
        phases = [p for p in QUESTION_PHASES if any(p in s.serving.phases_ms for s in served)]  # type: ignore[union-attr]
        out += [
            "",
            "A warm question, in milliseconds by phase: the mean over the evaluation questions asked of a serving "
            "process (timed in bot/retrieval.py). Embedding is the question's encoder run; scoring everything from "
            "the candidates to the decision to answer; selection picks and cuts the quotes; rest is what no phase "
            "holds (the suggestions of a declined question).",
            "",
            "| corpus | passages | " + " | ".join(QUESTION_PHASES[p] for p in phases) + " | mean | p50 |",
            "|---|---|" + "---|" * (len(phases) + 2),
        ]
        for s in served:
            assert s.serving is not None
            cells = [f"{s.serving.phases_ms.get(p, 0.0):.2f}" for p in phases]
            total = sum(s.serving.phases_ms.values())
            out.append(f"| {s.label} | {s.windows:,} | {' | '.join(cells)} | {total:.2f} | {s.serving.p50_ms:.2f} |")
    if results.encoders:
        out += [
            "",
            "The encoders side by side (ENCODER_PRECISION), measured in turns in one process so that a busy machine "
            "slows both alike: the guides' distinct texts embedded as a build embeds them (best of 3), and the dev "
            "questions one at a time.",
            "",
            "| encoder | build: texts/s | question: p50 / p95 |",
            "|---|---|---|",
        ]
        for runtime, speed in results.encoders.items():
            used = " (this run's)" if runtime == results.encoder else ""
            out.append(
                f"| {runtime}{used} | {speed['texts_per_s']:.0f} ({speed['texts']:.0f} texts) "
                f"| {speed['query_p50_ms']:.2f} / {speed['query_p95_ms']:.2f} ms |"
            )
    return out


def growth(small: Size, large: Size) -> tuple[float, float, float]:
    """(passages ×, query p50 ×, exponent): latency grows as passages ** exponent between the two sizes."""
    assert small.serving is not None and large.serving is not None
    passages = large.windows / max(small.windows, 1)
    latency = large.serving.p50_ms / small.serving.p50_ms
    return passages, latency, math.log(latency) / math.log(passages) if passages > 1 else float("nan")


def growth_note(results: Results) -> list[str]:
    served = [s for s in results.sizes if s.serving is not None]
    if len(served) < 2:
        return []
    lines = [
        "",
        "How query latency grows with passages (p50, serving process; exponent 1 is linear, below 1 sublinear):",
        "",
    ]
    pairs: list[tuple[Size, Size | None]] = [(results.largest, results.synthetic)] if results.synthetic else []
    pairs += [(served[1] if len(served) > 2 else served[0], served[-1])]
    for small, large in pairs:
        if large is None or small is large:
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
    if synthetic.serving is None or largest.serving is None:
        return []
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
        f"({largest.label}: {largest.serving.p50_ms:.1f} ms, {largest.serving.rss_mb:.0f} MB).",
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
            f"(full build {largest.build_s:.0f} s: {ratio(served, largest.build_s)}) | ≤ 5 s |"
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
        "",
        "| system | " + " | ".join(f"hit@1 / hit@3, {label}" for label in hits) + " |",
        "|---|" + "---|" * len(hits),
    ]
    for system in next(iter(hits.values())):
        cells = [f"{hits[label][system][0]:.2f} / {hits[label][system][1]:.2f}" for label in hits]
        out.append(f"| {system} | " + " | ".join(cells) + " |")
    was = before["hits"]
    keys = [
        "+ 8 guides" if label == "+ 8 guides" else "largest" if label == before["largest"] else None for label in hits
    ]
    cells = [f"{was[key]['hit1']:.2f} / {was[key]['hit3']:.2f}" if key else "—" for key in keys]
    out.append(f"| before ({before['commit']}) | " + " | ".join(cells) + " |")
    return out


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = load_before()
    served = [s for s in results.sizes if s.serving is not None]
    real = results.real
    fig, ((latency, memory), (build, split)) = plt.subplots(2, 2, figsize=(13, 8.8))
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
    peers = [s for s in real if "peer" in s.query]
    latency.plot([s.windows for s in peers], [s.query["peer"][0] for s in peers], "^:", label="peer")
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
    peer_built = [s for s in real if s.peer_build_s is not None]
    build.plot([s.windows for s in peer_built], [s.peer_build_s for s in peer_built], "^:", label="peer (paragraphs)")
    build.set(xlabel="passages", ylabel="index build (s)", title="Index build time (real sizes)", xscale="log")
    synthetic = results.synthetic
    if synthetic is not None and synthetic.serving is not None:
        for axes, y in ((latency, synthetic.serving.p50_ms), (memory, synthetic.serving.rss_mb)):
            axes.annotate("synthetic", (synthetic.windows, y), textcoords="offset points", xytext=(-20, 8), fontsize=8)
    split_plot(split, [s for s in served if s.serving and s.serving.phases_ms])
    for axes in (latency, memory, build):
        axes.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def split_plot(axes: Any, sizes: list[Size]) -> None:
    """A stacked bar per size: the mean milliseconds of each phase of a warm question."""
    bottoms = [0.0] * len(sizes)
    labels = [f"{s.windows:,}" for s in sizes]
    for phase, name in QUESTION_PHASES.items():
        values = [s.serving.phases_ms.get(phase, 0.0) for s in sizes]  # type: ignore[union-attr]
        axes.bar(labels, values, bottom=bottoms, label=name)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    axes.set(xlabel="passages", ylabel="mean ms per question", title="Where a warm question's time goes")
    axes.legend(fontsize=8)
