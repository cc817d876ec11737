"""`make tune`: fit every weight that chooses the first quote, from questions in the repository, and write them to
bot/tuned/ (what the bot ships).

1. The first stage's weights (bot/scoring.py `Weights`): coordinate ascent from the hand-set defaults, one weight at
   a time over a few multiples, keeping a change only when it raises the training objective, and only if it does
   not lower the dev objective.
2. The second stage (bot/rerank.py): a low-rank query adapter trained on the training questions' answering windows
   against the other front-runners of the first stage, then a linear reordering of the first ten fitted on pairs
   of (answering, not answering) candidates; its regularisation is chosen on dev.

Training questions: tests/eval/train.jsonl (written for this, apart from dev and holdout); choices: tests/eval/
dev.jsonl; tests/eval/holdout.jsonl is never read here. The objective is the mean, over every corpus size and every
group of questions it can answer, of (hit@1 + hit@3) / 2, as `make eval` counts hits. Runs on the same cached
builds as `make eval` (embeddings/.eval/). Deterministic: a rerun from a clean checkout writes the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.config import PROJECT_ROOT, Settings
from bot.embedding import Embedder, TextEncoder
from bot.encoder import query_embedder
from bot.index import ensure_index
from bot.quoting import comparable, quote_span
from bot.rerank import SECOND_FEATURES, TUNED_DIR, Reranker
from bot.retrieval import Retriever, _Scored
from bot.scoring import FEATURES, Weights
from tools.evaluation import DEFAULT_ARCHIVE, EVAL_DIR, CachedEncoder, EvalQuestion, is_hit, load_questions, make_sizes

# the weights coordinate ascent moves (the feature columns' weights and how short a paragraph is quoted whole)
TUNED = (*(name if name != "speaker" else "speaker_boost" for name in FEATURES), "whole_paragraph")
STEPS = (0.0, 0.5, 0.75, 1.25, 1.5, 2.0)
Say = Callable[[str], None]
FRONT = 50  # front-runners the adapter learns to tell apart
ADAPTER_RANK = 32


@dataclass
class Case:
    """One question asked of one corpus size, scored once by the first stage's columns."""

    size: str
    group: str
    question: EvalQuestion
    query: np.ndarray
    scored: _Scored
    answered: bool
    retriever: Retriever
    spans: dict[tuple[int, int], tuple[int, int, int, str, bool]] = field(default_factory=dict)

    def span(self, row: int, whole: int) -> tuple[int, int, int, str, bool]:
        """The paragraph, first sentence and length a candidate is quoted with, its comparable text and whether it
        answers (memoised)."""
        key = (row, whole)
        if key not in self.spans:
            idx = self.retriever.index
            w = int(self.scored.candidates[row])
            p = int(idx.window_para[w])
            first, length = int(idx.window_first[w]), int(idx.window_len[w])
            if len(idx.paragraphs[p].text) <= whole:
                first, length = 0, len(idx.paragraphs[p].sentences)
            quote, _ = quote_span(idx, p, first, length)
            self.spans[key] = (p, first, length, comparable(quote), is_hit(quote, self.question.gold))
        return self.spans[key]

    def hits(self, order: np.ndarray, weights: Weights, k: int = 3) -> tuple[bool, bool]:
        """hit@1 and hit@k of the quotes shown in `order`, picked as the retriever picks them."""
        if not self.answered:
            return False, False
        pointer = self.retriever._pointer
        taken: dict[int, list[tuple[int, int]]] = {}
        seen: list[str] = []
        shown: list[bool] = []
        for row in order:
            if pointer[int(self.scored.candidates[row])]:
                continue
            p, first, length, norm, hit = self.span(int(row), weights.whole_paragraph)
            spans = taken.setdefault(p, [])
            if len(spans) >= weights.per_paragraph or any(first < f + m and f < first + length for f, m in spans):
                continue
            if any(norm in s or s in norm for s in seen):
                continue
            spans.append((first, length))
            seen.append(norm)
            shown.append(hit)
            if len(shown) == k:
                break
        return bool(shown[:1] and shown[0]), any(shown)


def objective(cases: list[Case], weights: Weights, reranker: Reranker | None = None) -> tuple[float, float, float]:
    """The mean over (size, group) cells of (hit@1 + hit@3) / 2, and the mean hit@1 and hit@3."""
    vector = weights.vector()
    cells: dict[tuple[str, str], list[tuple[bool, bool]]] = {}
    for case in cases:
        total = case.scored.columns.matrix @ vector
        order = np.argsort(-total, kind="stable")
        if reranker is not None and case.answered:
            scored = _Scored(
                case.scored.candidates, total, case.scored.confidence, case.scored.dense, case.scored.columns
            )
            order = case.retriever.rerank(scored, case.query).ranked()
        cells.setdefault((case.size, case.group), []).append(case.hits(order, weights))
    hit1 = [np.mean([h[0] for h in cell]) for cell in cells.values()]
    hit3 = [np.mean([h[1] for h in cell]) for cell in cells.values()]
    return float(np.mean(hit1) + np.mean(hit3)) / 2, float(np.mean(hit1)), float(np.mean(hit3))


def coordinate_ascent(train: list[Case], dev: list[Case], start: Weights, passes: int, say: Say) -> Weights:
    best = start
    best_train, best_dev = objective(train, best)[0], objective(dev, best)[0]
    say(f"first stage, hand-set: train {best_train:.4f}, dev {best_dev:.4f}")
    for number in range(passes):
        moved = False
        for name in TUNED:
            current = getattr(best, name)
            values = (
                [0, 300, 450, 600] if name == "whole_paragraph" else [round(current * s, 4) for s in STEPS if s != 1.0]
            )
            if name != "whole_paragraph" and current == 0:
                values = [0.05, 0.1, 0.2, 0.4]
            for value in values:
                if value == current:
                    continue
                trial = best.replace(**{name: value})
                train_score = objective(train, trial)[0]
                if train_score > best_train + 1e-9:
                    dev_score = objective(dev, trial)[0]
                    if dev_score >= best_dev - 1e-9:
                        best, best_train, best_dev, moved = trial, train_score, dev_score, True
                        change = f"{name} {current} -> {value}"
                        say(f"  pass {number + 1}: {change}: train {train_score:.4f}, dev {dev_score:.4f}")
                        current = value
        if not moved:
            break
    return best


def front_rows(case: Case, weights: Weights, depth: int) -> np.ndarray:
    total = case.scored.columns.matrix @ weights.vector()
    order = np.argsort(-total, kind="stable")
    return order[~case.retriever._pointer[case.scored.candidates[order]]][:depth]


def train_adapter(
    cases: list[Case], weights: Weights, rank: int, decay: float, seed: int, say: Say
) -> tuple[np.ndarray, np.ndarray]:
    """The low-rank query adapter: each training question's vector moved toward its answering front-runners and
    away from the others (a softmax over the first stage's best `FRONT` showable windows)."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    queries, candidates, positives = [], [], []
    for case in cases:
        if not case.answered:
            continue
        rows = front_rows(case, weights, FRONT)
        labels = np.array([case.span(int(r), weights.whole_paragraph)[4] for r in rows], dtype=bool)
        if not labels.any() or labels.all() or len(rows) < FRONT:
            continue
        windows = case.scored.candidates[rows]
        candidates.append(np.asarray(case.retriever.index.window_vectors[windows], dtype=np.float32))
        queries.append(case.query)
        positives.append(labels)
    q = torch.tensor(np.stack(queries))
    c = torch.tensor(np.stack(candidates))
    pos = torch.tensor(np.stack(positives))
    dimension = q.shape[1]
    down = torch.zeros(dimension, rank, requires_grad=True)
    up = torch.nn.Parameter(torch.randn(rank, dimension) * 0.01)
    optimiser = torch.optim.Adam([down, up], lr=0.01)
    for _ in range(300):
        optimiser.zero_grad()
        moved = q + (q @ down) @ up
        moved = moved / moved.norm(dim=1, keepdim=True)
        logits = torch.einsum("bkd,bd->bk", c, moved) / 0.05
        loss = -(
            torch.logsumexp(logits.masked_fill(~pos, -1e9), dim=1) - torch.logsumexp(logits, dim=1)
        ).mean() + decay * (down.square().sum() + up.square().sum())
        loss.backward()
        optimiser.step()
    say(f"adapter: {len(queries)} questions with an answer among their {FRONT} front-runners, loss {loss.item():.3f}")
    return down.detach().numpy(), up.detach().numpy()


def pairwise_fit(features: list[np.ndarray], labels: list[np.ndarray], decay: float) -> np.ndarray:
    """Linear weights ranking every answering row above every other row of the same case (logistic loss on the
    pairs' differences, L2 decay), by gradient descent from the first stage's own order."""
    pairs = [
        (f[i] - f[j])
        for f, y in zip(features, labels, strict=True)
        for i in np.flatnonzero(y)
        for j in np.flatnonzero(~y)
    ]
    if not pairs:
        return np.eye(len(SECOND_FEATURES))[0]
    x = np.stack(pairs).astype(np.float64)
    weights = np.zeros(x.shape[1])
    weights[SECOND_FEATURES.index("first_stage")] = 10.0  # start from the first stage's order
    for _ in range(2000):
        margin = x @ weights
        gradient = -(x * (1 / (1 + np.exp(np.clip(margin, -30, 30))))[:, None]).mean(axis=0) + decay * weights
        weights -= 0.5 * gradient
    return weights.astype(np.float32)


def fit_second_stage(train: list[Case], dev: list[Case], weights: Weights, seed: int, say: Say) -> Reranker | None:
    best: tuple[float, Reranker | None] = (objective(dev, weights)[0], None)
    say(f"second stage: dev without it {best[0]:.4f}")
    for adapter_decay in (1e-2, 3e-2, 1e-1):
        down, up = train_adapter(train, weights, ADAPTER_RANK, adapter_decay, seed, say)
        probe = Reranker(np.zeros(len(SECOND_FEATURES), dtype=np.float32), down, up)
        features, labels = [], []
        for case in train:
            if not case.answered:
                continue
            case.retriever.reranker = probe
            rows = front_rows(case, weights, probe.depth)
            y = np.array([case.span(int(r), weights.whole_paragraph)[4] for r in rows], dtype=bool)
            if y.any() and not y.all():
                total = case.scored.columns.matrix @ weights.vector()
                scored = _Scored(
                    case.scored.candidates, total, case.scored.confidence, case.scored.dense, case.scored.columns
                )
                features.append(case.retriever.second_columns(scored, case.query, rows))
                labels.append(y)
        for decay in (1e-4, 1e-3):
            reranker = Reranker(pairwise_fit(features, labels, decay), down, up)
            for case in dev:
                case.retriever.reranker = reranker
            score = objective(dev, weights, reranker)[0]
            train_score = objective(train, weights, reranker)[0]
            say(f"  adapter decay {adapter_decay}, pairs decay {decay}: train {train_score:.4f}, dev {score:.4f}")
            if score > best[0] + 1e-9:
                best = (score, reranker)
    return best[1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.tune", description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=PROJECT_ROOT / "embeddings" / ".eval")
    parser.add_argument("--sizes", nargs="+", type=int, default=[1, 2, 3], help="corpus sizes to tune on (1-3)")
    parser.add_argument("--out", type=Path, default=TUNED_DIR, help="where the fitted weights are written")
    parser.add_argument("--passes", type=int, default=3, help="coordinate ascent passes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(message, flush=True)

    started = time.perf_counter()
    settings = Settings.from_env()
    served: TextEncoder = query_embedder(settings.encoder_dir, Embedder.from_setting(settings.embedding_model))
    args.cache.mkdir(parents=True, exist_ok=True)
    archive = Path(os.environ.get("EVAL_LARGE_ARCHIVE", DEFAULT_ARCHIVE))
    sets = {name: load_questions(EVAL_DIR / f"{name}.jsonl") for name in ("train", "dev")}
    cases: dict[str, list[Case]] = {"train": [], "dev": []}
    start = Weights()
    for number, size in enumerate(make_sizes(settings.corpus_dir, args.cache, archive), 1):
        if number not in args.sizes:
            continue
        embedder = CachedEncoder(served, args.cache)
        index = ensure_index(size.corpus, args.cache / f"index-{size.corpus.name}", embedder, notify=say)
        embedder.save()
        retriever = Retriever(index, embedder, weights=start, second_stage=False)
        for set_name, questions in sets.items():
            chosen = [q for q in questions if q.group in size.groups]
            vectors = embedder.encode([retriever.rewrite(q.question)[0] for q in chosen])
            for question, vector in zip(chosen, vectors, strict=True):
                scored = retriever._score(question.question, vector, retriever.dense(vector[None, :])[0])
                answered = scored.confidence >= retriever.threshold
                cases[set_name].append(Case(size.label, question.group, question, vector, scored, answered, retriever))
        say(f"{size.label}: {sum(c.size == size.label for c in cases['train'])} training cases")
    first = coordinate_ascent(cases["train"], cases["dev"], start, args.passes, say)
    reranker = fit_second_stage(cases["train"], cases["dev"], first, args.seed, say)
    figures = {
        "first stage, hand-set": objective(cases["dev"], start),
        "first stage, tuned": objective(cases["dev"], first),
    }
    if reranker is not None:
        for case in cases["dev"]:
            case.retriever.reranker = reranker
        figures["with the second stage"] = objective(cases["dev"], first, reranker)
    measured = {
        name: {"objective": round(o, 4), "hit@1": round(h1, 4), "hit@3": round(h3, 4)}
        for name, (o, h1, h3) in figures.items()
    }
    args.out.mkdir(parents=True, exist_ok=True)
    changed = {name: getattr(first, name) for name in TUNED if getattr(first, name) != getattr(start, name)}
    record = {
        "written_by": "make tune (tools/tune.py)",
        "weights": {name: getattr(first, name) for name in TUNED},
        "changed_from_hand_set": changed,
        "dev": measured,
    }
    (args.out / "first_stage.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    for stale in ("second_stage.json", "adapter.npz"):
        (args.out / stale).unlink(missing_ok=True)
    if reranker is not None:
        reranker.save(args.out, {"written_by": "make tune (tools/tune.py)", "dev": measured})
    say(json.dumps(measured, indent=2))
    say(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
