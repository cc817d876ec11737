"""The targets the report checks, as data. Issue 19's are judged with everything loaded (at the largest real size);
issue 11's that still apply are kept. Each names the figure it judges (`report.figures`), so a report redrawn from a
results file (`python -m tools.bench --report-only`) judges it against the targets as they are now."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    figure: str  # the key of the figure it judges, in `report.figures(results)`
    measure: str  # what is measured, as the report says it
    limit: float
    unit: str = ""
    at_least: bool = False  # the figure must reach the limit (else stay at or below it)
    issue: int = 19

    @property
    def text(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{'≥' if self.at_least else '≤'} {self.limit:g}{unit}"

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.limit - 1e-9 if self.at_least else value <= self.limit + 1e-9


TARGETS: tuple[Target, ...] = (
    Target("discord_p95_ms", "Discord: question → reply, 20 people at once, p50 / p95", 150, "ms"),
    Target("warm_p50_ms", "warm question p50, first stage (a serving process, per question)", 8, "ms"),
    Target("build_min", "full build from scratch: time", 5, "min"),
    Target("build_peak_mb", "full build from scratch: peak memory", 800, "MB"),
    Target("reindex_one_s", "one changed file reindexed (the `/reindex` path; the CLI in its own process)", 5, "s"),
    Target("cold_start_s", "cold start to the first answer (`python -m bot ask`, index built), best of 3", 1.5, "s"),
    Target(
        "serving_rss_mb",
        "serving resident memory after answering (of which pages of the memory-mapped index files, shared by every "
        "process serving the build)",
        400,
        "MB",
    ),
    Target(
        "synthetic_growth", "warm question p50 at the synthetic size, against the largest real size", 2, "×", issue=11
    ),
    Target(
        "candidate_recall",
        "candidate recall: share of the exact pipeline's top-10 answers the served pipeline returns",
        0.99,
        at_least=True,
        issue=11,
    ),
    Target(
        "hits_vs_exact",
        "hit@1 / hit@3 of the evaluation questions: served pipeline (exact pipeline), largest difference",
        0.01,
        issue=11,
    ),
)
