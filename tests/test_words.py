"""Durations in plain words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from statusadmin import words


class DurationTests:
    @pytest.mark.parametrize(
        ("length", "said"),
        [
            (timedelta(minutes=15), "15 minutes"),
            (60, "1 minute"),
            (3600, "1 hour"),
            (5400, "90 minutes"),
            (86400, "1 day"),
            (172800, "2 days"),
            (45, "45 seconds"),
        ],
    )
    def test_in_the_largest_unit_that_says_it_exactly(self, length, said):
        assert words.duration(length) == said

    @pytest.mark.parametrize(
        ("length", "said"), [(86400, "every day"), (3600, "every hour"), (21600, "every 6 hours")]
    )
    def test_how_often(self, length, said):
        assert words.every(length) == said
