"""Form results kept for the page a post redirects to (qa/web/flash.py)."""

from __future__ import annotations

from qa.web.flash import Flashes


def test_a_result_is_kept_under_a_random_key_for_a_while() -> None:
    now = [0.0]
    flashes = Flashes(seconds=600, clock=lambda: now[0])
    key = flashes.put({"removed": {"doc_id": "a.txt"}})
    other = flashes.put({"error": "x"})
    assert key != other and len(key) >= 20
    assert flashes.get(key) == {"removed": {"doc_id": "a.txt"}}
    assert flashes.get(key) == {"removed": {"doc_id": "a.txt"}}  # a reload shows it again
    assert flashes.get("guessed") is None and flashes.get(None) is None
    now[0] = 601
    assert flashes.get(key) is None


def test_the_oldest_results_go_first_past_the_limit() -> None:
    flashes = Flashes(limit=2)
    first, second, third = (flashes.put({"n": n}) for n in range(3))
    assert flashes.get(first) is None
    assert flashes.get(second) == {"n": 1} and flashes.get(third) == {"n": 2}
