"""The answering service: the one front door for answering, quoting and teaching, which the Discord layer and the
command line (`ask`, `chat`, `quote`, `teach`) both go through, so moderators' lessons apply wherever a question is
asked; and the live index and reindexing behind it.

It holds one immutable snapshot (index, retriever, quote drawer) and replaces it whole after a reindex, so a question
that started on the old index finishes on it while the next one uses the new. It owns the LessonBook (the lessons and
readers' votes in the database of DATABASE_PATH) that every answer goes through. Everything here blocks (model, file
and database work): the Discord layer calls it from worker threads. Nothing here imports `discord`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.config import Settings
from bot.embedding import Embedder, TextEncoder
from bot.encoder import query_embedder
from bot.index import (
    BuildBusy,
    BuildReport,
    IndexError_,
    PassageIndex,
    build_index,
    current_build,
    encoder_mismatch,
    ensure_index,
    load_index,
)
from bot.index.roots import link_of
from bot.lease import BuildLease
from bot.lessons import Lesson, LessonBook, LessonEntry, LessonError, candidates
from bot.quotes import Quote, QuoteDrawer
from bot.retrieval import Answer, Dense, Explained, Result, Retriever, check_question
from bot.scope import Scopes, Topic
from bot.sources import SourcesSetup, SyncReport, read_state, sync_sources

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
DEFAULT_ENCODER_DIR = Settings.encoder_dir
DEFAULT_ENCODER_PRECISION = Settings.encoder_precision


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    passages: int
    indexed_at: str
    url: str | None
    authority: float = 1.0  # front matter `authority` (1 is normal)


@dataclass(frozen=True)
class Snapshot:
    index: PassageIndex
    retriever: Retriever
    drawer: QuoteDrawer
    generation: int
    sources: list[Source]
    topics: list[str]


@dataclass
class ReindexReport:
    build: BuildReport
    passages_added: int
    passages_removed: int
    passages_unchanged: int
    sync: SyncReport | None = None  # the sources' sync that came first (None: no sources, or not asked to)


@dataclass(frozen=True)
class Repository:
    """A git source as /sources shows it."""

    name: str
    commit: str | None
    synced_at: str | None
    documents: int
    error: str | None = None


@dataclass
class _Histories:
    """Recent quotes per channel, forgotten when the index changes (window numbers change with it)."""

    generation: int = -1
    by_channel: dict[int, deque[int]] = field(default_factory=dict)


class QueryBatcher:
    """Embeds questions that arrive together in one model call, and scores them against the index in one pass.

    A caller whose question is still waiting, while no batch is running, runs the next batch: every queued question,
    oldest first, its own among them. So a question alone costs what it always did, and twenty at once go through the
    model a batch at a time instead of twenty threads fighting over two cores; nobody waits on batches after their
    own. Questions given a retriever also get their similarity to every passage computed together (one pass over
    the vectors for the batch: on a large corpus that scan is bound by memory bandwidth, not arithmetic).
    """

    def __init__(self, embedder: TextEncoder, max_batch: int = 32) -> None:
        self.embedder = embedder
        self.max_batch = max_batch
        self._ready = threading.Condition()
        self._pending: list[tuple[str, Retriever | None, Future[tuple[np.ndarray, Dense | None]]]] = []
        self._running = False
        self.calls = 0  # model calls made, for tests and benchmarks

    def encode(self, text: str) -> np.ndarray:
        return self.score(text, None)[0]

    def score(self, text: str, retriever: Retriever | None) -> tuple[np.ndarray, Dense | None]:
        """The text's vector and, with a retriever, its similarities in that retriever's index."""
        future: Future[tuple[np.ndarray, Dense | None]] = Future()
        with self._ready:
            self._pending.append((text, retriever, future))
        while not future.done():
            with self._ready:
                if future.done():
                    break
                if self._running:
                    self._ready.wait()
                    continue
                self._running = True
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
            try:
                vectors = self.embedder.encode([t for t, _, _ in batch], batch_size=len(batch))
                self.calls += 1
                scores: list[Dense | None] = [None] * len(batch)
                # an index swapped mid-batch: each question is scored in the index it was asked of
                for retriever in {id(r): r for _, r, _ in batch if r is not None}.values():
                    rows = [i for i, (_, r, _) in enumerate(batch) if r is retriever]
                    for i, dense in zip(rows, retriever.dense(vectors[rows]), strict=True):
                        scores[i] = dense
                for (_, _, waiting), vector, dense in zip(batch, vectors, scores, strict=True):
                    waiting.set_result((vector, dense))
            except Exception as exc:  # every waiter of this batch learns of the failure; none hangs
                for _, _, waiting in batch:
                    if not waiting.done():
                        waiting.set_exception(exc)
            finally:
                for _, _, waiting in batch:  # interrupted (KeyboardInterrupt): nobody may wait forever
                    if not waiting.done():
                        waiting.set_exception(RuntimeError("the embedding batch was interrupted"))
                with self._ready:
                    self._running = False
                    self._ready.notify_all()
        return future.result()


class AnswerService:
    def __init__(
        self,
        corpus_dir: Path,
        index_dir: Path,
        embedder: Embedder,
        quote_memory: int = 5,
        encoder_dir: Path = DEFAULT_ENCODER_DIR,
        sources: SourcesSetup | None = None,
        lessons: LessonBook | None = None,
        encoder_precision: str = DEFAULT_ENCODER_PRECISION,
        topics: Sequence[Topic] = (),
    ) -> None:
        self.corpus_dir = corpus_dir
        # moderators' lessons and readers' votes, applied to every answer (None: no database, nothing taught)
        self.lesson_book = lessons
        self.sources_setup = sources  # git repositories synced by /reindex (and on a schedule) before it builds
        self._local = threading.local()
        self.index_dir = index_dir
        self.encoder_dir = encoder_dir
        self.encoder_precision = encoder_precision
        self.embedder = embedder
        self.quote_memory = quote_memory
        self._snapshot: Snapshot | None = None
        self._reindexing = threading.Lock()
        self._quotes_lock = threading.Lock()
        self._histories = _Histories()
        self.query_encoder: TextEncoder = embedder
        self._queries = QueryBatcher(embedder)
        self._lease: BuildLease | None = None  # on the build in service, so no other process's build removes it
        self._unusable: str | None = None  # a build `follow_current` could not load, not retried
        # what the bot declines, with where to ask instead (scopes.toml, bot/scope.py)
        self.scopes = Scopes(topics, embedder)

    # --- start-up and reindex: one code path with the CLI (build_index) ---------------------------------------------

    def load(self, notify: Callable[[str], None] = log.warning, progress: ProgressFn | None = None) -> None:
        """Load the index, building it first when it is missing, stale or corrupt."""
        self.query_encoder = query_embedder(self.encoder_dir, self.embedder, self.encoder_precision)
        self._queries = QueryBatcher(self.query_encoder)
        self.scopes = Scopes(self.scopes.topics, self.query_encoder)  # examples embedded as questions are
        index = ensure_index(self.corpus_dir, self.index_dir, self.query_encoder, notify=notify, progress=progress)
        self._install(index)
        # warm the model and the scoring path so the first real question is not the slow one
        self.snapshot.retriever.answer("How do I start contributing?")
        self.scopes.typical(self.snapshot.retriever)  # embeds the examples, and how close this index comes to them

    @contextlib.contextmanager
    def without_sync(self) -> Iterator[None]:
        """Reindexes this thread runs meanwhile do not sync the sources (a corpus change's)."""
        self._local.no_sync = True
        try:
            yield
        finally:
            self._local.no_sync = False

    @property
    def has_sources(self) -> bool:
        """Are there git sources to sync (listed in sources.toml, or still in the index until a sync drops them)?"""
        if self.sources_setup is None:
            return False
        return bool(self.sources_setup.specs) or bool(self._snapshot and self._snapshot.index.manifest.get("sources"))

    def reindex(self, progress: ProgressFn | None = None, sync: bool = True) -> ReindexReport:
        """Sync the git sources first (when there are any and `sync`), rebuild from the corpus and the sources'
        checkouts, and swap the new index in. Raises BuildBusy when a build is already running, and CorpusError /
        IndexError_ when the build fails; the old index then stays in service. A source that cannot be synced keeps
        its previous commit, and the report's `sync` says why."""
        if not self._reindexing.acquire(blocking=False):
            raise BuildBusy("A reindex is already running.")
        try:
            old = self._snapshot.index if self._snapshot else None
            synced = None
            if sync and not getattr(self._local, "no_sync", False) and self.sources_setup and self.has_sources:
                synced = sync_sources(
                    self.sources_setup,
                    self.corpus_dir,
                    self.index_dir,
                    self.query_encoder,
                    progress=progress,
                    wait=False,
                    previous=old,
                    always_build=True,
                )
                if synced.build is None:  # always_build: never; kept so a type checker knows
                    raise IndexError_("the sync did not build the index")
                report = synced.build
            else:
                report = build_index(
                    self.corpus_dir, self.index_dir, self.query_encoder, progress=progress, wait=False, previous=old
                )
            new = load_index(self.index_dir)
            self._install(new)
        finally:
            self._reindexing.release()
        # only the documents the build read again are compared: the others' paragraphs are the old index's
        read = set(report.added) | set(report.changed) | set(report.removed)
        if old is None or report.embedded_documents > len(report.added) + len(report.changed):
            read = None  # more was read again (another model or chunking, a source's authority): compare everything
        before = _passage_keys(old, read) if old else Counter()
        after = _passage_keys(new, read)
        return ReindexReport(
            build=report,
            passages_added=sum((after - before).values()),
            passages_removed=sum((before - after).values()),
            passages_unchanged=sum((after & before).values()) + len(new.paragraphs) - sum(after.values()),
            sync=synced,
        )

    def repositories(self) -> list[Repository]:
        """The git sources: each with the commit the index serves, when it was last synced and its documents."""
        if self._snapshot is None:
            return []
        manifest = self._snapshot.index.manifest
        served = {item["name"]: item.get("commit") for item in manifest.get("sources", [])}
        specs = self.sources_setup.specs if self.sources_setup else ()
        names = list(dict.fromkeys([*(s.name for s in specs), *served]))
        state = read_state(self.sources_setup.directory) if self.sources_setup else {}
        indexed = manifest.get("indexed", {})
        return [
            Repository(
                name,
                served.get(name),
                state.get(name, {}).get("synced_at"),
                sum(1 for n in indexed if n.startswith(f"{name}/")),
                state.get(name, {}).get("error"),
            )
            for name in names
        ]

    def follow_current(self) -> bool:
        """Swap in the build CURRENT names when another process (its /reindex, `python -m bot index`) has made a
        new one live; True when it did. Cheap when nothing changed (CURRENT is one short line). The old snapshot
        serves until the new one is loaded; a build that cannot be loaded is logged once and the old one kept. It
        holds the reindex lock while it loads, so a /reindex meanwhile is told one is running."""
        if self._snapshot is None or not self._reindexing.acquire(blocking=False):
            return False  # not loaded yet, or our own reindex is about to install the build anyway
        try:
            try:
                build = current_build(self.index_dir)
            except IndexError_ as exc:
                return self._cannot_follow(str(exc), str(exc))
            if build is None or build == self._snapshot.index.path or build.name == self._unusable:
                return False
            lease = BuildLease.take(build)
            if lease is None:
                return False  # replaced again meanwhile: the next check finds the newer one
            try:
                index = load_index(self.index_dir)
            except IndexError_ as exc:
                lease.release()
                return self._cannot_follow(build.name, f"{build.name} ({exc})")
            if index.path != build:  # CURRENT moved on while loading: hold what is served
                lease.release()
                lease = BuildLease.take(index.path)
            mismatch = encoder_mismatch(index.manifest, self.query_encoder)
            if mismatch is not None:  # a process with other settings built it: its vectors are not ours to search
                if lease is not None:
                    lease.release()
                return self._cannot_follow(index.path.name, f"{index.path.name} ({mismatch})")
            self._install(index, lease)
            return True
        finally:
            self._reindexing.release()

    def _cannot_follow(self, key: str, reason: str) -> bool:
        if self._unusable != key:
            log.error(
                "another process made a new index live, but it cannot be loaded; keeping %s: %s",
                self.snapshot.index.path.name,
                reason,
            )
            self._unusable = key
        return False

    @property
    def loaded(self) -> bool:
        return self._snapshot is not None

    @property
    def reindexing(self) -> bool:
        return self._reindexing.locked()

    def _install(self, index: PassageIndex, lease: BuildLease | None = None) -> None:
        generation = self._snapshot.generation + 1 if self._snapshot else 0
        retriever = Retriever(index, self.query_encoder)
        drawer = QuoteDrawer(index, self.query_encoder, memory=self.quote_memory)
        lease = lease or BuildLease.take(index.path)
        self._snapshot = Snapshot(index, retriever, drawer, generation, _sources(index), _topics(index))
        previous, self._lease = self._lease, lease
        if previous is not None:
            previous.release()
        log.info("index %s in service (%d passages)", index.path.name, index.size)

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            raise RuntimeError("AnswerService.load() has not run")
        return self._snapshot

    def keep_lessons_in(self, database: Path) -> None:
        """Take lessons and votes from the SQLite file `database` (DATABASE_PATH) from now on: what a Discord bot
        serving from this service does at start, for its own database. Nothing changes when they come from that file
        already. Raises LessonError when it cannot be opened."""
        if self.lesson_book is not None and self.lesson_book.database == database:
            return
        previous, self.lesson_book = self.lesson_book, LessonBook(database)
        if previous is not None:
            previous.close()

    # --- serving --------------------------------------------------------------------------------------------------

    def ask(self, question: str, k: int = 3, lessons: LessonBook | None = None) -> Answer:
        """Retrieval's answer with moderators' lessons and readers' votes applied (bot/lessons.py): the service's
        own, or `lessons` instead when given; then a question on one of the moderators' out-of-scope topics is
        declined with its pointer (bot/scope.py), unless a lesson answered it. Raises QuestionError for a question
        that cannot be used. Safe to call from many threads at once."""
        retriever = self.snapshot.retriever
        text = check_question(question)
        vector, dense = self._queries.score(retriever.rewrite(text)[0], retriever)
        book = lessons if lessons is not None else self.lesson_book
        if book is None:
            answer = retriever.answer_vector(text, vector, k, dense)
        else:
            answer = book.apply(retriever.answer_vector(text, vector, book.fetch(k), dense), vector, retriever, k)
        return self.scopes.apply(answer, vector, retriever)  # a lesson wins over a topic (bot/scope.py)

    def quote(self, topic: str | None = None, channel: int | None = None) -> Quote:
        """A random quote; no repeat of the last few in the same channel. Raises NoQuoteError."""
        snapshot = self.snapshot
        with self._quotes_lock:
            if self._histories.generation != snapshot.generation:
                self._histories = _Histories(snapshot.generation)
            recent = None
            if channel is not None:
                recent = self._histories.by_channel.setdefault(channel, deque(maxlen=snapshot.drawer.recent.maxlen))
            return snapshot.drawer.draw(topic, recent)

    def sources(self) -> list[Source]:
        return self.snapshot.sources

    def ignored(self) -> list[str]:
        """Files the corpus's .botignore keeps out of the index."""
        return list(self.snapshot.index.manifest.get("ignored", []))

    def topics(self) -> list[str]:
        """A few things the corpus can answer, for the "I don't know" reply."""
        return self.snapshot.topics

    # --- readers' votes ---------------------------------------------------------------------------------------------

    def record_shown(self, question_id: int, answer: Answer) -> None:
        """Remember the passage `answer` showed first, under the id its question was recorded with, so a reader's
        vote on the answer counts for that passage. Raises LessonError."""
        if self.lesson_book is not None:
            self.lesson_book.record_shown(question_id, answer)

    def vote(self, question_id: int, user_id: int, helpful: bool) -> bool:
        """A reader's vote on the passage shown first for a recorded question; False when that passage is unknown.
        Raises LessonError."""
        return self.lesson_book is not None and self.lesson_book.vote(question_id, user_id, helpful)

    # --- teaching: moderators choose the answer to a question -------------------------------------------------------

    def explain(self, question: str, k: int = 3) -> Explained:
        """Why the retriever ranks what it shows (before any lesson): `python -m bot ask --explain`."""
        return self.snapshot.retriever.explain(question, k)

    def candidates(self, question: str, k: int = 10) -> list[Result]:
        """The passages a moderator can choose from for `question` (bot/lessons.py). Raises QuestionError."""
        return candidates(self.snapshot.retriever, question, k)

    def teach(self, question: str, actor: str, phrase: str) -> Lesson:
        """Teach the one passage of the live index holding `phrase` as the answer to `question`. Raises LessonError."""
        return self._lessons().teach(question, actor, self.snapshot.index, phrase)

    def teach_passage(self, question: str, actor: str, document: str, passage: str) -> Lesson:
        """Teach a passage given as document name + text (a candidate the moderator picked). Raises LessonError."""
        return self._lessons().teach_passage(question, actor, self.snapshot.index, document, passage)

    def teach_no_answer(self, question: str, actor: str) -> Lesson:
        """Teach that the documents do not answer `question`. Raises LessonError."""
        return self._lessons().teach_no_answer(question, actor)

    def remove_lesson(self, lesson_id: int, actor: str) -> Lesson:
        """Remove a lesson (the audit log keeps it). Raises LessonError."""
        return self._lessons().remove(lesson_id, actor)

    def lessons(self) -> tuple[list[Lesson], set[int]]:
        """The lessons in force, oldest first, and the ids of those flagged: their passage is not in the live index
        any more, so they are not applied."""
        book = self._lessons()
        return book.lessons(), book.flagged(self.snapshot.index)

    def lesson_history(self, limit: int = 20) -> list[LessonEntry]:
        """Who taught and removed which lesson, and when; newest first."""
        return self._lessons().history(limit)

    def _lessons(self) -> LessonBook:
        if self.lesson_book is None:
            raise LessonError("Lessons are kept in the bot's database, and this service has none.")
        return self.lesson_book


def _sources(index: PassageIndex) -> list[Source]:
    counts = index.notes["doc_paragraphs"]
    built = index.manifest.get("built_at", "")
    indexed = index.manifest.get("indexed_at", {})
    return [
        Source(
            name=doc["name"],
            title=doc["title"],
            passages=counts[d],
            indexed_at=indexed.get(doc["name"], built),
            url=link_of(doc),
            authority=float(doc.get("authority", 1.0)),
        )
        for d, doc in enumerate(index.documents)
    ]


def _topics(index: PassageIndex) -> list[str]:
    """Headings spread over the corpus (for an interview, the questions it answers), chosen when it was built."""
    return list(index.notes["topics"])


_QUESTION_WORDS = frozenset(
    "how what why where when who whom whose which can could should would will is are am do does did has have may "
    "might must shall any anyone anybody".split()
)


def looks_like_question(text: str) -> bool:
    """A post that asks something: it has a question mark, or starts the way questions start."""
    words = re.findall(r"[a-z']+", text.lower())
    return "?" in text or (bool(words) and words[0] in _QUESTION_WORDS)


def _passage_keys(index: PassageIndex, names: set[str] | None = None) -> Counter[str]:
    """Each paragraph (of the documents `names`, default all) as document name + text digest, to count what a
    reindex added and removed."""
    docs = [d for d, doc in enumerate(index.documents) if names is None or doc["name"] in names]
    paragraphs = np.flatnonzero(np.isin(index.derived["para_doc"], docs)).tolist()
    return Counter(
        index.documents[p.doc]["name"] + ":" + hashlib.sha1(p.text.encode(), usedforsecurity=False).hexdigest()
        for p in (index.paragraphs[i] for i in paragraphs)
    )
