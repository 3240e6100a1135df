"""GB 3095: an hourly mean needs ≥ 45 minutes of data."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.hourly_validity import mask_short_hours, min_values_per_hour


def test_values_needed_per_reporting_interval() -> None:
    assert min_values_per_hour(np.array([3600, 60, 300, 900])).tolist() == [1, 45, 9, 3]
    assert min_values_per_hour(60, min_minutes=30).tolist() == 30
    with pytest.raises(ValueError, match="intervals"):
        min_values_per_hour(np.array([0]))


def test_short_hours_become_missing_without_touching_inputs() -> None:
    means = np.array([[10.0, 20.0, 30.0], [1.0, 2.0, 3.0]])
    counts = np.array([[45.0, 44.0, np.nan], [1.0, 1.0, 1.0]])
    before = means.copy()
    masked = mask_short_hours(means, counts, np.array([45, 1]))
    np.testing.assert_array_equal(masked, [[10.0, np.nan, np.nan], [1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(means, before)
    with pytest.raises(ValueError, match="one number per source"):
        mask_short_hours(means, counts, np.array([1]))
