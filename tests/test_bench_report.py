"""The bench's report is drawn from a results file alone, against the targets held as data: a report can be redrawn
without measuring anything (`python -m tools.bench --report-only`)."""

from __future__ import annotations

from pathlib import Path

from tools.bench import report, results
from tools.bench.results import ColdStart, Exactness, Results, Serving, Size
from tools.bench.run import main
from tools.bench.scenarios import EXACT
from tools.bench.targets import TARGETS
from tools.evaluation import BOT


def sample() -> Results:
    def size(label: str, windows: int, p50: float) -> Size:
        return Size(
            label,
            f"/tmp/corpus-{windows}",
            files=3,
            megabytes=0.5,
            windows=windows,
            build_s=10.0,
            build_mb=500.0,
            build_phases_s={"parsing": 0.5, "embedding": 8.0, "bm25": 0.2, "graph": 0.1, "derived": 0.3},
            embedded_texts=4000,
            peer_build_s=6.0,
            peer_build_mb=450.0,
            serving=Serving(
                windows, 0.9, p50, p50 * 1.3, 300.0, 310.0, 50.0, {"embedding": 2.0, "faiss": 0.2, "scoring": 3.0}
            ),
            query={"this bot": (p50, p50 * 1.3), "peer": (7.0, 8.0)},
        )

    sizes = [size("interview", 302, 4.0), size("+ 100% large (965 files)", 105_594, 9.0)]
    return Results(
        sizes=sizes,
        hits={sizes[-1].label: {BOT: (0.38, 0.58), EXACT: (0.38, 0.58), report.PEER: (0.15, 0.21)}},
        exactness=Exactness(0.995, 200, 0),
        cold={sizes[-1].label: ColdStart(1.1, 360.0, peer_seconds=5.0, peer_memory_mb=600.0)},
        inc={"edited": (4.0, 3.5, 1)},
        discord={},
        total_s=600.0,
        skipped=["discord"],
        questions=12,
        all_questions=230,
        date="2026-12-05",
        machine="2 cores",
        encoder="onnxruntime-int8",
        encoders={"onnxruntime-int8": {"texts": 1192, "texts_per_s": 225.0, "query_p50_ms": 2.9, "query_p95_ms": 9.4}},
    )


def test_results_survive_their_json_file(tmp_path: Path):
    path = tmp_path / "benchmarks.json"
    results.save(sample(), path)
    assert results.load(path) == sample()


def test_the_report_judges_every_target_and_splits_builds_and_questions():
    lines = report.report(sample())
    text = "\n".join(lines)
    table = [line for line in lines if line.startswith(("| 19 |", "| 11 |"))]
    assert len(table) == len(TARGETS)
    by_figure = dict(zip((t.figure for t in TARGETS), table, strict=True))
    assert by_figure["warm_p50_ms"].endswith("| **no** |"), "9 ms p50 against 8 ms"
    assert by_figure["build_min"].endswith("| yes |") and by_figure["reindex_one_s"].endswith("| yes |")
    assert by_figure["discord_p95_ms"].endswith("| — |"), "not run"
    assert "## Where the time goes" in text and "texts/s" in text and "| 500 |" in text, "4000 texts in 8 s"
    assert "| onnxruntime-int8 (this run's) | 225 (1192 texts) | 2.90 / 9.40 ms |" in text


def test_the_report_is_redrawn_from_a_results_file_alone(tmp_path: Path):
    path = tmp_path / "benchmarks.json"
    results.save(sample(), path)
    assert main(["--report-only", str(path)]) == 0
    assert (tmp_path / "BENCHMARKS.md").read_text().startswith("# Benchmarks")
    assert (tmp_path / "benchmarks.png").stat().st_size > 10_000


def test_the_warm_target_judges_the_first_stage_and_the_split_shows_the_second():
    results_ = sample()
    largest = results_.sizes[-1]
    assert largest.serving is not None
    largest.serving.phases_ms["second stage"] = 1.5  # 9 ms p50 in all, 7.5 ms of it the first stage
    values = report.figures(results_)
    assert values["warm_p50_ms"] == 7.5
    lines = report.report(results_)
    warm = next(line for line in lines if line.startswith("| 19 | warm question"))
    assert "7.5 ms (with the second stage's 1.50 ms: p50 / p95 9.0 / 11.7 ms)" in warm and warm.endswith("| yes |")
    split = next(line for line in lines if line.startswith("| corpus | passages | embedding"))
    assert "| scoring | second stage |" in split
