"""SendMessages fan-out arithmetic (workers/messages.py): chunks, chunk ids, counts, the final truth."""

from __future__ import annotations

import pytest

from schemas.envelope import MessageOutcome, TaskEnvelope
from workers.messages import chunk_id, chunked, outcome_counts, with_truth


@pytest.mark.parametrize(
    ("total", "size", "sizes"),
    [(0, 3, []), (1, 3, [1]), (3, 3, [3]), (7, 3, [3, 3, 1]), (200, 100, [100, 100]), (5, 1, [1] * 5)],
)
def test_chunks_keep_order_and_never_exceed_the_size(total: int, size: int, sizes: list[int]) -> None:
    items = list(range(total))
    chunks = chunked(items, size)
    assert [len(c) for c in chunks] == sizes
    assert [i for c in chunks for i in c] == items


def test_chunk_ids_are_deterministic_and_prefer_the_event_id() -> None:
    head = TaskEnvelope(client="getsms", action="send_messages", connected_integration_id="c1")
    assert chunk_id(head, "bulk-1", 2) == "getsms:c1:bulk-1:2"
    with_event = head.model_copy(update={"event_id": "evt-1"})
    assert chunk_id(with_event, "bulk-1", 2) == chunk_id(with_event, "another-redelivery", 2) == "getsms:c1:evt-1:2"


def outcome(index: int, status: str, resolution: str | None = None) -> MessageOutcome:
    return MessageOutcome(index=index, recipient="99890*****67", status=status, resolution=resolution)


def test_outcome_counts_by_status_and_resolution() -> None:
    outcomes = [
        outcome(0, "accepted"),
        outcome(1, "accepted", "reconciled"),
        outcome(2, "accepted", "resent"),
        outcome(3, "failed"),
        outcome(4, "unknown"),
        outcome(5, "unknown"),
    ]
    assert outcome_counts(outcomes) == {"accepted": 3, "failed": 1, "unknown": 2, "reconciled": 1, "resent": 1}


def test_a_bulk_with_unknowns_is_not_complete_and_says_so() -> None:
    final = with_truth(
        {"accepted": 1, "unknown": 2, "messages": [{"resolution": "reconciled"}, {"status": "unknown"}, {}]}
    )
    assert (final["reconciled"], final["resent"], final["unresolved"], final["complete"]) == (1, 0, 2, False)
    assert final["warning"].startswith("2 messages have an unknown outcome")


def test_a_bulk_without_unknowns_is_complete() -> None:
    final = with_truth({"accepted": 2, "unknown": 0, "messages": [{"resolution": "resent"}, {}]})
    assert (final["resent"], final["unresolved"], final["complete"]) == (1, 0, True)
    assert "warning" not in final
