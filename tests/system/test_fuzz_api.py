"""Fuzzing the API with schemathesis, from the app's own OpenAPI schema.

Every operation gets a bounded number of generated requests, valid and invalid ones, against
the real `qa` pipeline (fake embedder) over an index built before the first request. Each
response must be no 5xx and conform to the schema: a declared status code, content type and
body shape. (The schema is loaded at import, as schemathesis's pytest integration wants; its
lazy `from_fixture` loader does not work with this pytest.)
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from qa.config import Settings
from qa.pipeline import Assistant
from qa.web.app import create_app
from tests.support.fakes import SEED_DOC, SEEDS, FakeEmbedder

MAX_EXAMPLES = 30  # per operation; the whole file runs in well under a minute
# No 5xx, and every response as the schema declares it: status code, content type, headers,
# body. (Not schemathesis's guesses about which inputs "should" be accepted: the server
# strips a question before checking its length, which a JSON schema cannot say.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    unsupported_method,
]

ROOT = Path(tempfile.mkdtemp(prefix="qa-fuzz-"))
ASSISTANT = Assistant(
    Settings(docs_dir=ROOT / "docs", index_dir=ROOT / "index", threshold=0.05),
    embedder=FakeEmbedder(),
    reload_interval=0.0,
)
APP = create_app(ASSISTANT, build_on_start=False, admin_token="fuzz-token")
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def built_index() -> Iterator[None]:
    """The seed article and a document holding `<script>`, indexed before any request."""
    docs = ROOT / "docs"
    (docs / "notes").mkdir(parents=True, exist_ok=True)
    (docs / SEED_DOC).write_bytes((SEEDS / SEED_DOC).read_bytes())
    (docs / "notes" / "evil.txt").write_text("Escaping: <script>alert(1)</script> as text.")
    ASSISTANT.refresh()
    yield
    shutil.rmtree(ROOT, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_within_its_schema(case) -> None:  # type: ignore[no-untyped-def]
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code < 500
    headers = {name.lower(): values for name, values in response.headers.items()}
    assert headers["x-content-type-options"] == ["nosniff"]
    assert "script-src 'self';" in headers["content-security-policy"][0]


def test_the_schema_declares_every_route() -> None:
    paths = set(schema.raw_schema["paths"])
    assert paths >= {"/ask", "/documents/{doc_id}", "/documents/{doc_id}/view",
                     "/index/rebuild", "/health", "/"}  # fmt: skip
