from bot.text import has_words, normalize_for_match, search_tokens, sentence_spans


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_splits_on_terminal_punctuation_and_keeps_text_verbatim():
    text = "It was amazing.  I felt so welcomed! Did it last? “No,” she said."
    assert sentences(text) == ["It was amazing.", "I felt so welcomed!", "Did it last?", "“No,” she said."]


def test_does_not_split_after_abbreviations_initials_or_before_numbers():
    text = "An interview with J. Doe, Sr. Director at VMware, e.g. on releases. It ran until 1.10? 1.11? Then stopped."
    assert sentences(text) == [
        "An interview with J. Doe, Sr. Director at VMware, e.g. on releases.",
        "It ran until 1.10? 1.11?",
        "Then stopped.",
    ]


def test_closing_quote_stays_with_its_sentence():
    text = "It is known as the “supercloud.” Open source is now essential."
    assert sentences(text) == ["It is known as the “supercloud.”", "Open source is now essential."]


def test_search_tokens_drop_stopwords_stem_and_expand_k8s():
    assert search_tokens("How do I start contributing to K8s?") == ["start", "contribut", "kubernet"]
    assert search_tokens("Kubernetes contributors") == ["kubernet", "contributor"]


def test_has_words_and_normalize():
    assert not has_words("🎉🎉 ?!")
    assert has_words("k8s?")
    assert normalize_for_match("Don’t   “panic”") == normalize_for_match('don\'t "panic"')
