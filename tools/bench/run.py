"""`python -m tools.bench`: the whole run (every scenario at every size, then the report), the entries of the
processes it starts, and `--report-only FILE`, which draws the report again from a saved run."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from bot.config import PROJECT_ROOT
from tools.bench import discord_scenario, measure, report, results, scenarios

LARGE_FRACTIONS = (0.1, 0.5, 1.0)
COPIES = 5


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog="python -m tools.bench", description=(__doc__ or "").splitlines()[0])
    parse.add_argument("--build", nargs=2, type=Path, metavar=("CORPUS", "INDEX"), help=argparse.SUPPRESS)
    parse.add_argument("--peer-build", nargs=2, type=Path, metavar=("CORPUS", "OUT"), help=argparse.SUPPRESS)
    parse.add_argument("--naive-build", type=Path, metavar="CORPUS", help=argparse.SUPPRESS)
    parse.add_argument("--naive-ask", type=Path, metavar="INDEX", help=argparse.SUPPRESS)
    parse.add_argument("--peer-ask", type=Path, metavar="PEER", help=argparse.SUPPRESS)
    parse.add_argument("--serve", type=Path, metavar="INDEX", help=argparse.SUPPRESS)
    parse.add_argument("--synthetic-build", nargs=2, type=Path, metavar=("CORPUS", "INDEX"), help=argparse.SUPPRESS)
    parse.add_argument(
        "--report-only",
        type=Path,
        metavar="RESULTS",
        help="measure nothing: draw the report and plot again from a run's results file (benchmarks.json)",
    )
    parse.add_argument(
        "--out",
        type=Path,
        help="the report; the plot (benchmarks.png) and the results (benchmarks.json) go beside it "
        "(default BENCHMARKS.md; with --quick, a temporary one)",
    )
    parse.add_argument(
        "--fractions",
        nargs="+",
        type=float,
        default=list(LARGE_FRACTIONS),
        help="shares of the archive to run as large sizes (default 0.1 0.5 1)",
    )
    parse.add_argument(
        "--copies",
        type=int,
        default=COPIES,
        help="the synthetic size: the largest archive share this many times (0: none)",
    )
    parse.add_argument(
        "--skip", nargs="+", default=[], choices=["naive", "discord", "incremental"], help="parts to leave out"
    )
    parse.add_argument("--questions", type=int, help="time only the first N evaluation questions (default all)")
    parse.add_argument(
        "--quick",
        action="store_true",
        help="check the whole run on small corpora: --fractions 0.01 --questions 12, the report in a temporary folder",
    )
    return parse


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.build:
        print(json.dumps(scenarios.build(*args.build)))
    elif args.peer_build:
        scenarios.peer_build(*args.peer_build)
    elif args.naive_build:
        scenarios.naive_build(args.naive_build)
    elif args.naive_ask:
        scenarios.naive_ask(args.naive_ask)
    elif args.peer_ask:
        scenarios.peer_ask(args.peer_ask)
    elif args.serve:
        print(json.dumps(scenarios.serve(args.serve, args.questions)))
    elif args.synthetic_build:
        print(json.dumps(scenarios.synthetic_build(*args.synthetic_build)))
    elif args.report_only:
        out = args.out or args.report_only.with_name("BENCHMARKS.md")
        write_report(results.load(args.report_only), out)
    else:
        out = args.out or (
            Path(tempfile.gettempdir()) / "bench-quick" / "BENCHMARKS.md"
            if args.quick
            else PROJECT_ROOT / "BENCHMARKS.md"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        found = run(
            args, " ".join(["python -m tools.bench", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
        )
        results.save(found, out.with_name("benchmarks.json"))
        write_report(found, out)
    return 0


def write_report(found: results.Results, out: Path) -> None:
    lines = report.report(found)
    print("\n".join(lines))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report.plot(found, out.with_name("benchmarks.png"))
    measure.progress(f"wrote {out} and {out.with_name('benchmarks.png')}")


def run(args: argparse.Namespace, command: str) -> results.Results:
    """Every scenario, at every size."""
    if args.quick:
        args.fractions, args.questions = [0.01], args.questions or 12
    encoder = scenarios.encoder()  # made once here (the export too, when missing), so no build below pays for it
    archive: Path | None = Path(os.environ.get("BENCH_LARGE_ARCHIVE", scenarios.DEFAULT_ARCHIVE))
    if not archive.is_file():
        measure.progress(f"note: {archive} not found; the large-corpus sizes are left out")
        archive = None
    evalq = scenarios.eval_questions()
    questions = [q.question for q in evalq][: args.questions]
    started = time.perf_counter()
    measure.progress("the encoders side by side")
    speeds = scenarios.encoder_speeds()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sizes = scenarios.make_corpora(work, archive, tuple(args.fractions))
        naive_all = bool(os.environ.get("BENCH_NAIVE_ALL"))
        for size in sizes:
            naive = "naive" not in args.skip and (naive_all or size.megabytes < 3)
            scenarios.measure_size(size, questions, naive)
        first, largest = sizes[0], sizes[-1]
        if archive is not None and args.copies > 1:
            synthetic = scenarios.make_synthetic(largest, work, args.copies)
            measure.progress(f"{synthetic.label}: {synthetic.files} files, {synthetic.megabytes:.1f} MB; building")
            scenarios.measure_synthetic(synthetic, len(questions))
            sizes.append(synthetic)

        measure.progress("served against exact pipeline: recall and hit rates")
        from bot.index import load_index

        hits: dict[str, dict[str, tuple[float, float]]] = {}
        exactness = None
        for s in sizes[1:2] + ([largest] if largest is not sizes[1] else []):
            index = load_index(s.index_dir)
            hits[s.label] = scenarios.hit_rates(index, encoder, evalq)
            if s is largest:
                exactness = scenarios.recall_of_exact(index, encoder, [q.question for q in evalq])
            del index
        measure.progress("cold starts")
        cold = {s.label: scenarios.cold_starts(s) for s in (first, largest)}
        if sizes[-1].synthetic:
            cold[sizes[-1].label] = scenarios.cold_starts(sizes[-1], baselines=False)
        inc = {}
        if archive is not None and "incremental" not in args.skip:
            measure.progress("incremental reindex")
            inc = scenarios.incremental(largest)
        figures = {}
        if "discord" not in args.skip:
            for s in (first, largest):
                measure.progress(f"Discord bot, {s.label}")
                figures[s.label] = discord_scenario.discord_figures(s.corpus_dir, s.index_dir, questions)
    return results.Results(
        sizes=sizes,
        hits=hits,
        exactness=exactness,
        cold=cold,
        inc=inc,
        discord=figures,
        total_s=time.perf_counter() - started,
        skipped=args.skip,
        questions=len(questions),
        all_questions=len(evalq),
        date=dt.date.today().isoformat(),
        machine=measure.machine(),
        encoder=encoder.runtime,
        encoders=speeds,
        command=command,
    )
