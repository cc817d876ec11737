"""`make eval`: quote-level hit@1, hit@3 and MRR of the bot against two peers, at three corpus sizes.

Sizes: the interview alone; + the 8 contributor-guide documents; + the 965-file Kubernetes community archive
(`../shared/samples/kubernetes-community-docs.tar.gz`, or EVAL_LARGE_ARCHIVE; left out when missing). At each size
every group of questions whose answers the corpus holds is scored (interview, guides, archive), and the off-topic
questions must be declined.

A hit is a shown quote that contains a gold span (compared case-, quote- and whitespace-insensitively). Questions
the bot declines count as misses. The peers quote whole paragraphs and never decline:
  - lexical: BM25 over paragraphs;
  - dense: all-MiniLM-L6-v2 + FAISS over paragraphs (the typical approach).

Builds are cached under embeddings/.eval/ (ignored by git), with every text's vector, so a rerun takes seconds and a
change of parsing or scoring re-embeds only texts never seen before. Vectors are kept per encoder runtime, and the
builds of the int8 encoder in folders of their own (`index-<corpus>-int8`), so the two precisions never mix.

`--encoder fp32|int8` chooses the encoder that embeds passages and questions (default: ENCODER_PRECISION);
`--query-encoder` embeds the questions with another one than the passages.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.config import ENCODER_PRECISIONS, PROJECT_ROOT, Settings
from bot.embedding import Embedder, ProgressFn, TextEncoder
from bot.encoder import query_embedder
from bot.index import PassageIndex, ensure_index, import_bm25s
from bot.retrieval import Retriever
from bot.scoring import Weights
from bot.text import normalize_for_match, search_tokens

EVAL_DIR = PROJECT_ROOT / "tests" / "eval"
GUIDES_DIR = PROJECT_ROOT / "tests" / "fixtures" / "k8s-contributor-guide"
DEFAULT_ARCHIVE = PROJECT_ROOT.parent / "shared" / "samples" / "kubernetes-community-docs.tar.gz"
ARCHIVE_FOLDER = "kubernetes-community"  # where the archive's files sit inside the largest eval corpus


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    gold: tuple[str, ...]
    doc: str | None

    @property
    def off_topic(self) -> bool:
        return not self.gold

    @property
    def group(self) -> str:
        """Which corpus holds the answer: interview, guides, archive, or off-topic."""
        if self.off_topic:
            return "off-topic"
        if self.doc in (None, "interview"):
            return "interview"
        return "archive" if self.doc.startswith("archive/") else "guides"


@dataclass(frozen=True)
class Scores:
    hit1: float
    hit3: float
    mrr: float
    answered: float  # share of real questions answered
    abstained: float  # share of off-topic questions declined
    real: int
    off_topic: int
    misses: tuple[tuple[EvalQuestion, bool, tuple[str, ...]], ...] = ()  # question, answered, quotes shown
    hit10: float = 0.0  # an answering quote among the first ten (what a second stage could bring to the top)

    def cells(self) -> str:
        declined = round(self.abstained * self.off_topic)
        return (
            f"{self.hit1:.2f} | {self.hit3:.2f} | {self.mrr:.2f} | {self.hit10:.2f} | {self.answered:.0%} | "
            f"{declined}/{self.off_topic}"
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
    hit1 = hit3 = hit10 = rr = answered = declined = 0.0
    misses = []
    real = [i for i, q in enumerate(questions) if not q.off_topic]
    off = [i for i, q in enumerate(questions) if q.off_topic]
    for i in real:
        ok, quotes = system(questions[i].question, vectors[i])
        answered += ok
        ranks = [r for r, quote in enumerate(quotes[:10], 1) if ok and is_hit(quote, questions[i].gold)]
        hit10 += bool(ranks)
        ranks = [r for r in ranks if r <= 3]
        if ranks:
            hit1 += ranks[0] == 1
            hit3 += 1
            rr += 1 / ranks[0]
        if not ranks or ranks[0] > 1:
            misses.append((questions[i], ok, tuple(quotes[:3])))
    for i in off:
        ok, quotes = system(questions[i].question, vectors[i])
        declined += not ok
        if ok:
            misses.append((questions[i], ok, tuple(quotes[:3])))
    n = max(len(real), 1)
    return Scores(
        hit1 / n,
        hit3 / n,
        rr / n,
        answered / n,
        declined / max(len(off), 1),
        len(real),
        len(off),
        tuple(misses),
        hit10 / n,
    )


def hybrid_system(retriever: Retriever) -> System:
    def run(text: str, vector: np.ndarray) -> tuple[bool, list[str]]:
        answer = retriever.answer_vector(text, vector, k=10)
        return answer.answered, [r.quote for r in answer.results]

    return run


def dense_paragraph_system(index: PassageIndex) -> System:
    import faiss

    flat = faiss.IndexFlatIP(index.paragraph_vectors.shape[1])
    flat.add(np.asarray(index.paragraph_vectors, dtype=np.float32))

    def run(_: str, vector: np.ndarray) -> tuple[bool, list[str]]:
        _, ids = flat.search(vector.reshape(1, -1), 10)
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
        return True, [index.paragraphs[i].text for i in np.argsort(-scores)[:10]]

    return run


BOT = "this bot"
BEFORE = "this bot, hand-set ranking (before make tune)"
PEERS = ("peer: BM25 paragraphs", "peer: MiniLM+FAISS paragraphs")


def evaluate(
    index: PassageIndex,
    embedder: TextEncoder,
    questions: list[EvalQuestion],
    retriever: Retriever | None = None,
    peers: bool = True,
) -> dict[str, Scores]:
    retriever = retriever or Retriever(index, embedder)
    rewritten = embedder.encode([retriever.rewrite(q.question)[0] for q in questions])
    scores = {BOT: score_system(hybrid_system(retriever), questions, rewritten)}
    if peers:
        before = Retriever(index, embedder, Weights(), exact=retriever.exact, second_stage=False)
        scores[BEFORE] = score_system(hybrid_system(before), questions, rewritten)
        vectors = embedder.encode([q.question for q in questions])
        scores[PEERS[0]] = score_system(lexical_paragraph_system(index), questions, vectors)
        scores[PEERS[1]] = score_system(dense_paragraph_system(index), questions, vectors)
    return scores


class CachedEncoder:
    """An encoder that remembers every text's vector on disk (eval only): a rebuild after a parsing change embeds
    only the texts it has not seen. Vectors are the inner encoder's own, so scores are those of a fresh build."""

    def __init__(self, inner: TextEncoder, folder: Path) -> None:
        self.inner = inner
        self.name, self.fingerprint = inner.name, inner.fingerprint
        self.model_dir, self.runtime = inner.model_dir, inner.runtime
        self._path = folder / f"vectors-{inner.fingerprint}-{inner.runtime}.npz"
        self._rows: dict[str, tuple[int, int]] = {}  # text digest -> (block, row)
        self._blocks: list[np.ndarray] = []
        if self._path.exists():
            with np.load(self._path) as data:
                self._blocks = [data["vectors"]]
                self._rows = {key: (0, i) for i, key in enumerate(data["keys"].tolist())}
        self._saved = len(self._rows)

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: ProgressFn | None = None) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._rows}  # in the given order
        if missing:
            self._blocks.append(self.inner.encode(list(missing.values()), batch_size=batch_size))
            self._rows.update({k: (len(self._blocks) - 1, i) for i, k in enumerate(missing)})
        if progress:
            progress(len(texts))
        if not keys:
            return np.zeros((0, self._blocks[0].shape[1] if self._blocks else 0), dtype=np.float32)
        return np.stack([self._blocks[b][r] for b, r in (self._rows[k] for k in keys)])

    def encode_query(self, text: str) -> np.ndarray:
        return self.inner.encode_query(text)

    def save(self) -> None:
        if len(self._rows) == self._saved:
            return
        keys = list(self._rows)
        vectors = np.stack([self._blocks[b][r] for b, r in self._rows.values()])
        tmp = self._path.with_name(self._path.stem + ".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vectors=vectors)
        tmp.replace(self._path)
        self._blocks, self._rows = [vectors], {k: (0, i) for i, k in enumerate(keys)}
        self._saved = len(keys)


def warm_latency(retriever: Retriever, questions: list[str], rounds: int = 3) -> tuple[float, float]:
    """p50 and p95 milliseconds of `retriever.answer` (embedding included), after one round to warm up."""
    for question in questions:
        retriever.answer(question)
    times = []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            retriever.answer(question)
            times.append((time.perf_counter() - started) * 1000)
    p50, p95 = np.percentile(times, [50, 95])
    return float(p50), float(p95)


@dataclass(frozen=True)
class Size:
    label: str
    corpus: Path
    groups: tuple[str, ...]  # question groups this corpus answers


def make_sizes(corpus_dir: Path, workdir: Path, archive: Path | None) -> list[Size]:
    """The three corpora, laid out under `workdir` at stable paths so their cached builds stay valid."""

    def lay_out(name: str, with_guides: bool, with_archive: bool) -> Path:
        target = workdir / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(corpus_dir, target)
        if with_guides:
            shutil.copytree(GUIDES_DIR, target / "k8s-contributor-guide")
        if with_archive and archive:
            with tarfile.open(archive) as tar:
                tar.extractall(target / ARCHIVE_FOLDER, filter="data")
        return target

    sizes = [
        Size("interview", lay_out("corpus-interview", False, False), ("interview",)),
        Size("+ 8 guides", lay_out("corpus-with-guides", True, False), ("interview", "guides")),
    ]
    if archive and archive.is_file():
        sizes.append(
            Size("+ 965-file archive", lay_out("corpus-with-archive", True, True), ("interview", "guides", "archive"))
        )
    return sizes


# --- lessons: moderators teach the bot (bot/lessons.py) ---------------------------------------------------------------


@dataclass(frozen=True)
class LessonFigures:
    lessons: int  # questions taught (each one the bot got wrong before)
    wrong_before: int  # of them, how many the bot indeed did not answer with the taught passage first
    asked: int  # other wordings asked
    taught_first: int  # of them, answered with the taught passage first
    holdout: int  # holdout questions with an answer in the corpus, other than the taught ones in other words
    hit1_before: float
    hit1_after: float
    changed: int  # holdout questions whose first quote changed once the lessons were taught
    off_topic: int
    off_topic_by_lesson: int  # off-topic questions a lesson answered or declined
    holdout_taught: int = 0  # holdout questions whose answer is a taught passage (other wordings of taught ones)
    holdout_taught_first: int = 0  # of them, answered with it first once taught
    misses: tuple[str, ...] = ()  # wordings that did not get the taught passage first

    def lines(self) -> list[str]:
        return [
            f"taught {self.lessons} questions the bot got wrong ({self.wrong_before} wrong before teaching)",
            f"other wordings with the taught passage first: {self.taught_first}/{self.asked}"
            f" = {self.taught_first / max(self.asked, 1):.0%} (target ≥ 90%)",
            f"holdout hit@1 without / with the lessons: {self.hit1_before:.3f} / {self.hit1_after:.3f}"
            f" ({self.holdout} questions not about a taught passage; {self.changed} first quotes changed;"
            " target: within 0.01)",
            f"holdout questions about a taught passage, answered with it first: {self.holdout_taught_first}"
            f"/{self.holdout_taught}",
            f"off-topic questions answered or declined by a lesson: {self.off_topic_by_lesson}/{self.off_topic}"
            " (target 0)",
        ]


def measure_lessons(retriever: Retriever, database: Path) -> LessonFigures:
    """The paraphrase measure: teach each question of tests/eval/lessons.jsonl (one wording, the passage given by a
    phrase, as `python -m bot teach --quote` does), then ask its two other wordings; score the holdout and the
    off-topic questions with and without the lessons. `database` must be a fresh SQLite file."""
    from bot.lessons import LessonBook, TaughtDecline, TaughtResult

    items = [json.loads(line) for line in (EVAL_DIR / "lessons.jsonl").read_text(encoding="utf-8").splitlines() if line]
    groups = {"interview", "guides"}
    phrases = [item["phrase"] for item in items]
    every = [q for q in load_questions(EVAL_DIR / "holdout.jsonl") if q.group in groups]
    # the holdout asks some taught questions in its own words: those are counted apart from the rest
    about_taught = [q for q in every if any(is_hit(g, phrases) or is_hit(p, q.gold) for g in q.gold for p in phrases)]
    holdout = [q for q in every if q not in about_taught]
    off_topic = [q for name in ("dev", "holdout") for q in load_questions(EVAL_DIR / f"{name}.jsonl") if q.off_topic]

    def first(answer_: object) -> str:
        results = getattr(answer_, "results", [])
        return results[0].quote if getattr(answer_, "answered", False) and results else ""

    before = {q.id: first(retriever.answer(q.question)) for q in holdout}
    wrong = sum(not is_hit(first(retriever.answer(item["taught"])), [item["phrase"]]) for item in items)
    book = LessonBook(database)
    try:
        for item in items:
            book.teach(item["taught"], "eval", retriever.index, item["phrase"])
        taught_first, misses = 0, []
        for item in items:
            for wording in item["asked"]:
                if is_hit(first(book.answer(retriever, wording)), [item["phrase"]]):
                    taught_first += 1
                else:
                    misses.append(f"{item['id']}: {wording}")
        after = {q.id: first(book.answer(retriever, q.question)) for q in holdout}
        taught_hits = sum(is_hit(first(book.answer(retriever, q.question)), q.gold) for q in about_taught)
        by_lesson = 0
        for q in off_topic:
            answer = book.answer(retriever, q.question)
            by_lesson += isinstance(answer, TaughtDecline) or any(isinstance(r, TaughtResult) for r in answer.results)
    finally:
        book.close()
    n = max(len(holdout), 1)
    return LessonFigures(
        lessons=len(items),
        wrong_before=wrong,
        asked=sum(len(item["asked"]) for item in items),
        taught_first=taught_first,
        holdout=len(holdout),
        hit1_before=sum(is_hit(before[q.id], q.gold) for q in holdout) / n,
        hit1_after=sum(is_hit(after[q.id], q.gold) for q in holdout) / n,
        changed=sum(before[q.id] != after[q.id] for q in holdout),
        off_topic=len(off_topic),
        off_topic_by_lesson=by_lesson,
        holdout_taught=len(about_taught),
        holdout_taught_first=taught_hits,
        misses=tuple(misses),
    )


def lesson_calibration(retriever: Retriever) -> list[str]:
    """How LESSON_SIMILARITY was chosen: the similarity of two wordings of one question (tests/eval/paraphrases.jsonl)
    against that of different questions (pairs of dev questions that share no gold passage, off-topic ones included),
    both as the bot embeds questions."""
    from itertools import combinations

    from bot.lessons import LESSON_SIMILARITY

    def embed(texts: list[str]) -> np.ndarray:
        return retriever.embedder.encode([retriever.rewrite(t)[0] for t in texts])

    same: list[float] = []
    for line in (EVAL_DIR / "paraphrases.jsonl").read_text(encoding="utf-8").splitlines():
        if line:
            vectors = embed(json.loads(line)["wordings"])
            same += [float(vectors[i] @ vectors[j]) for i, j in combinations(range(len(vectors)), 2)]
    dev = load_questions(EVAL_DIR / "dev.jsonl")
    vectors = embed([q.question for q in dev])

    def shared(a: EvalQuestion, b: EvalQuestion) -> bool:
        return any(is_hit(x, [y]) or is_hit(y, [x]) for x in a.gold for y in b.gold)

    other = [float(vectors[i] @ vectors[j]) for i, j in combinations(range(len(dev)), 2) if not shared(dev[i], dev[j])]
    same_a, other_a = np.array(same), np.array(other)
    lines = [
        f"same question, other words: {len(same)} pairs, median similarity {np.median(same_a):.2f}",
        f"different questions (dev): {len(other)} pairs, 99th / 99.9th percentile "
        f"{np.percentile(other_a, 99):.2f} / {np.percentile(other_a, 99.9):.2f}, max {other_a.max():.2f}",
        "| line | same question found | different questions over it |",
        "|---|---|---|",
    ]
    for line in sorted({0.6, 0.65, 0.7, 0.75, 0.8, 0.85, LESSON_SIMILARITY}):
        mark = " (LESSON_SIMILARITY)" if line == LESSON_SIMILARITY else ""
        lines.append(
            f"| {line:.2f}{mark} | {np.mean(same_a >= line):.0%} | {int(np.sum(other_a >= line))}"
            f" ({np.mean(other_a >= line):.2%}) |"
        )
    return lines + evidence_calibration(retriever, dev)


def evidence_calibration(retriever: Retriever, dev: list[EvalQuestion]) -> list[str]:
    """How the evidence rule of bot/lessons.py does on the calibration questions (never on tests/eval/lessons.jsonl):
    each question with a passage (a dev question with its gold passage, a paraphrases.jsonl wording with its group's
    passage) is taught alone, and every other calibration question asked. A lesson that puts its passage first for a
    question that has another answer, where retrieval did not already, is a wrong takeover."""
    import tempfile

    from bot.lessons import EVIDENCE_RANK, LessonBook, LessonError, TaughtResult, find_passage

    asked: list[tuple[str, list[str], str]] = [(q.question, q.gold, q.id) for q in dev]
    for line in (EVAL_DIR / "paraphrases.jsonl").read_text(encoding="utf-8").splitlines():
        if line:
            item = json.loads(line)
            gold = [item["passage"]] if item["passage"] else []
            asked += [(wording, gold, item["id"]) for wording in item["wordings"]]
    queries = retriever.embedder.encode([retriever.rewrite(text)[0] for text, _, _ in asked])
    # retrieval's answers as LessonBook.fetch asks for them while a passage lesson is in force
    fetched = [
        retriever.answer_vector(text, query, max(3, EVIDENCE_RANK))
        for (text, _, _), query in zip(asked, queries, strict=True)
    ]
    with tempfile.TemporaryDirectory() as folder:
        found = needed = wrong = pairs = 0
        for n, (text, gold, group) in enumerate(asked):
            if not gold:
                continue
            try:
                document, passage = find_passage(retriever.index, gold[0])
            except LessonError:
                continue  # a gold phrase in several passages: not one passage to teach
            book = LessonBook(Path(folder) / f"{n}.sqlite3")
            book.teach_passage(text, "eval", retriever.index, document, passage)
            for m, (_, other_gold, other_group) in enumerate(asked):
                if m == n:
                    continue
                before = fetched[m].results[0].quote if fetched[m].answered and fetched[m].results else ""
                after = book.apply(fetched[m], queries[m], retriever)
                taken = bool(after.results) and isinstance(after.results[0], TaughtResult)
                same = other_group == group or any(is_hit(g, [passage]) or is_hit(passage, [g]) for g in other_gold)
                already = passage in before or (bool(before) and before in passage)
                if same and not already:
                    needed += 1
                    found += taken
                elif not same:
                    pairs += 1
                    wrong += taken and not already
            book.close()
    return [
        "evidence rule (one question taught at a time, every other dev and paraphrases.jsonl question asked):",
        f"same question not already first found {found}/{needed}; different questions taken over {wrong}/{pairs}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.evaluation", description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["dev", "holdout"], help="question sets in tests/eval/")
    parser.add_argument("--sizes", nargs="+", type=int, default=[1, 2, 3], help="corpus sizes to run (1-3)")
    parser.add_argument("--cache", type=Path, default=PROJECT_ROOT / "embeddings" / ".eval")
    parser.add_argument("--no-peers", action="store_true", help="score this bot only (faster while tuning)")
    parser.add_argument("--misses", action="store_true", help="print every question this bot missed, with its quotes")
    parser.add_argument(
        "--adapted", action="store_true", help="adapt the model to each corpus first (python -m bot adapt)"
    )
    parser.add_argument(
        "--exact", action="store_true", help="score every passage, not only FAISS's and bm25s's candidates"
    )
    parser.add_argument(
        "--lessons", action="store_true", help="only the lessons section (the paraphrase measure and calibration)"
    )
    parser.add_argument(
        "--encoder", choices=ENCODER_PRECISIONS, help="embed passages and questions with it (default ENCODER_PRECISION)"
    )
    parser.add_argument(
        "--query-encoder", choices=ENCODER_PRECISIONS, help="embed the questions with it (default: --encoder)"
    )
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    precision = args.encoder or settings.encoder_precision
    base_model = Embedder.from_setting(settings.embedding_model)
    served: TextEncoder = query_embedder(settings.encoder_dir, base_model, precision)  # as the bot builds and serves
    asked: TextEncoder = (
        query_embedder(settings.encoder_dir, base_model, args.query_encoder)
        if args.query_encoder not in (None, precision)
        else served
    )
    print(f"encoder: passages {served.runtime}, questions {asked.runtime}", file=sys.stderr)
    args.cache.mkdir(parents=True, exist_ok=True)
    archive = Path(os.environ.get("EVAL_LARGE_ARCHIVE", DEFAULT_ARCHIVE))
    if not archive.is_file():
        print(f"note: {archive} not found; the archive size is left out", file=sys.stderr)

    def note(msg: str) -> None:
        print(msg, file=sys.stderr)

    if args.lessons:
        print_lessons(settings, served, args.cache, asked)
        return 0
    sets = {name: load_questions(EVAL_DIR / f"{name}.jsonl") for name in args.sets}
    from tools.near_topic import NEAR_TOPIC_HEADER, near_topic_rows  # it imports this module

    rows = []
    near_topic: list[str] = []
    missed = []
    timings: list[tuple[str, int, tuple[float, float]]] = []
    for number, size in enumerate(make_sizes(settings.corpus_dir, args.cache, archive), 1):
        if number not in args.sizes:
            continue
        index_dir = args.cache / f"index-{size.corpus.name}{precision_suffix(served)}"
        embedder: TextEncoder = CachedEncoder(served, args.cache)
        questions_by: TextEncoder = embedder if asked is served else CachedEncoder(asked, args.cache)
        label = size.label
        if args.adapted:
            from bot.adapt import adapt_model

            model_dir = args.cache / f"model-adapted-{size.corpus.name}"
            report = adapt_model(size.corpus, model_dir, base_model)
            note(f"adapted the model to {label}: {report.pairs} pairs, {report.seconds:.0f} s")
            embedder = questions_by = query_embedder(settings.encoder_dir, Embedder(model_dir), precision)
            index_dir = index_dir.with_name(index_dir.name + "-adapted")
            label = f"{label}, adapted model"
        index = ensure_index(size.corpus, index_dir, embedder, notify=note)
        if isinstance(embedder, CachedEncoder):
            embedder.save()
        retriever = Retriever(index, questions_by, exact=args.exact)
        timings.append((label, index.size, warm_latency(retriever, [q.question for qs in sets.values() for q in qs])))
        near_topic += near_topic_rows(label, size.groups, retriever, embedder, list(sets))
        for set_name, questions in sets.items():
            off = [q for q in questions if q.off_topic]
            for g, group in enumerate(size.groups):
                chosen = [q for q in questions if q.group == group] + off
                results = evaluate(index, questions_by, chosen, retriever, not args.no_peers)
                for system, scores in results.items():
                    name = f"**{system}**" if system == BOT else system
                    rows.append(f"| {label} | {set_name} | {group} ({scores.real}) | {name} | {scores.cells()} |")
                # the off-topic questions are the same in every group: their misses are listed once
                missed += [(label, set_name, *m) for m in results[BOT].misses if g == 0 or not m[0].off_topic]
    print("| corpus | set | questions | system | hit@1 | hit@3 | MRR | in first 10 | answered | off-topic declined |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n| corpus | passages | warm answer p50 | p95 |\n|---|---|---|---|")
    for label, passages, (p50, p95) in timings:
        print(f"| {label} | {passages:,} | {p50:.1f} ms | {p95:.1f} ms |")
    print("\nNear-topic questions (tests/eval/near_topic.jsonl) and the moderators' topics (scopes.toml):")
    print(NEAR_TOPIC_HEADER + "\n" + "\n".join(near_topic))
    if not args.adapted and 2 in args.sizes:
        print_lessons(settings, served, args.cache, asked)
    if args.misses:
        for label, set_name, q, answered, quotes in missed:
            print(f"\n[{label} / {set_name}] {q.id} ({q.doc}) {q.question!r}")
            print(f"   gold: {q.gold[0][:150] if q.gold else '(off-topic)'}")
            if not answered:
                print("   DECLINED")
            for r, quote in enumerate(quotes, 1):
                print(f"   {r}. {quote[:220]!r}")
    return 0


def precision_suffix(encoder: TextEncoder) -> str:
    """What an eval build's folder name adds for the encoder's precision: nothing for fp32 (the folders made before
    int8 existed), `-int8` for int8."""
    runtime = encoder.runtime
    return runtime.removeprefix("onnxruntime") if runtime.startswith("onnxruntime-") else ""


def print_lessons(settings: Settings, served: TextEncoder, cache: Path, asked: TextEncoder | None = None) -> None:
    """The lessons section of `make eval`, on the "+ 8 guides" corpus (interview and guide questions)."""
    import tempfile

    size = make_sizes(settings.corpus_dir, cache, None)[1]
    embedder = CachedEncoder(served, cache)
    index_dir = cache / f"index-{size.corpus.name}{precision_suffix(served)}"
    index = ensure_index(size.corpus, index_dir, embedder, notify=lambda m: None)
    embedder.save()
    retriever = Retriever(index, asked or served)
    print("\nLessons (moderators teach the bot; corpus + 8 guides; tests/eval/lessons.jsonl):")
    with tempfile.TemporaryDirectory() as folder:
        figures = measure_lessons(retriever, Path(folder) / "lessons.sqlite3")
    print("\n".join(f"- {line}" for line in figures.lines()))
    print("\nLESSON_SIMILARITY calibration (tests/eval/paraphrases.jsonl against dev pairs):")
    print("\n".join(lesson_calibration(retriever)))


if __name__ == "__main__":
    raise SystemExit(main())
