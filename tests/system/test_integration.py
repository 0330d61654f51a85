"""The product end to end with the real packaged model: right sentence, exact offsets, abstain."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.fakes import ROOT, SEED_DOC

pytestmark = pytest.mark.model

SEED_QUESTIONS = {
    "When did Luxon take office?": "took office in November 2023",
    "Which islands are controlled by Japan but claimed by China?": "Senkaku Islands",
    "What does China consider Taiwan?": "renegade province",
    "How many nations does the Pacific Islands Leaders Meeting bring together?": "19 nations",
}
OUT_OF_CORPUS = [
    "What is the boiling point of mercury?",
    "Who won the 2018 FIFA World Cup?",
    "How do I bake sourdough bread?",
]


@pytest.fixture
def assistant(docs, real_embedder, make_assistant):
    assistant = make_assistant(docs, real_embedder)
    assistant.refresh()
    return assistant


@pytest.mark.parametrize("question, expected", SEED_QUESTIONS.items())
def test_seed_questions_are_answered_from_the_right_sentence(assistant, question, expected):
    result = assistant.ask(question)
    # Sure of it (answer) or not quite (candidates): either way the first quote is the one.
    assert result.outcome in {"answer", "candidates"} and result.citations, result
    first = result.citations[0]
    assert first.doc_id == SEED_DOC
    assert expected in first.quote
    text = assistant.document(SEED_DOC).text
    for citation in result.citations:
        assert text[citation.start : citation.end] == citation.quote
        if result.outcome == "answer":
            assert f"{citation.quote} [{citation.n}]" in result.answer
        else:
            assert f"[{citation.n}]" in result.answer
    assert 0.0 <= result.confidence <= 1.0


@pytest.mark.parametrize("question", OUT_OF_CORPUS)
def test_unrelated_questions_abstain(assistant, question):
    result = assistant.ask(question)
    assert not result.answered and result.outcome == "none"
    assert result.citations == []
    assert "do not answer" in result.answer


def test_index_follows_added_changed_and_deleted_documents(docs, real_embedder, make_assistant):
    (docs / "coffee.md").write_text(
        "# Coffee\n\nThe espresso machine was patented by Angelo Moriondo in Turin in 1884.\n"
    )
    (docs / "tower.html").write_text(
        "<title>Tower</title><p>The Eiffel Tower is 330 metres tall.</p>"
    )
    assistant = make_assistant(docs, real_embedder)
    first = assistant.refresh()
    assert (first.added, first.embedded) == (3, first.chunks)
    assert "Moriondo" in assistant.ask("Who patented the espresso machine?").citations[0].quote

    (docs / "coffee.md").write_text(
        "# Coffee\n\nThe first espresso machine was patented by Luigi Bezzera in Milan in 1901.\n"
    )
    (docs / "tower.html").unlink()
    second = assistant.refresh()
    coffee_chunks = assistant.document("coffee.md").chunks
    assert (second.added, second.updated, second.removed, second.unchanged) == (0, 1, 1, 1)
    assert second.embedded == coffee_chunks
    assert "Bezzera" in assistant.ask("Who patented the espresso machine?").citations[0].quote
    tower = assistant.ask("How tall is the Eiffel Tower?")
    assert all(c.doc_id != "tower.html" for c in tower.citations)
    assert all(p.doc_id != "tower.html" for p in tower.passages)


BRIDGE_DOC = """# Golden Gate Bridge

## Overview

The Golden Gate Bridge is a suspension bridge spanning the Golden Gate strait in California.
It opened to traffic on May 27, 1937, after four years of construction.

## Facts

- Golden Gate Bridge, San Francisco
- Main span: 1,280 metres
- Colour: International Orange

## References

1. ^ Starr, Kevin (2010). Golden Gate: The Life and Times of America's Greatest Bridge.
   Bloomsbury. ISBN 978-1-59691-534-3.
2. Retrieved 12 March 2019 from https://www.goldengate.org/bridge/history.
"""
NOT_PROSE = ("#", "-", "1.", "2.", "^", "Bloomsbury")  # how its non-prose lines start


def _one_document(tmp_path, make_assistant, embedder, name: str, content: str):  # type: ignore[no-untyped-def]
    """An assistant over a folder holding only `name` (with `content`), indexed, and that
    document's text."""
    docs = tmp_path / "one-doc"
    docs.mkdir()
    (docs / name).write_text(content)
    assistant = make_assistant(docs, embedder)
    assistant.refresh()
    return assistant, assistant.document(name).text


def test_markdown_structure_is_never_quoted_and_it_is_quoted_with_its_subject(
    tmp_path, real_embedder, make_assistant
):
    assistant, text = _one_document(tmp_path, make_assistant, real_embedder, "bridge.md",
                                    BRIDGE_DOC)  # fmt: skip
    opened = assistant.ask("When did the Golden Gate Bridge open?")
    assert opened.outcome in {"answer", "candidates"} and opened.citations, opened
    first = opened.citations[0]
    # "It opened ..." is quoted from the sentence naming the bridge, as one verbatim slice.
    assert first.quote.startswith("The Golden Gate Bridge is") and "1937" in first.quote
    questions = [
        "When did the Golden Gate Bridge open?",
        "What is the main span of the bridge?",
        "Who wrote about the Golden Gate Bridge in 2010?",
        "Golden Gate Bridge",
    ]
    for question in questions:
        for citation in assistant.ask(question).citations:
            assert text[citation.start : citation.end] == citation.quote
            assert not citation.quote.startswith(NOT_PROSE), question


CLUSTERS_PAGE = """<html><head><title>Storage clusters</title></head><body>
<h1>Storage clusters</h1>
<p>We run two storage clusters. Cluster A serves research and development; cluster B holds
production data. Both grew steadily over the last year.</p>
<table>
<tr><th>Cluster</th><th>Machines</th><th>Disk space</th></tr>
<tr><td>A</td><td>342</td><td>72 TB</td></tr>
<tr><td>B</td><td>227</td><td>180 TB</td></tr>
</table>
<p>Cluster B stores larger files than cluster A.</p>
</body></html>
"""


def test_a_table_row_that_gives_the_figure_is_quoted(tmp_path, real_embedder, make_assistant):
    assistant, text = _one_document(tmp_path, make_assistant, real_embedder, "clusters.html",
                                    CLUSTERS_PAGE)  # fmt: skip
    found = assistant.ask("How much disk space does cluster B have?")
    assert found.citations, found
    first = found.citations[0]
    assert first.quote == "B; 227; 180 TB"
    assert text[first.start : first.end] == first.quote
    assert first.header == "Cluster; Machines; Disk space"
    assert text[first.header_start : first.header_end] == first.header
    for question, row in [("How many machines does cluster A have?", "A; 342; 72 TB"),
                          ("Which cluster has 227 machines?", "B; 227; 180 TB")]:  # fmt: skip
        assert assistant.ask(question).citations[0].quote == row, question


def test_the_installed_qa_command_indexes_and_answers(docs, tmp_path):
    qa = Path(sys.executable).parent / "qa"
    env = {**os.environ, "QA_DOCS_DIR": str(docs), "QA_INDEX_DIR": str(tmp_path / "index")}
    built = subprocess.run([qa, "index", "--json"], env=env, cwd=ROOT, capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["added"] == 1
    questions = "When did Luxon take office?\nWhat is the boiling point of mercury?\n"
    asked = subprocess.run([qa, "ask", "-", "--json"], env=env, cwd=ROOT, capture_output=True,
                           text=True, timeout=300, input=questions)  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    first, second = (json.loads(line) for line in asked.stdout.splitlines())
    assert first["outcome"] in {"answer", "candidates"}
    assert "November 2023" in first["citations"][0]["quote"]
    assert not second["answered"] and second["outcome"] == "none"


def test_a_real_server_builds_in_a_child_and_never_loads_torch(docs, tmp_path):
    """`qa serve` with the real model: its builds (the first one, and a rebuild after a new
    file) run in a child process; the server never maps torch and stays under 600 MB."""
    from tests.support.live_server import free_port

    port = free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed in finally
    command = [sys.executable, "-m", "qa.cli", "serve", "--docs", str(docs), "--index",
               str(tmp_path / "index"), "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(url + "/health", timeout=5).json()["status"] == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.5)
        (docs / "kettle.txt").write_text("The kettle was bought in 1999 in Leeds.")
        report = httpx.post(url + "/index/rebuild", timeout=300).json()
        assert report["added"] == 1
        answer = httpx.post(url + "/ask", json={"question": "Where was the kettle bought?"},
                            timeout=60).json()  # fmt: skip
        assert "Leeds" in answer["citations"][0]["quote"]
        maps = Path(f"/proc/{server.pid}/maps").read_text()
        assert "libtorch" not in maps, "the server process loaded torch"
        status = Path(f"/proc/{server.pid}/status").read_text()
        assert int(status.split("VmRSS:")[1].split()[0]) / 1024 < 600
    finally:
        server.terminate()
        server.wait(30)
        log.close()
