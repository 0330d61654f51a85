"""The `qa` command line: contract output, stdin mode, and one-line errors (fake embedder)."""

import json

import pytest
from click.testing import CliRunner

import qa
import qa.pipeline
from qa.cli import main
from tests.support.fakes import SEED_DOC, FakeEmbedder

CONTRACT_INDEX_KEYS = {"documents", "added", "updated", "removed", "unchanged", "chunks",
                       "embedded", "skipped", "seconds"}  # fmt: skip
CONTRACT_ANSWER_KEYS = {"question", "answered", "answer", "confidence", "citations", "passages",
                        "took_ms"}  # fmt: skip


@pytest.fixture(autouse=True)
def fake_model(monkeypatch):
    monkeypatch.setattr(
        qa.pipeline, "SentenceTransformerEmbedder", lambda name, **options: FakeEmbedder()
    )


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_version_prints_the_package_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.output == f"qa {qa.__version__}\n"


def test_index_json_is_the_contract_object(docs, tmp_path):
    result = run("index", "--docs", str(docs), "--index", str(tmp_path / "i"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) >= CONTRACT_INDEX_KEYS
    assert (report["documents"], report["added"], report["embedded"] > 0) == (1, 1, True)
    again = json.loads(run("index", "--docs", str(docs), "--index", str(tmp_path / "i"),
                           "--json").output)  # fmt: skip
    assert (again["unchanged"], again["embedded"]) == (1, 0)


def test_index_text_output_lists_skipped_files(docs, tmp_path):
    (docs / "bad.txt").write_bytes(b"\x00\x00binary")
    result = run("index", "--docs", str(docs), "--index", str(tmp_path / "i"))
    assert result.exit_code == 0
    assert "1 documents" in result.output
    assert "skipped bad.txt: binary" in result.output


def test_ask_json_and_stdin_mode(docs, tmp_path):
    args = ["--docs", str(docs), "--index", str(tmp_path / "i"), "--json"]
    result = run("ask", "When did Luxon take office?", *args)
    answer = json.loads(result.output)
    assert set(answer) >= CONTRACT_ANSWER_KEYS
    text = (docs / SEED_DOC).read_text()
    for citation in answer["citations"]:
        assert text[citation["start"] : citation["end"]] == citation["quote"]
    lines = run("ask", "-", *args, input="Who is Luxon?\n\n   \nWhat about Taiwan?\n").output
    objects = [json.loads(line) for line in lines.splitlines()]
    assert [o["question"] for o in objects] == ["Who is Luxon?", "What about Taiwan?"]


def test_ask_text_output_numbers_its_sources(docs, tmp_path):
    result = run("ask", "Luxon took office in November 2023", "--docs", str(docs), "--index",
                 str(tmp_path / "i"))  # fmt: skip
    assert result.exit_code == 0
    assert "[1]" in result.output and "Sources:" in result.output
    assert SEED_DOC in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["index", "--docs", "/no/such/folder"], "does not exist"),
        (["ask", "   ", "--docs", "{docs}"], "question is empty"),
        (["ask", "x" * 1001, "--docs", "{docs}"], "limit is 1000"),
    ],
)
def test_errors_are_one_clear_line_and_a_nonzero_exit(docs, tmp_path, args, message):
    args = [a.replace("{docs}", str(docs)) for a in args] + ["--index", str(tmp_path / "i")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output.strip().startswith("error:") and message in result.output
    assert "Traceback" not in result.output


def test_empty_docs_folder_and_unreadable_index_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["index", "--docs", str(tmp_path / "empty"), "--index",
                                       str(tmp_path / "i")])  # fmt: skip
    assert result.exit_code == 2 and "no documents" in result.output
    index = tmp_path / "bad-index"
    index.mkdir()
    (index / "CURRENT").write_text("gen-000001\n")
    result = CliRunner().invoke(main, ["ask", "anything?", "--docs", str(tmp_path / "empty"),
                                       "--index", str(index)])  # fmt: skip
    assert result.exit_code == 2 and result.output.startswith("error:")


def test_ask_names_the_page_of_a_pdf_quote_in_text_and_json(tmp_path, monkeypatch):
    from tests.support.helpers import write_paged_pdf

    docs = tmp_path / "docs"
    docs.mkdir()
    write_paged_pdf(docs / "plant.pdf", [
        ["Annual report of the hydro plant."],
        ["The reservoir held 80 million cubic metres in June."],
    ])  # fmt: skip
    question = "How much water did the reservoir hold in June?"
    args = ["--docs", str(docs), "--index", str(tmp_path / "i")]
    monkeypatch.setenv("QA_THRESHOLD", "0")
    answer = json.loads(run("ask", question, *args, "--json").output)
    text = run("ask", question, *args).output
    first = answer["citations"][0]
    assert (first["doc_id"], first["page"], first["section"]) == ("plant.pdf", 2, None)
    assert "(plant.pdf, p. 2, characters" in text


def test_ask_names_a_decks_slide(tmp_path, monkeypatch):
    from tests.support.helpers import write_pptx

    docs = tmp_path / "docs"
    docs.mkdir()
    write_pptx(docs / "review.pptx")
    monkeypatch.setenv("QA_THRESHOLD", "0")
    question = "When does vendor support for the tape library end?"
    text = run("ask", question, "--docs", str(docs), "--index", str(tmp_path / "i")).output
    assert "(review.pptx, slide 2, section 'Risks', characters" in text


def _context_line(output: str) -> str:
    """The context line printed under the first source."""
    lines = output.splitlines()
    return lines[lines.index("Sources:") + 2].strip()


def test_ask_context_prints_each_quote_in_its_context(docs, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_THRESHOLD", "0")  # one cut at 0: always the answer
    args = ["--docs", str(docs), "--index", str(tmp_path / "i")]
    data = json.loads(run("ask", "When did Luxon take office?", *args, "--json").output)
    assert data["outcome"] == "answer"
    first = data["citations"][0]
    text = (docs / SEED_DOC).read_text()
    assert text[first["context_start"] : first["context_end"]] == first["context"]
    result = run("ask", "When did Luxon take office?", *args, "--context")
    line = _context_line(result.output)
    lo, hi = first["start"] - first["context_start"], first["end"] - first["context_start"]
    context = first["context"]
    assert line == " ".join(f"{context[:lo]}«{context[lo:hi]}»{context[hi:]}".split())
    assert "«" not in run("ask", "When did Luxon take office?", *args).output


def test_ask_context_prints_a_table_rows_header_above_it(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_THRESHOLD", "0")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "clusters.md").write_text(
        "We run two storage clusters.\n\n| Cluster | Machines | Disk space |\n|---|---|---|\n"
        "| A | 342 | 72 TB |\n| B | 227 | 180 TB |\n"
    )
    args = ["--docs", str(docs), "--index", str(tmp_path / "i")]
    question = "Which cluster has 227 machines and 180 TB of disk space?"
    output = run("ask", question, *args, "--context").output
    lines = output.splitlines()
    source = lines.index("Sources:") + 1
    assert lines[source + 1].strip() == "table header: | Cluster | Machines | Disk space |"
    assert lines[source + 2].strip() == "«| B | 227 | 180 TB |»"


def test_ask_text_output_of_candidates_and_of_none(docs, tmp_path, monkeypatch):
    args = ["--docs", str(docs), "--index", str(tmp_path / "i"), "--context"]
    monkeypatch.setenv("QA_THRESHOLD", "0")
    monkeypatch.setenv("QA_ANSWER_THRESHOLD", "1")  # never sure: candidates
    output = run("ask", "When did Luxon take office?", *args).output
    assert "may answer" in output and "These passages may answer it:" in output
    assert "(confidence 0." in output and "«" in _context_line(output)
    monkeypatch.setenv("QA_THRESHOLD", "1")  # never enough: none
    monkeypatch.delenv("QA_ANSWER_THRESHOLD")
    output = run("ask", "When did Luxon take office?", *args).output
    assert "do not answer" in output and "Sources:" not in output
