"""What is known about questions before any index is read: the unrelated questions that set the decline line, an
interview's speakers named in a question and the question as it is embedded, and the questions that ask how to do
something. A leaf module: build-time derivation (bot/index/derive.py) and query-time scoring (bot/retrieval.py) both
read it, and it reads neither.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# Questions no community's contributor documents answer, to measure how close a corpus comes to unrelated questions.
# Written for this purpose; none of them is in the evaluation sets.
UNRELATED_QUESTIONS = (
    "what's the best way to keep basil alive on a windowsill?",
    "how long should I boil pasta for it to be al dente",
    "can you recommend a good thriller novel for a long flight?",
    "who scored the most goals in the 1998 world cup",
    "is it going to snow in Toronto tomorrow?",
    "how do I get red wine out of a white carpet",
    "what's the capital of australia",
    "how many calories are in a banana",
    "best exercises for lower back pain?",
    "how do I change a flat tyre on a bike",
    "what year did the berlin wall fall",
    "how do I ask my landlord to fix the heating",
    "which is healthier, oat milk or almond milk",
    "how do you solve a quadratic equation",
    "what's a cheap way to travel around japan",
    "how do I train my puppy to stop biting",
    "what should I wear to a summer wedding",
    "how do I make cold brew coffee at home",
    "who painted the mona lisa",
    "how do I improve my chess openings",
    "tips for sleeping better when it's hot?",
    "how much should I tip in a restaurant in the US",
    "what's the difference between a violin and a viola",
    "how do I plant tulip bulbs",
    "how do I convert celsius to fahrenheit",
    "what are the rules of cricket in simple terms",
    "my cat won't eat her food, what should I do",
    "how can I save money on groceries",
    "which marathon has the fastest course",
    "how do I knit a scarf for beginners",
    "what's a good name for a goldfish",
    "how do I cancel my gym membership",
    "how do I reset the clock on my microwave",
    "what's the plot of hamlet",
    "how often should I water a cactus",
    "how do I book a table at a busy restaurant",
    "what's the tallest mountain in africa",
    "how do I get rid of hiccups",
    "how do I fold a fitted sheet",
    "what time is sunset in lisbon in june",
)


def speaker_patterns(documents: Sequence[Mapping[str, Any]]) -> list[tuple[re.Pattern[str], set[int]]]:
    """For each interview speaker: a pattern matching their full, first or last name (optionally possessive)."""
    by_name: dict[str, set[int]] = {}
    for d, doc in enumerate(documents):
        if doc.get("is_interview") and doc.get("speaker"):
            parts = doc["speaker"].split()
            for alias in {doc["speaker"], parts[0], parts[-1]}:
                if len(alias) >= 3:
                    by_name.setdefault(alias, set()).add(d)
    return [
        (re.compile(rf"\b({re.escape(alias)})(['’]?s)?\b", re.IGNORECASE), by_name[alias])
        for alias in sorted(by_name, key=len, reverse=True)
    ]


_K8S = re.compile(r"\bk8s\b", re.IGNORECASE)


def rewrite_question(question: str, speakers: list[tuple[re.Pattern[str], set[int]]]) -> tuple[str, set[int]]:
    """A question as it is embedded: an interview's speaker put in the second person, as the interviewer asked
    ("how did Jaice start?" becomes "how did you start?"), "k8s" spelled out; and the documents whose speaker it
    names. A question asking who the speaker is keeps their name: the introduction that answers it names them."""
    named: set[int] = set()
    text = question
    keep = bool(ASKS_WHO.match(question))
    for pattern, docs in speakers:
        if keep:
            count = len(pattern.findall(text))
        else:
            text, count = pattern.subn(lambda m: "your" if m.group(2) else "you", text)
        if count:
            named |= docs
    return _K8S.sub("Kubernetes", text), named


# A question asking who someone is ("who is Jaice?", "tell me about Jaice"): answered by a document's introduction
ASKS_WHO = re.compile(
    r"^\W*(who\s+(is|was|are)\b|who['’]s\b|tell me (more )?about\b|what (is|was) \w+(\s\w+)?['’]s (job|role|title)\b)",
    re.IGNORECASE,
)
# A question asking what a document is ("what is this interview about?"): answered by its introduction too
ASKS_ABOUT = re.compile(
    r"\bwhat(['’]s| is| was)? (this|the|that) (interview|doc|document|page|guide|article|post|blog post) about\b|"
    r"\bwhat (is|['’]s) (this|that) (interview|article|blog post)\b",
    re.IGNORECASE,
)


# A question asking what to do ("how do I…", "can I…", "where should I…"): answered by advice, not by a story
ASKS_HOW = re.compile(
    r"^\W*(how (do|can|should|would) (i|we|one|someone|people|newcomers)|how to|what (should|can|do) (i|we)|"
    r"where (do|should|can) (i|we)|can (i|we)|should (i|we)|do (i|we) need|is it ok|any (tips|advice))\b",
    re.IGNORECASE,
)
