"""Out of scope, said kindly: topics the moderators name as not the documents' to answer, each with where to ask.

`scopes.toml` (SCOPES_FILE) lists the topics, each a `[[topic]]` table:

    [[topic]]
    name = "using Kubernetes"
    pointer = "For help running Kubernetes, see https://kubernetes.io/docs/ or ask in #kubernetes-users."
    examples = ["my pod is stuck in CrashLoopBackOff", "how do I pass my own values.yaml to a helm chart", ...]

A question is out of scope when it is close to a topic's examples and the documents do not answer it clearly better
than that. Three similarities (cosine, the served query encoder; questions and examples both after retrieval's
rewrite of a speaker's name, so "Jaice's laptop" and "your laptop" are one question to both):
  - `closeness`: the question's to the topic's nearest example;
  - `evidence`: the question's to the closest sentence window of the passages its answer quotes;
  - `typical`: how close this corpus comes to the topic's own examples (the median over them of their closest
    window). A large corpus comes close to anything: the 965-file Kubernetes community archive comes within 0.69 of
    the median "using Kubernetes" example, the interview alone within 0.42. A question it comes no closer to is no
    better answered than the questions the moderators named as not its own.
Out of scope: closeness >= CLOSENESS and evidence <= max(closeness - MARGIN, typical + SLACK). The answer is then
declined with the topic's pointer; a question retrieval declined anyway gets the pointer when closeness >=
CLOSENESS. A moderator's lesson wins over a topic: a taught answer or a taught decline is left as it is.

How the lines were chosen: `python -m tools.near_topic --calibrate`, on the dev questions only (tests/eval/dev.jsonl
at each of `make eval`'s three corpus sizes, and the dev split of tests/eval/near_topic.jsonl), searched a grid for
the lines that decline no on-topic question retrieval answers at any size, and still none with each line moved two
grid steps (0.05) towards declining more, with CLOSENESS above where bot/questions.py's unrelated questions come to a
topic (at most 0.34 with the shipped topics), so no cooking question is pointed to Kubernetes' user docs. Of those,
the lines declining the most near-topic questions at the size declining fewest were kept, ties to the more careful.
The two lines alone (closeness against evidence) declined 2-4 fewer near-topic questions per size without losing an
on-topic one. Figures: docs/evaluation.md.

Everything here is pure (no `discord`): the service applies it to answers, the command line too.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import tomllib
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.config import ConfigError
from bot.embedding import TextEncoder
from bot.lessons import TaughtDecline, TaughtResult
from bot.retrieval import Answer, Result, Retriever

log = logging.getLogger(__name__)

KEYS = ("name", "pointer", "examples")
MIN_EXAMPLES, MAX_EXAMPLES = 3, 30
MAX_NAME, MAX_POINTER, MAX_EXAMPLE = 80, 300, 300
MAX_TOPICS = 50

# The lines (how they were chosen: the module docstring). A question at least CLOSENESS similar to a topic's nearest
# example is out of scope when the passage its answer quotes is no closer to it than the example is, less MARGIN, or
# no closer than the documents typically come to the topic's own examples, plus SLACK.
CLOSENESS = 0.5
MARGIN = 0.1
SLACK = -0.125


class ScopeError(ConfigError):
    """scopes.toml cannot be used; the message gives the file, the line and the reason."""


@dataclass(frozen=True)
class Topic:
    """One `[[topic]]` of scopes.toml."""

    name: str
    pointer: str  # one line: where to ask instead
    examples: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    """How a question stands to the topics: the nearest topic, its closeness, and the answer's own evidence."""

    topic: Topic | None
    closeness: float  # to the topic's nearest example
    evidence: float  # to the closest passage the answer quotes (0 when declined)
    typical: float = 0.0  # how close the documents typically come to the topic's own examples


def load_topics(path: Path) -> list[Topic]:
    """The topics the file lists; none when it does not exist. Raises ScopeError for a file that cannot be used."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ScopeError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ScopeError(f"{path}: is not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScopeError(f"{path}: is not valid TOML ({exc}).") from None
    lines = text.splitlines()
    for key in data:
        if key != "topic":
            line = _line_of(lines, key, 0, len(lines))
            raise ScopeError(f"{path}, line {line}: unknown key {key!r} (only [[topic]] tables).")
    tables = data.get("topic", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ScopeError(f"{path}, line {_line_of(lines, 'topic', 0, len(lines))}: write each topic as [[topic]].")
    if len(tables) > MAX_TOPICS:
        raise ScopeError(f"{path}: {len(tables)} topics; at most {MAX_TOPICS}.")
    starts = [i for i, line in enumerate(lines) if re.match(r"\s*\[\[\s*topic\s*\]\]", line)]
    topics: list[Topic] = []
    seen: dict[str, int] = {}
    for n, table in enumerate(tables):
        start = starts[n] if n < len(starts) else 0
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)

        def fail(key: str | None, reason: str, start: int = start, end: int = end) -> ScopeError:
            line = _line_of(lines, key, start, end) if key else start + 1
            return ScopeError(f"{path}, line {line}: {reason}")

        topic = _topic(table, fail)
        folded = topic.name.casefold()
        if folded in seen:
            raise fail("name", f"topic {topic.name!r} is named twice (first on line {seen[folded]}).")
        seen[folded] = _line_of(lines, "name", start, end)
        topics.append(topic)
    return topics


def _line_of(lines: list[str], key: str | None, start: int, end: int) -> int:
    """The 1-based line where `key =` (or a table of that name) is written between two lines, else the first."""
    pattern = re.compile(rf"\s*(\[\[?\s*)?[\"']?{re.escape(key or '')}[\"']?\s*(=|\]|\.)")
    for i in range(start, end):
        if pattern.match(lines[i]):
            return i + 1
    return start + 1


def _one_line(value: object) -> str | None:
    """`value` as one line of text (runs of spaces and tabs made one space), or None when it is not one."""
    if not isinstance(value, str) or any(ch in value for ch in "\n\r\x0b\x0c\x85\u2028\u2029"):
        return None
    if any(not ch.isprintable() and ch != "\t" for ch in value):
        return None
    return " ".join(value.split()) or None


def _topic(table: dict[str, Any], fail: Callable[..., ScopeError]) -> Topic:
    for key in table:
        if key not in KEYS:
            raise fail(key, f"unknown key {key!r} in [[topic]] (known: {', '.join(KEYS)}).")
    for key in KEYS:
        if key not in table:
            raise fail(None, f"this [[topic]] has no {key!r}.")
    name = _one_line(table["name"])
    if name is None or len(name) > MAX_NAME:
        raise fail("name", f"'name' must be one line of text, at most {MAX_NAME} characters.")
    pointer = _one_line(table["pointer"])
    if pointer is None or len(pointer) > MAX_POINTER:
        raise fail("pointer", f"'pointer' must be one line of text, at most {MAX_POINTER} characters.")
    examples = table["examples"]
    if not isinstance(examples, list):
        raise fail("examples", "'examples' must be a list of questions, such as [\"my pod keeps crashing\", ...].")
    if not MIN_EXAMPLES <= len(examples) <= MAX_EXAMPLES:
        raise fail("examples", f"'examples' has {len(examples)}; give {MIN_EXAMPLES} to {MAX_EXAMPLES} questions.")
    shown: list[str] = []
    for example in examples:
        line = _one_line(example)
        if line is None or len(line) > MAX_EXAMPLE:
            raise fail("examples", f"each example must be one line of text, at most {MAX_EXAMPLE} characters.")
        if line.casefold() in (s.casefold() for s in shown):
            raise fail("examples", f"the example {line!r} is given twice.")
        shown.append(line)
    return Topic(name, pointer, tuple(shown))


class Scopes:
    """The topics, their examples embedded once (cached by text: a reindex that rewrites an example differently, a
    new speaker's name, embeds only that one), and the decision for a question. Safe to use from many threads."""

    def __init__(
        self,
        topics: Sequence[Topic],
        encoder: TextEncoder,
        closeness: float = CLOSENESS,
        margin: float = MARGIN,
        slack: float = SLACK,
    ) -> None:
        self.topics = tuple(topics)
        self.encoder = encoder
        self.closeness = closeness
        self.margin = margin
        self.slack = slack
        self._owner = np.array([t for t, topic in enumerate(self.topics) for _ in topic.examples], dtype=np.int64)
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._typical: tuple[weakref.ref[Retriever], np.ndarray] | None = None  # for the retriever last asked

    def with_lines(self, closeness: float, margin: float, slack: float) -> Scopes:
        """The same topics (and embeddings) with other lines: for calibration."""
        other = Scopes(self.topics, self.encoder, closeness, margin, slack)
        other._vectors, other._typical = self._vectors, self._typical
        return other

    def __bool__(self) -> bool:
        return bool(self.topics)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts`, embedding only those not seen before."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
            if missing:
                vectors = np.asarray(self.encoder.encode(missing, batch_size=len(missing)), dtype=np.float32)
                self._vectors.update(zip(missing, vectors, strict=True))
            return np.stack([self._vectors[t] for t in texts])

    def examples(self, retriever: Retriever) -> np.ndarray:
        """Every example's vector, embedded as the retriever embeds questions (after its rewrite of a speaker's name),
        topic by topic in order."""
        return self._embed([retriever.rewrite(e)[0] for topic in self.topics for e in topic.examples])

    def typical(self, retriever: Retriever) -> np.ndarray:
        """For each topic, how close the retriever's documents come to its examples: the median over the examples of
        their closest passage (sentence window, dense). A large corpus comes close to anything, the moderators'
        examples included; a question it comes no closer to is not one it answers. Computed once per index."""
        if not self.topics:
            return np.zeros(0)
        cached = self._typical
        if cached is not None and cached[0]() is retriever:
            return cached[1]
        vectors = self.examples(retriever)
        closest = np.zeros(len(vectors), dtype=np.float32)
        for i, (vector, dense) in enumerate(zip(vectors, retriever.dense(vectors), strict=True)):
            if len(dense.candidates):
                windows = np.sort(dense.candidates)
                closest[i] = float(
                    (np.asarray(retriever.index.window_vectors[windows], dtype=np.float32) @ vector).max()
                )
        typical = np.array([float(np.median(closest[self._owner == t])) for t in range(len(self.topics))])
        self._typical = (weakref.ref(retriever), typical)
        return typical

    def judge(self, answer: Answer, query: np.ndarray, retriever: Retriever) -> Verdict:
        """The topic nearest the question embedded as `query`, how close it is, the answer's own evidence and how
        close the documents typically come to the topic."""
        if not self.topics:
            return Verdict(None, 0.0, 0.0)
        best = np.full(len(self.topics), -1.0)
        np.maximum.at(best, self._owner, self.examples(retriever) @ query)
        t = int(np.argmax(best))
        typical = float(self.typical(retriever)[t])
        return Verdict(self.topics[t], float(best[t]), evidence(answer.results, query, retriever), typical)

    def out_of_scope(self, verdict: Verdict, answered: bool) -> bool:
        """Is the question on its nearest topic rather than the documents'? A declined question needs only be close
        to the topic, to be given its pointer."""
        if verdict.topic is None or verdict.closeness < self.closeness:
            return False
        line = max(verdict.closeness - self.margin, verdict.typical + self.slack)
        return not answered or verdict.evidence <= line

    def apply(self, answer: Answer, query: np.ndarray, retriever: Retriever) -> Answer:
        """`answer` as it stands, or declined with the pointer of the topic its question (embedded as `query`) is on.
        An answer a moderator's lesson chose or declined is left as it is."""
        if not self.topics or isinstance(answer, TaughtDecline) or _first_taught(answer):
            return answer
        verdict = self.judge(answer, query, retriever)
        if verdict.topic is None or not self.out_of_scope(verdict, answer.answered):
            return answer
        if answer.answered:
            log.info(
                "declined as %r (closeness %.2f, evidence %.2f, typical %.2f)",
                verdict.topic.name,
                verdict.closeness,
                verdict.evidence,
                verdict.typical,
            )
        return dataclasses.replace(
            answer,
            answered=False,
            results=[],
            suggestions=answer.suggestions or retriever.suggest(query),
            topic=verdict.topic.name,
            pointer=verdict.topic.pointer,
        )

    def apply_text(self, answer: Answer, retriever: Retriever) -> Answer:
        """`apply` for callers without the question's embedding at hand (the command line): it is embedded here."""
        if not self.topics:
            return answer
        return self.apply(answer, self._embed([retriever.rewrite(answer.question)[0]])[0], retriever)


def scope_line(topic: str) -> str:
    """The decline's first line for a question on `topic` (the topic's name as written: callers escape it)."""
    return f"That looks like a question about {topic}, which the documents I quote don't cover, so I won't guess."


def evidence(results: Sequence[Result], query: np.ndarray, retriever: Retriever) -> float:
    """How close the documents come to the question: its similarity to the closest sentence window of the
    paragraphs the results quote; 0 without results."""
    index = retriever.index
    best = 0.0
    for result in results:
        if result.paragraph < 0:
            continue
        start, end = np.searchsorted(index.window_para, [result.paragraph, result.paragraph + 1])
        if end > start:
            similarity = np.asarray(index.window_vectors[int(start) : int(end)], dtype=np.float32) @ query
            best = max(best, float(similarity.max()))
    return best


def _first_taught(answer: Answer) -> bool:
    """Is the answer's first passage the one a moderator's lesson chose?"""
    return bool(answer.results) and isinstance(answer.results[0], TaughtResult)
