"""nas.stats: standard errors and paired tests against their textbook formulas."""

import math

import pytest
from scipy.stats import t as student_t

from nas.stats import mean_se, p_text, paired, standard_error, verdict


def test_standard_error_is_the_sample_sd_over_root_n():
    assert standard_error([0.5, 0.7]) == pytest.approx(0.1)
    values = [0.81, 0.84, 0.86, 0.90, 0.79]
    mean = sum(values) / 5
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 4)
    assert mean_se(values) == (pytest.approx(mean), pytest.approx(sd / math.sqrt(5)))
    assert standard_error([0.4]) is None and mean_se([0.4]) == (0.4, None)


def test_paired_t_test_matches_the_formula_on_the_differences():
    a, b = [0.90, 0.93, 0.88, 0.95, 0.91], [0.86, 0.90, 0.87, 0.90, 0.89]
    diffs = [x - y for x, y in zip(a, b)]
    mean = sum(diffs) / 5
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 4 / 5)
    expected_p = 2 * student_t.sf(abs(mean / se), df=4)
    test = paired(a, b)
    assert test.n == 5 and test.mean == pytest.approx(mean) and test.se == pytest.approx(se)
    assert test.t_p == pytest.approx(expected_p, rel=1e-9)
    assert test.wilcoxon_p == pytest.approx(2 / 2 ** 5)  # all five differences positive: the exact minimum
    assert verdict(test) == "higher" and verdict(paired(b, a)) == "lower"


def test_differences_inside_the_noise_are_no_difference():
    a, b = [0.90, 0.85, 0.92, 0.86, 0.91], [0.88, 0.89, 0.90, 0.88, 0.89]
    test = paired(a, b)
    assert test.t_p > 0.05 and verdict(test) == "no difference"


def test_ties_and_constant_differences_have_defined_p_values():
    tied = paired([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    assert (tied.mean, tied.se, tied.t_p, tied.wilcoxon_p) == (0.0, 0.0, 1.0, 1.0)
    assert verdict(tied) == "no difference"
    shifted = paired([0.6, 0.7, 0.8], [0.5, 0.6, 0.7])  # every difference +0.1: t is infinite
    assert shifted.t_p == 0.0 and shifted.mean == pytest.approx(0.1) and verdict(shifted) == "higher"
    one = paired([0.6], [0.5])
    assert one.t_p is None and verdict(one) == "one seed: not tested"


def test_paired_refuses_samples_of_different_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        paired([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="empty"):
        paired([], [])


def test_p_values_print_with_three_decimals_or_as_a_bound():
    assert p_text(0.0312) == "0.031" and p_text(0.0002) == "<0.001" and p_text(None) == "-"
