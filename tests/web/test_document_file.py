"""Citations by page on the web side: `page`/`section` in `/ask`'s JSON and on the page, the
view page's link to the original file, and `GET /documents/{doc_id}/file` (PDFs inline in a
sandbox, every other type a download; the same doc_id checks as the rest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.web.app import create_app
from tests.support.fakes import FakeEmbedder
from tests.support.helpers import write_docx, write_paged_pdf, write_pptx
from tests.support.web import serve

HTML = (
    "<html><head><title>Care</title></head><body><h1>Plant care</h1><p>Intro words.</p>"
    "<h2>Watering</h2><p>Water the ficus every Tuesday morning.</p>"
    "<script>document.title = 'owned'</script></body></html>"
)


@pytest.fixture
def paged(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    write_paged_pdf(docs / "sub" / "plant.pdf", [
        ["Annual report of the hydro plant."],
        ["The turbines were serviced in March by the crew."],
        ["The reservoir held 80 million cubic metres in June."],
    ])  # fmt: skip
    (docs / "care.html").write_text(HTML)
    write_docx(docs / "memo.docx", "Budget", ["The travel budget was cut by a third in May."])
    write_pptx(docs / "review.pptx")
    (tmp_path / "secret.pdf").write_bytes((docs / "sub" / "plant.pdf").read_bytes())
    return docs


@pytest.fixture
def web(paged: Path, make_assistant) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    assistant = make_assistant(paged, FakeEmbedder(), threshold=0.0)
    with serve(create_app(assistant)) as client:
        yield client


def _first(client: TestClient, question: str) -> dict:
    answer = client.post("/ask", json={"question": question}).json()
    return answer["citations"][0]


@pytest.mark.parametrize(
    ("question", "doc_id", "page", "section"),
    [
        ("How much water did the reservoir hold in June?", "sub/plant.pdf", 3, None),
        ("When were the turbines serviced?", "sub/plant.pdf", 2, None),
        ("How often is the ficus watered?", "care.html", None, "Watering"),
        ("By how much was the travel budget cut?", "memo.docx", None, "Budget"),
        ("When does vendor support for the tape library end?", "review.pptx", 2, "Risks"),
    ],
)
def test_citations_carry_page_or_section_and_stay_verbatim(
    web: TestClient, question: str, doc_id: str, page: int | None, section: str | None
) -> None:
    first = _first(web, question)
    assert (first["doc_id"], first["page"], first["section"]) == (doc_id, page, section)
    text = web.get(f"/documents/{doc_id}").json()["text"]
    assert text[first["start"] : first["end"]] == first["quote"]


def test_the_page_shows_the_page_and_the_view_links_to_the_file_at_it(web: TestClient) -> None:
    first = _first(web, "How much water did the reservoir hold in June?")
    html = web.get("/", params={"q": "How much water did the reservoir hold in June?"}).text
    assert '<span class="page">p. 3</span>' in html
    view = web.get(
        "/documents/sub/plant.pdf/view", params={"start": first["start"], "end": first["end"]}
    ).text
    assert 'href="/documents/sub/plant.pdf/file#page=3"' in view
    assert "<mark" in view and "80 million cubic metres" in view


def test_a_decks_page_is_its_slide_and_its_original_downloads_without_a_page(
    web: TestClient,
) -> None:
    question = "When does vendor support for the tape library end?"
    first = _first(web, question)
    assert '<span class="page">slide 2</span>' in web.get("/", params={"q": question}).text
    view = web.get(
        "/documents/review.pptx/view", params={"start": first["start"], "end": first["end"]}
    ).text
    assert '<span class="page">slide 2</span>' in view
    assert 'href="/documents/review.pptx/file"' in view and "Open the original file" in view


def test_a_pdf_is_served_inline_in_a_sandbox(web: TestClient, paged: Path) -> None:
    response = web.get("/documents/sub/plant.pdf/file")
    assert response.status_code == 200
    assert response.content == (paged / "sub" / "plant.pdf").read_bytes()
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline")
    assert response.headers.get_list("content-security-policy") == ["sandbox"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("doc_id", ["care.html", "memo.docx"])
def test_every_other_type_is_only_a_download(web: TestClient, doc_id: str) -> None:
    response = web.get(f"/documents/{doc_id}/file")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers.get_list("content-security-policy") == ["sandbox"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/documents/..%2Fsecret.pdf/file", 400),
        ("/documents/sub/..%2F..%2Fsecret.pdf/file", 400),
        ("/documents/%252e%252e/secret.pdf/file", 400),
        ("/documents/nope.pdf/file", 404),
        ("/documents/sub/nope.pdf/file", 404),
    ],
)
def test_file_paths_are_checked_like_every_document_path(
    web: TestClient, path: str, status: int
) -> None:
    response = web.get(path)
    assert response.status_code == status
    assert b"%PDF" not in response.content


def test_a_file_gone_from_the_folder_or_leaving_it_is_404(web: TestClient, paged: Path) -> None:
    (paged / "care.html").unlink()
    assert web.get("/documents/care.html/file").status_code == 404
    pdf = paged / "sub" / "plant.pdf"
    pdf.unlink()
    pdf.symlink_to(paged.parent / "secret.pdf")  # indexed name, now pointing outside
    assert web.get("/documents/sub/plant.pdf/file").status_code == 404
