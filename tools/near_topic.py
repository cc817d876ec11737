"""Near-topic questions: questions a Kubernetes server gets that the contributor documents do not answer (kubectl
errors, CrashLoopBackOff, Helm values, certificates...), and how many the bot declines with and without the
moderators' topics (scopes.toml, bot/scope.py), at each corpus size of `make eval`; the on-topic questions' answered
share and hit@1 beside them, which the topics must leave as they were.

`python -m tools.near_topic --calibrate` is the search that set bot/scope.py's CLOSENESS and MARGIN, on the dev
questions only (tests/eval/dev.jsonl and the dev split of tests/eval/near_topic.jsonl): at every size, no on-topic
question retrieval answers may be declined; of the pairs of lines that keep that, the one declining the most
near-topic questions is chosen (ties: the higher lines). `make eval` prints the table (`near_topic_rows`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.config import PROJECT_ROOT, Settings
from bot.embedding import Embedder, TextEncoder
from bot.encoder import query_embedder
from bot.index import ensure_index
from bot.questions import UNRELATED_QUESTIONS
from bot.retrieval import Answer, Retriever
from bot.scope import CLOSENESS, MARGIN, SLACK, Scopes, Verdict, load_topics
from tools.evaluation import (
    DEFAULT_ARCHIVE,
    EVAL_DIR,
    CachedEncoder,
    EvalQuestion,
    is_hit,
    load_questions,
    make_sizes,
)

NEAR_TOPIC = EVAL_DIR / "near_topic.jsonl"
SHIPPED = PROJECT_ROOT / "scopes.toml"


def near_topic_questions(split: str, path: Path = NEAR_TOPIC) -> list[EvalQuestion]:
    """The near-topic questions of one split (dev, holdout; 'scope' rows are topic examples, never asked)."""
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        EvalQuestion(r["id"], r["question"], tuple(r.get("gold") or ()), r.get("doc"))
        for r in rows
        if r.get("split") == split
    ]


@dataclass(frozen=True)
class Judged:
    """One question as the bot answers it, and how it stands to the topics."""

    question: EvalQuestion
    answer: Answer
    verdict: Verdict

    def declined(self, scopes: Scopes) -> bool:
        return not self.answer.answered or scopes.out_of_scope(self.verdict, True)

    def pointed(self, scopes: Scopes) -> bool:
        return scopes.out_of_scope(self.verdict, self.answer.answered)

    def hit(self, scopes: Scopes | None = None) -> bool:
        """The first quote holds a gold span (and the answer was not declined, by retrieval or by a topic)."""
        if not self.answer.answered or (scopes is not None and scopes.out_of_scope(self.verdict, True)):
            return False
        return bool(self.answer.results) and is_hit(self.answer.results[0].quote, self.question.gold)


def judge(
    retriever: Retriever, encoder: TextEncoder, scopes: Scopes, questions: Sequence[EvalQuestion]
) -> list[Judged]:
    vectors = encoder.encode([retriever.rewrite(q.question)[0] for q in questions]) if questions else []
    judged = []
    for question, vector in zip(questions, vectors, strict=True):
        answer = retriever.answer_vector(question.question, np.asarray(vector, dtype=np.float32), 3)
        judged.append(Judged(question, answer, scopes.judge(answer, vector, retriever)))
    return judged


def _share(count: int, total: int) -> str:
    return f"{count}/{total}" if total else "-"


def near_topic_rows(
    label: str,
    groups: Sequence[str],
    retriever: Retriever,
    encoder: TextEncoder,
    sets: Sequence[str],
    scopes_file: Path = SHIPPED,
) -> list[str]:
    """Table rows for one corpus size: per set, near-topic questions declined without and with the shipped topics
    (and how many with the pointer), on-topic questions answered and hit@1 without and with them."""
    scopes = Scopes(load_topics(scopes_file), encoder)
    rows = []
    for name in sets:
        near = judge(retriever, encoder, scopes, near_topic_questions(name))
        real = [q for q in load_questions(EVAL_DIR / f"{name}.jsonl") if q.group in groups]
        on = judge(retriever, encoder, scopes, real)
        before = sum(not j.answer.answered for j in near)
        after = sum(j.declined(scopes) for j in near)
        pointed = sum(j.pointed(scopes) for j in near)
        answered = sum(j.answer.answered for j in on)
        kept = sum(j.answer.answered and not j.declined(scopes) for j in on)
        hits, hits_after = sum(j.hit() for j in on), sum(j.hit(scopes) for j in on)
        rows.append(
            f"| {label} | {name} | {_share(before, len(near))} → **{_share(after, len(near))}** | "
            f"{_share(pointed, len(near))} | {_share(answered, len(on))} → **{_share(kept, len(on))}** | "
            f"{hits / max(len(on), 1):.2f} → {hits_after / max(len(on), 1):.2f} |"
        )
    return rows


NEAR_TOPIC_HEADER = (
    "| corpus | set | near-topic declined (without → with topics) | with the pointer | on-topic answered | hit@1 |\n"
    "|---|---|---|---|---|---|"
)


# --- calibration: bot/scope.py's CLOSENESS, MARGIN and SLACK ---------------------------------------------------------

STEP = 0.025
CLOSENESS_GRID = tuple(round(0.30 + STEP * i, 3) for i in range(21))  # 0.30 ... 0.80
MARGIN_GRID = tuple(round(-0.10 + STEP * i, 3) for i in range(13))  # -0.10 ... 0.20
SLACK_GRID = (-9.0, *(round(-0.20 + STEP * i, 3) for i in range(17)))  # -9: no typical-closeness line; -0.20 ... 0.20
ROBUST = 2  # grid steps every line must be lowered (margin, closeness) or raised (slack) by and lose nothing still


@dataclass(frozen=True)
class Sized:
    """One corpus size's dev questions, judged: on-topic ones (answers in this corpus) and near-topic ones."""

    label: str
    on: list[Judged]
    near: list[Judged]


def lines_lose(per_size: Sequence[Sized], scopes: Scopes) -> int:
    """On-topic dev questions retrieval answers that these lines decline, over every size."""
    return sum(j.answer.answered and j.declined(scopes) for size in per_size for j in size.on)


def calibrate(per_size: Sequence[Sized], scopes: Scopes, unrelated: float) -> list[str]:
    """The search on the grid. Lines are kept when they decline no on-topic dev question at any size, and still
    none with each line moved ROBUST steps towards declining more; CLOSENESS also stays above where the unrelated
    questions of bot/questions.py come to a topic (`unrelated`, plus a step), so none of them is given a pointer. Of
    those, the lines declining the most near-topic dev questions at the size declining fewest, then over all sizes,
    are chosen; ties go to the lines declining least (higher CLOSENESS and MARGIN, lower SLACK)."""

    def declined(lines: Scopes) -> list[int]:
        return [sum(j.declined(lines) for j in size.near) for size in per_size]

    floor = unrelated + STEP
    kept = []
    for closeness in (c for c in CLOSENESS_GRID if c >= floor):
        for margin in MARGIN_GRID:
            for slack in SLACK_GRID:
                moved = [
                    scopes.with_lines(closeness - a * STEP, margin - b * STEP, slack + c * STEP)
                    for a in (0, ROBUST)
                    for b in (0, ROBUST)
                    for c in (0, ROBUST)
                ]
                if all(lines_lose(per_size, lines) == 0 for lines in moved):
                    counts = declined(moved[0])
                    kept.append(((min(counts), sum(counts), closeness, margin, -slack), counts))
    sizes = ", ".join(f"{s.label}: {len(s.on)} on-topic, {len(s.near)} near-topic" for s in per_size)
    lines = [
        f"dev questions per size: {sizes}",
        f"unrelated questions (bot/questions.py) come to a topic at most {unrelated:.3f}: CLOSENESS >= {floor:.3f}",
        f"lines losing no on-topic dev question, {ROBUST} grid steps ({STEP}) from the nearest that does: {len(kept)}",
    ]
    if not kept:
        return [*lines, "none: keep the topics' examples closer to what they name"]
    (_, _, closeness, margin, slack), counts = max(kept, key=lambda item: item[0])
    chosen = scopes.with_lines(closeness, margin, -slack)
    shown = ", ".join(f"{s.label} {n}/{len(s.near)}" for s, n in zip(per_size, counts, strict=True))
    baseline = ", ".join(f"{s.label} {sum(not j.answer.answered for j in s.near)}" for s in per_size)
    lines += [
        f"near-topic dev questions declined without the topics: {baseline}",
        f"chosen: CLOSENESS = {chosen.closeness}, MARGIN = {chosen.margin}, SLACK = {chosen.slack} "
        f"(near-topic declined: {shown})",
        f"shipped in bot/scope.py: CLOSENESS = {CLOSENESS}, MARGIN = {MARGIN}, SLACK = {SLACK}",
    ]
    return lines


def unrelated_closeness(scopes: Scopes, retriever: Retriever) -> float:
    """How close the unrelated questions retrieval calibrates its own decline line with come to any topic."""
    vectors = scopes.encoder.encode([retriever.rewrite(q)[0] for q in UNRELATED_QUESTIONS])
    return float((scopes.examples(retriever) @ np.asarray(vectors, dtype=np.float32).T).max()) if scopes else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.near_topic", description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=PROJECT_ROOT / "embeddings" / ".eval")
    parser.add_argument("--sizes", nargs="+", type=int, default=[1, 2, 3], help="corpus sizes to run (1-3)")
    parser.add_argument("--sets", nargs="+", default=["dev", "holdout"], help="sets to measure (without --calibrate)")
    parser.add_argument("--scopes", type=Path, default=SHIPPED, metavar="FILE", help="topics (default: scopes.toml)")
    parser.add_argument(
        "--calibrate", action="store_true", help="search CLOSENESS, MARGIN and SLACK on the dev questions"
    )
    parser.add_argument("--verbose", action="store_true", help="with --calibrate: every dev question's figures")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    served = query_embedder(settings.encoder_dir, Embedder.from_setting(settings.embedding_model))
    args.cache.mkdir(parents=True, exist_ok=True)
    archive = Path(os.environ.get("EVAL_LARGE_ARCHIVE", DEFAULT_ARCHIVE))
    if not archive.is_file():
        print(f"note: {archive} not found; the archive size is left out", file=sys.stderr)
    topics = load_topics(args.scopes)
    rows: list[str] = []
    per_size: list[Sized] = []
    unrelated = 0.0
    for number, size in enumerate(make_sizes(settings.corpus_dir, args.cache, archive), 1):
        if number not in args.sizes:
            continue
        embedder = CachedEncoder(served, args.cache)
        index_dir = args.cache / f"index-{size.corpus.name}"
        index = ensure_index(size.corpus, index_dir, embedder, notify=lambda m: print(m, file=sys.stderr))
        embedder.save()
        retriever = Retriever(index, embedder)
        if not args.calibrate:
            rows += near_topic_rows(size.label, size.groups, retriever, embedder, args.sets, args.scopes)
            continue
        scopes = Scopes(topics, embedder)
        dev = [q for q in load_questions(EVAL_DIR / "dev.jsonl") if q.group in size.groups]
        sized = Sized(
            size.label,
            judge(retriever, embedder, scopes, dev),
            judge(retriever, embedder, scopes, near_topic_questions("dev")),
        )
        per_size.append(sized)
        unrelated = max(unrelated, unrelated_closeness(scopes, retriever))
        if args.verbose:
            for j in sized.on + sized.near:
                v = j.verdict
                print(
                    f"{size.label:>20} {j.question.id:>8} {'answered' if j.answer.answered else 'declined'} "
                    f"{v.topic.name[:12] if v.topic else '':>12} closeness {v.closeness:.3f} evidence "
                    f"{v.evidence:.3f} typical {v.typical:.3f} {j.question.question[:60]}"
                )
    if args.calibrate:
        print("\n".join(calibrate(per_size, Scopes(topics, served), unrelated)))
    else:
        print(NEAR_TOPIC_HEADER)
        print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
