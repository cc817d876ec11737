"""`make eval`: quote-level hit@1, hit@3 and MRR of the bot against two baselines, on the project's question sets.

A hit is a shown quote that contains a gold span (compared case-, quote- and whitespace-insensitively). Questions
the bot declines count as misses. Baselines quote whole paragraphs and never decline:
  - lexical: BM25 over paragraphs;
  - dense: all-MiniLM-L6-v2 + FAISS over paragraphs (the typical approach).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.config import PROJECT_ROOT, Settings
from bot.embedding import Embedder, TextEncoder
from bot.encoder import query_embedder
from bot.index import PassageIndex, ensure_index, import_bm25s
from bot.retrieval import Retriever
from bot.text import normalize_for_match, search_tokens

EVAL_DIR = PROJECT_ROOT / "tests" / "eval"
GUIDES_DIR = PROJECT_ROOT / "tests" / "fixtures" / "k8s-contributor-guide"


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    gold: tuple[str, ...]
    doc: str | None

    @property
    def off_topic(self) -> bool:
        return not self.gold


@dataclass(frozen=True)
class Scores:
    hit1: float
    hit3: float
    mrr: float
    answered: float  # share of real questions answered
    abstained: float  # share of off-topic questions declined
    real: int
    off_topic: int

    def row(self, name: str) -> str:
        return (
            f"| {name} | {self.hit1:.2f} | {self.hit3:.2f} | {self.mrr:.2f} | {self.answered:.0%} | "
            f"{self.abstained:.0%} ({round(self.abstained * self.off_topic)}/{self.off_topic}) |"
        )


def load_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            questions.append(EvalQuestion(item["id"], item["question"], tuple(item.get("gold") or ()), item.get("doc")))
    return questions


def is_hit(quote: str, gold: Sequence[str]) -> bool:
    text = normalize_for_match(quote)
    return any(normalize_for_match(g) in text for g in gold)


# A system maps (question text, query vector) to (answered, quotes best first).
System = Callable[[str, np.ndarray], tuple[bool, list[str]]]


def score_system(system: System, questions: list[EvalQuestion], vectors: np.ndarray) -> Scores:
    hit1 = hit3 = rr = answered = declined = 0.0
    real = [i for i, q in enumerate(questions) if not q.off_topic]
    off = [i for i, q in enumerate(questions) if q.off_topic]
    for i in real:
        ok, quotes = system(questions[i].question, vectors[i])
        answered += ok
        ranks = [r for r, quote in enumerate(quotes[:3], 1) if ok and is_hit(quote, questions[i].gold)]
        if ranks:
            hit1 += ranks[0] == 1
            hit3 += 1
            rr += 1 / ranks[0]
    for i in off:
        ok, _ = system(questions[i].question, vectors[i])
        declined += not ok
    n = max(len(real), 1)
    return Scores(hit1 / n, hit3 / n, rr / n, answered / n, declined / max(len(off), 1), len(real), len(off))


def hybrid_system(retriever: Retriever) -> System:
    def run(text: str, vector: np.ndarray) -> tuple[bool, list[str]]:
        answer = retriever.answer_vector(text, vector, k=3)
        return answer.answered, [r.quote for r in answer.results]

    return run


def dense_paragraph_system(index: PassageIndex) -> System:
    import faiss

    flat = faiss.IndexFlatIP(index.paragraph_vectors.shape[1])
    flat.add(index.paragraph_vectors)

    def run(_: str, vector: np.ndarray) -> tuple[bool, list[str]]:
        _, ids = flat.search(vector.reshape(1, -1), 3)
        return True, [index.paragraphs[i].text for i in ids[0] if i >= 0]

    return run


def lexical_paragraph_system(index: PassageIndex) -> System:
    bm25 = import_bm25s().BM25()
    bm25.index([search_tokens(p.text) or ["\x00"] for p in index.paragraphs], show_progress=False)
    vocab = set(bm25.vocab_dict)

    def run(text: str, _: np.ndarray) -> tuple[bool, list[str]]:
        tokens = [t for t in search_tokens(text) if t in vocab]
        if not tokens:
            return True, []
        scores = bm25.get_scores(tokens)
        return True, [index.paragraphs[i].text for i in np.argsort(-scores)[:3]]

    return run


def evaluate(
    index: PassageIndex, embedder: TextEncoder, questions: list[EvalQuestion], retriever: Retriever | None = None
) -> dict[str, Scores]:
    vectors = embedder.encode([q.question for q in questions])
    retriever = retriever or Retriever(index, embedder)
    rewritten = embedder.encode([retriever.rewrite(q.question)[0] for q in questions])
    return {
        "this bot (hybrid sentence windows)": score_system(hybrid_system(retriever), questions, rewritten),
        "baseline: lexical, BM25 paragraphs": score_system(lexical_paragraph_system(index), questions, vectors),
        "baseline: dense, MiniLM+FAISS paragraphs": score_system(dense_paragraph_system(index), questions, vectors),
    }


def corpus_with_guides(corpus_dir: Path, guides_dir: Path, workdir: Path) -> Path:
    target = workdir / "corpus-with-guides"  # a stable path, so the cached index stays valid between runs
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(corpus_dir, target)
    shutil.copytree(guides_dir, target / "k8s-contributor-guide")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.evaluation", description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["dev", "holdout"], help="question sets in tests/eval/")
    parser.add_argument("--cache", type=Path, default=PROJECT_ROOT / "embeddings" / ".eval")
    parser.add_argument(
        "--adapted", action="store_true", help="adapt the model to each corpus first (python -m bot adapt)"
    )
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    base_model = Embedder.from_setting(settings.embedding_model)
    embedder: TextEncoder = query_embedder(settings.encoder_dir, base_model)  # as the bot builds and serves
    args.cache.mkdir(parents=True, exist_ok=True)

    def note(msg: str) -> None:
        print(msg, file=sys.stderr)

    configs = [
        ("interview corpus", settings.corpus_dir, args.cache / "interview", lambda q: q.doc in (None, "interview")),
        (
            "interview + 8 contributor-guide documents",
            corpus_with_guides(settings.corpus_dir, GUIDES_DIR, args.cache),
            args.cache / "with-guides",
            lambda q: True,
        ),
    ]
    base = base_model
    for label, corpus, index_dir, keep in configs:
        if args.adapted:
            from bot.adapt import adapt_model

            model_dir = index_dir.with_name(index_dir.name + "-adapted-model")
            report = adapt_model(corpus, model_dir, base)
            note(f"adapted the model to {label}: {report.pairs} pairs, {report.seconds:.0f} s")
            embedder = query_embedder(settings.encoder_dir, Embedder(model_dir))
            index_dir = index_dir.with_name(index_dir.name + "-adapted")
            label = f"{label}, model adapted to it"
        index = ensure_index(corpus, index_dir, embedder, notify=note)
        for name in args.sets:
            questions = [q for q in load_questions(EVAL_DIR / f"{name}.jsonl") if keep(q)]
            results = evaluate(index, embedder, questions)
            real = sum(not q.off_topic for q in questions)
            print(f"\n### {label} — {name} set ({real} questions, {len(questions) - real} off-topic)\n")
            print("| system | hit@1 | hit@3 | MRR | answered | off-topic declined |")
            print("|---|---|---|---|---|---|")
            for system, scores in results.items():
                print(scores.row(system))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
