"""De-duplication: no false negatives over the retained horizon, bounded memory, pickling."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radar.dedup import Deduplicator

REPO_ROOT = Path(__file__).resolve().parents[1]


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.integers(min_value=2, max_value=16),
    calls=st.lists(st.integers(min_value=0, max_value=40).map(lambda n: f"id-{n}"), max_size=300),
)
def test_recent_ids_are_always_seen_and_memory_is_bounded(capacity: int, calls: list[str]) -> None:
    dedup = Deduplicator(capacity)
    last_call: dict[str, int] = {}
    for i, mention_id in enumerate(calls):
        seen = dedup.seen(mention_id)
        if mention_id not in last_call:
            assert seen is False, "an id never seen is reported as a duplicate"
        elif i - last_call[mention_id] <= capacity // 2:
            assert seen is True, f"{mention_id} forgotten {i - last_call[mention_id]} calls later"
        last_call[mention_id] = i
        assert len(dedup) <= capacity


def test_the_last_half_capacity_distinct_ids_are_remembered() -> None:
    dedup = Deduplicator(capacity=1000)
    assert not any(dedup.seen(f"tw-{n}") for n in range(10_000))
    assert len(dedup) <= 1000
    assert all(dedup.seen(f"tw-{n}") for n in range(9_500, 10_000))
    assert dedup.seen("tw-0") is False  # long gone


def test_id_key_is_the_exact_string() -> None:
    dedup = Deduplicator()
    assert [dedup.seen(i) for i in ("123", "0123", "123 ", "ÄÖ", "ÄÖ", "123")] == [
        False,
        False,
        False,
        False,
        True,
        True,
    ]


def test_pickling_keeps_what_was_seen() -> None:
    original = Deduplicator(capacity=100)
    for n in range(130):
        original.seen(f"tw-{n}")
    restored = pickle.loads(pickle.dumps(original, protocol=5))
    assert len(restored) == len(original) and restored.capacity == 100
    follow_up = [f"tw-{n}" for n in (*range(60, 200), *range(0, 130))]
    assert [restored.seen(i) for i in follow_up] == [original.seen(i) for i in follow_up]


def test_a_pickled_deduplicator_works_in_another_process(tmp_path: Path) -> None:
    dedup = Deduplicator(capacity=100)
    for n in range(10):
        dedup.seen(f"tw-{n}")
    state = tmp_path / "dedup.pickle"
    state.write_bytes(pickle.dumps(dedup, protocol=5))
    code = (
        "import pickle, sys; d = pickle.loads(open(sys.argv[1], 'rb').read()); "
        "print(sum(d.seen(f'tw-{n}') for n in range(20)))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code, str(state)], env=env, capture_output=True, check=True)
    assert out.stdout.strip() == b"10"  # string hashing differs there; the digests do not


@pytest.mark.parametrize("capacity", [0, 1, -5, 2.5, True, "10"])
def test_capacity_is_validated(capacity: object) -> None:
    with pytest.raises(ValueError, match="capacity"):
        Deduplicator(capacity)  # type: ignore[arg-type]
