"""End-to-end smoke test with the fake embedder: index the seed article and answer."""

from tests.support.fakes import SEED_DOC


def test_index_and_answer_with_fake_embedder(docs, fake_embedder, make_assistant):
    assistant = make_assistant(docs, fake_embedder)
    report = assistant.refresh()
    assert (report.added, report.documents) == (1, 1)
    result = assistant.ask("When did Luxon take office?")
    assert result.passages
    text = assistant.document(SEED_DOC).text
    for citation in result.citations:
        assert text[citation.start : citation.end] == citation.quote
