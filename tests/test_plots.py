"""The figures' data: Eq. 2 against the factor, counted from built blocks."""

import matplotlib

matplotlib.use("Agg")

import pytest

from netsplit.complexity import eq1_params, eq2_params
from netsplit.plots import block_kernel_weights, eq2_frame, eq2_plot


@pytest.mark.parametrize("layers", [(3, 64, 64), (64, 128, 128)])
def test_eq2_frame_counts_built_blocks_and_equals_the_formula(layers):
    frame = eq2_frame((1, 2, 4, 8), *layers)
    for k in frame.index:
        assert frame.loc[k, "built block"] == block_kernel_weights(*layers, k) == eq2_params(*layers, k, k)
    assert (frame["unsplit (Eq. 1)"] == eq1_params(*layers)).all()
    assert frame.loc[1, "built block"] == eq1_params(*layers)
    assert frame["built block"].is_monotonic_decreasing


def test_eq2_plot_draws_the_split_and_the_unsplit_count():
    ax = eq2_plot(eq2_frame((1, 2, 4), 3, 8, 8))
    assert len(ax.lines) == 3 and ax.get_title() == "L0=3, L1=8, L2=8"
