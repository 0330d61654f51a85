"""Request and response models (qa/web/models.py): what `POST /ask` accepts, response models
that let added fields through, and the declared error replies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from qa.web.models import AnswerOut, AskRequest, ErrorOut, error_responses


def test_a_question_is_trimmed_and_top_k_is_optional() -> None:
    request = AskRequest.model_validate({"question": "  Who?  "})
    assert request.question == "Who?" and request.top_k is None


@pytest.mark.parametrize(
    "body",
    [{"question": ""}, {"question": "   "}, {"question": "x" * 1001}, {"question": 5},
     {"question": "Who?", "top_k": 0}, {"question": "Who?", "top_k": 21},
     {"question": "Who?", "top_k": "5"}, {}],
)  # fmt: skip
def test_bad_requests_are_refused(body: dict) -> None:
    with pytest.raises(ValidationError):
        AskRequest.model_validate(body)


def test_fields_added_to_an_answer_pass_through() -> None:
    answer = {
        "question": "q", "answered": False, "answer": "a", "confidence": 0.1,
        "citations": [], "passages": [], "took_ms": 1.0, "short_answer": None,
    }  # fmt: skip
    assert "short_answer" in AnswerOut.model_validate(answer).model_dump()


def test_error_responses_declare_json_and_html() -> None:
    declared = error_responses(404, 503)
    assert set(declared) == {404, 503}
    assert declared[404]["model"] is ErrorOut and "text/html" in declared[404]["content"]
    html_route = error_responses(400, html_route=True)[400]["content"]
    assert set(html_route) == {"application/json", "text/html"}
