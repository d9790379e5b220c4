from __future__ import annotations

import pytest

from workgraph.ids import did_you_mean, slugify, unique_id


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Build the widget", "build-the-widget"),
        ("Smoke test task 1", "smoke-test-task-1"),
        ("Build the amazing super widget", "build-the-amazing"),
        ("Build the amazing widget 42", "build-the-amazing"),
        ("Fix (bug) #123!", "fix-bug-123"),
        ("123 fix the bug", "123-fix-the-bug"),
        ("a---b   c", "a-b-c"),
        ("", "task"),
        ("   ", "task"),
    ],
)
def test_slug_examples_from_spec(title: str, expected: str) -> None:
    assert slugify(title) == expected


def test_collisions_count_up_then_fall_back_to_time() -> None:
    assert unique_id("build-it", {"build-it"}, 7) == "build-it-2"
    taken = {"x"} | {f"x-{n}" for n in range(2, 1000)}
    assert unique_id("x", taken, 1700000000) == "task-1700000000"


def test_did_you_mean_prefers_prefix_then_distance() -> None:
    assert did_you_mean("build", ["build-the-widget", "other"]) == "build-the-widget"
    assert did_you_mean("tsak", ["task", "zzz"]) == "task"
    assert did_you_mean("abc", ["xyz"]) is None
