from collections import deque

import pytest

from bot.quotes import NoQuoteError, QuoteDrawer
from bot.retrieval import Retriever


def test_random_quotes_are_self_contained_speaker_words(retriever: Retriever):
    drawer = QuoteDrawer(retriever.index, retriever.embedder, memory=5, seed=7)
    seen = []
    for _ in range(30):
        quote = drawer.draw()
        assert 60 <= len(quote.text) <= 300
        assert "?" not in quote.text
        assert quote.speaker == "Jaice Singer DuMars"
        assert not quote.text.startswith(("So,", "And", "But", "Glad", "Stay tuned"))
        assert quote.window not in seen[-5:]
        seen.append(quote.window)


def test_topic_quotes_are_about_the_topic(retriever: Retriever):
    drawer = QuoteDrawer(retriever.index, retriever.embedder, seed=1)
    assert "uriosity" in drawer.draw("curiosity").text
    with pytest.raises(NoQuoteError, match="no quote about “sourdough baking”"):
        drawer.draw("sourdough baking")


def test_callers_can_keep_their_own_history(retriever: Retriever):
    drawer = QuoteDrawer(retriever.index, retriever.embedder, seed=3)
    channel: deque[int] = deque(maxlen=3)
    first = drawer.draw("being kind to others", recent=channel)
    second = drawer.draw("being kind to others", recent=channel)
    assert first.window != second.window and list(channel) == [first.window, second.window]
