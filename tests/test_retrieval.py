import pytest

from bot.retrieval import QuestionError, Retriever
from tests.conftest import INTERVIEW_TXT
from tools.evaluation import BOT, EVAL_DIR, PEERS, evaluate, load_questions


def test_quotes_are_verbatim_attributed_short_and_distinct(retriever: Retriever):
    original = INTERVIEW_TXT.read_text(encoding="utf-8")
    answer = retriever.answer("How did Jaice first hear about Kubernetes?", k=5)
    assert answer.answered and len(answer.results) == 5
    quotes = [r.quote for r in answer.results]
    assert len(set(quotes)) == 5
    for r in answer.results:
        assert r.quote in original and r.quote in r.context
        assert 0 < len(r.quote) <= 600
        assert r.source == "How the Kubernetes Community Changed the Life of Jaice Singer DuMars"
    assert [r.score for r in answer.results] == sorted((r.score for r in answer.results), reverse=True)
    best = answer.results[0]
    assert best.speaker == "Jaice Singer DuMars" and best.asked == best.section and best.asked.endswith("?")


def test_names_and_terms_are_found(retriever: Retriever):
    answer = retriever.answer("who were the leads of SIG Cluster Ops?")
    assert "Mike Danese" in answer.results[0].quote


@pytest.mark.parametrize(
    "question",
    [
        "What's a good sourdough starter recipe?",
        "Who won the football world cup in 2010?",
        "how do I fix my car brakes",
    ],
)
def test_off_topic_questions_are_declined(retriever: Retriever, question: str):
    answer = retriever.answer(question)
    assert not answer.answered and answer.results == []


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "Please type a question."),
        ("   \n\t", "Please type a question."),
        ("x" * 20_000, "That question is 20,000 characters long; please keep it under 1,000."),
        ("🎉🙏 ?!", "Please ask your question in words"),
    ],
)
def test_bad_questions_get_a_short_message(retriever: Retriever, question: str, message: str):
    with pytest.raises(QuestionError, match=message.replace("?", r"\?")):
        retriever.answer(question)


def test_quality_on_the_dev_set_beats_both_baselines(retriever: Retriever):
    """A regression guard with the figures `make eval` prints (interview corpus, dev set)."""
    questions = [q for q in load_questions(EVAL_DIR / "dev.jsonl") if q.doc in (None, "interview")]
    scores = evaluate(retriever.index, retriever.embedder, questions, retriever)
    ours = scores[BOT]
    assert ours.hit1 >= 0.6 and ours.hit3 >= 0.8
    assert ours.answered >= 0.95 and ours.abstained >= 0.8  # 16 of the 19 off-topic questions
    for name in PEERS:
        assert ours.hit1 > scores[name].hit1


def test_key_sentence_marks_the_sentence_closest_to_the_question(retriever: Retriever):
    answer = retriever.answer("what did Jaice do at Rally Software?", k=5)
    multi = [r for r in answer.results if r.key_sentence]
    assert multi, "some quotes span several sentences"
    for r in multi:
        start, end = r.key_sentence
        sentence = r.quote[start:end]
        assert 0 <= start < end <= len(r.quote) and sentence != r.quote
        assert sentence.strip() == sentence and sentence[-1] in '.!?”’"…)'


def test_quotes_do_not_stop_on_a_lead_in_question(retriever: Retriever):
    questions = [q.question for q in load_questions(EVAL_DIR / "dev.jsonl") if not q.off_topic]
    endings = []
    for question in questions:
        for r in retriever.answer(question).results:
            if r.quote.endswith(("?", ":")) and not r.context.rstrip().endswith(r.quote):
                endings.append(r.quote[-60:])
    assert endings == []
