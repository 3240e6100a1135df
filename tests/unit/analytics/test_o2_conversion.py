"""Reference-O2 conversion (domain.md §5.1, vectors §10.5) and the -ZsAvg cross-check (§10.6 V2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from analytics.o2_conversion import conversion_mismatch, to_reference_o2

NAN = math.nan


def test_domain_vectors_10_5() -> None:
    # By hand: 20·15/12 = 25; 25·5/5 = 25; 8·5/2.5 = 16; 30·6/5.5 = 32.7272…
    converted = to_reference_o2(
        np.array([20.0, 25.0, 8.0, 30.0]),
        np.array([9.0, 16.0, 18.5, 15.5]),
        np.array([6.0, 16.0, 16.0, 15.0]),
    )
    assert_allclose(converted, [25.0, 25.0, 16.0, 30.0 * 6.0 / 5.5], rtol=1e-12)
    assert round(float(converted[3]), 3) == 32.727


def test_scalar_reference_applies_everywhere() -> None:
    converted = to_reference_o2(np.array([[20.0, 10.0]]), np.array([[9.0, 11.0]]), 6.0)
    assert_allclose(converted, [[25.0, 15.0]])


def test_per_source_reference_applies_to_each_row() -> None:
    conc = np.array([[20.0, 10.0, 4.0], [20.0, 10.0, 4.0], [20.0, 10.0, 4.0]])
    o2 = np.array([[9.0, 11.0, 16.0], [9.0, 11.0, 16.0], [9.0, 11.0, 16.0]])
    reference = np.array([6.0, 16.0, NAN])  # (S,): one per row
    converted = to_reference_o2(conc, o2, reference)
    expected = [
        [20.0 * 15 / 12, 10.0 * 15 / 10, 4.0 * 15 / 5],
        [20.0 * 5 / 12, 10.0 * 5 / 10, 4.0 * 5 / 5],
        [20.0, 10.0, 4.0],  # no reference O2: unconverted
    ]
    assert_allclose(converted, expected)


def test_missing_or_impossible_o2_and_missing_concentration_give_nan() -> None:
    conc = np.array([[20.0, 20.0, 20.0, 20.0, NAN, 20.0]])
    o2 = np.array([[NAN, 21.0, 20.95, 25.0, 9.0, 20.0]])
    converted = to_reference_o2(conc, o2, np.array([6.0]))
    assert_allclose(converted, [[NAN, NAN, 20.0 * 15 / 0.05, NAN, NAN, 20.0 * 15 / 1.0]])


def test_no_reference_returns_concentration_even_without_o2() -> None:
    conc = np.array([[12.5, NAN, 7.0]])
    o2 = np.array([[NAN, 9.0, 21.0]])
    assert_array_equal(to_reference_o2(conc, o2, np.array([NAN])), [[12.5, NAN, 7.0]])


def test_inputs_are_not_modified_and_result_is_new() -> None:
    conc = np.array([[20.0, NAN]])
    o2 = np.array([[9.0, 21.0]])
    reference = np.array([6.0])
    before = (conc.copy(), o2.copy(), reference.copy())
    converted = to_reference_o2(conc, o2, reference)
    converted[:] = 0.0
    for array, copy in zip((conc, o2, reference), before, strict=True):
        assert_array_equal(array, copy)


@pytest.mark.parametrize("reference", [21.0, 25.0, -1.0])
def test_impossible_reference_o2_is_a_configuration_error(reference: float) -> None:
    with pytest.raises(ValueError, match="reference O2"):
        to_reference_o2(np.array([[1.0]]), np.array([[9.0]]), np.array([reference]))


def _v2_computed() -> np.ndarray:
    """§10.6 V2: particulate, SO2, NOx hourly Avg at O2 9.2 %, converted to 6 %."""
    return to_reference_o2(np.array([3.2, 18.5, 28.4]), np.array([9.2, 9.2, 9.2]), 6.0)


def test_v2_reported_zsavg_matches() -> None:
    computed = _v2_computed()
    assert_allclose(computed, np.array([3.2, 18.5, 28.4]) * 15 / 11.8)
    assert_array_equal(conversion_mismatch(np.array([4.1, 23.5, 36.1]), computed), [False] * 3)


def test_zsavg_converted_with_the_wrong_reference_is_a_mismatch() -> None:
    # The unit converted to 9 % instead of 6 %: 3.2·12/11.8 = 3.25, 18.81, 28.88.
    wrong = np.round(np.array([3.2, 18.5, 28.4]) * 12 / 11.8, 1)
    assert wrong.tolist() == [3.3, 18.8, 28.9]
    assert_array_equal(conversion_mismatch(wrong, _v2_computed()), [True] * 3)
    # Sending the unconverted Avg as ZsAvg is caught too.
    assert_array_equal(conversion_mismatch(np.array([3.2, 18.5, 28.4]), _v2_computed()), [True] * 3)


def test_mismatch_tolerances_and_missing_values() -> None:
    computed = np.array([1.0, 1.0, 10.0, 10.0, NAN, 5.0])
    reported = np.array([1.05, 1.07, 10.19, 10.21, 5.0, NAN])
    # tol = max(0.06, 0.02·|c|): 0.06 for 1.0, 0.2 for 10.0; NaN on either side is not a mismatch.
    assert_array_equal(
        conversion_mismatch(reported, computed), [False, True, False, True, False, False]
    )
    assert_array_equal(conversion_mismatch(np.array([1.05]), np.array([1.0]), abs_tol=0.01), [True])
