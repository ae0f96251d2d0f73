"""Figures of the book: the method drawn as diagrams, Eq. 2 against the factor, the search trend, comparisons."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from netsplit.complexity import eq1_params, eq2_params
from netsplit.layers import SplitBlock, Unit
from netsplit.search import SearchResult

BRANCH_COLOURS = sns.color_palette("Set2", 8)


def _box(ax, x, y, w, h, text, colour="#dddddd", fontsize=9):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", fc=colour, ec="#333333"))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, color="#333333", lw=1))


def _canvas(ax, title):
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.axis("off")
    ax.set_title(title, fontsize=11)


def draw_ideal_split(ax, factor: int = 2) -> None:
    """Paper Fig. 1: K networks that never exchange data."""
    _canvas(ax, f"Ideal split (K={factor}): no connections")
    ys = np.linspace(2, 8, factor)
    for k, y in enumerate(ys):
        _arrow(ax, (1.0, 5), (2.2, y))
        for i, x in enumerate((3, 5.5)):
            _box(ax, x, y, 1.8, 1.0, f"conv{i + 1}/{factor}", BRANCH_COLOURS[k])
        _arrow(ax, (3.9, y), (4.6, y))
        _arrow(ax, (6.4, y), (8.0, 5))
    _box(ax, 0.6, 5, 0.9, 1.4, "input")
    _box(ax, 8.8, 5, 1.4, 1.4, "output")


def draw_proposed_split(ax, factors=(2, 3)) -> None:
    """Paper Fig. 2: two blocks split by K1 and K2, each followed by a fusion block."""
    _canvas(ax, f"Proposed split: K1={factors[0]}, K2={factors[1]}, fusion after each block")
    _box(ax, 0.5, 5, 0.8, 1.4, "input")
    source = (0.9, 5)
    for b, (factor, x0) in enumerate(zip(factors, (1.9, 5.9))):
        for k, y in enumerate(np.linspace(2, 8, factor)):
            _arrow(ax, source, (x0 - 0.7, y))
            _box(ax, x0, y, 1.4, 1.0, f"block{b + 1}/{factor}", BRANCH_COLOURS[k])
            _arrow(ax, (x0 + 0.7, y), (x0 + 1.6, 5))
        _box(ax, x0 + 2.0, 5, 0.8, 2.6, "fusion", "#f4c27a")
        source = (x0 + 2.4, 5)


def draw_fusion_block(ax, factor: int = 3) -> None:
    """Paper Fig. 3: pool each branch, concatenate, 1x1 convolution, BN, ReLU."""
    _canvas(ax, "Fusion block")
    for k, y in enumerate(np.linspace(2, 8, factor)):
        _box(ax, 1.2, y, 1.8, 1.0, f"branch {k + 1}", BRANCH_COLOURS[k])
        _box(ax, 3.6, y, 1.6, 1.0, "pool", "#cfe3f7")
        _arrow(ax, (2.1, y), (2.8, y))
        _arrow(ax, (4.4, y), (5.2, 5))
    _box(ax, 5.9, 5, 1.3, 2.2, "concat")
    _box(ax, 8.3, 5, 2.6, 2.2, "1x1 conv\nBN, ReLU", "#f4c27a")
    _arrow(ax, (6.55, 5), (7.0, 5))


def method_figure() -> plt.Figure:
    """The three method diagrams side by side."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    draw_ideal_split(axes[0])
    draw_proposed_split(axes[1])
    draw_fusion_block(axes[2])
    fig.tight_layout()
    return fig


def block_kernel_weights(l0: int, l1: int, l2: int, factor: int) -> int:
    """Convolution weights of a built two-conv block (L1, L2 filters, 3x3) on L0 channels, split by ``factor``."""
    block = SplitBlock([Unit("conv", l1), Unit("conv", l2)], factor=factor, implementation="branches")
    block.build((None, 8, 8, l0))
    return sum(int(np.prod(conv.kernel.shape)) for conv in block.convs)


def eq2_frame(factors=(1, 2, 4, 8, 16, 32, 64), l0: int = 64, l1: int = 128, l2: int = 128) -> pd.DataFrame:
    """Weights of two 3x3 convs split by the same K (as inside one block): counted from built
    :class:`SplitBlock` s, by Eq. 2 with k1 = k2 = K, and unsplit (Eq. 1)."""
    frame = pd.DataFrame({
        "K": list(factors),
        "built block": [block_kernel_weights(l0, l1, l2, k) for k in factors],
        "Eq. 2": [int(eq2_params(l0, l1, l2, k, k)) for k in factors],
        "unsplit (Eq. 1)": eq1_params(l0, l1, l2),
    }).set_index("K")
    frame.attrs["layers"] = (l0, l1, l2)
    return frame


def eq2_plot(frame: pd.DataFrame, ax=None) -> plt.Axes:
    """Weights of a split two-conv block against its factor K (from :func:`eq2_frame`), unsplit as a line."""
    ax = ax or plt.gca()
    l0, l1, l2 = frame.attrs["layers"]
    ax.plot(frame.index, frame["built block"], marker="o", label="split by K (built block = Eq. 2)")
    ax.axhline(frame["unsplit (Eq. 1)"].iloc[0], color="crimson", ls="--", label="unsplit (Eq. 1)")
    ax.axhline(l0 * l1 * 9, color="grey", ls=":", label="first conv alone")
    ax.set_xscale("log", base=2)
    ax.set_xticks(frame.index, [str(k) for k in frame.index])
    ax.set_ylim(0, None)
    ax.set_xlabel("factor K of the block")
    ax.set_ylabel("convolution weights")
    ax.set_title(f"L0={l0}, L1={l1}, L2={l2}")
    ax.legend(fontsize=8)
    return ax


def search_frame(result: SearchResult) -> pd.DataFrame:
    """Long table of the search: block, factor (1 = baseline), accuracy %, drop, chosen."""
    rows = []
    for o in result.outcomes:
        rows.append({"block": o.block, "factor": 1, "accuracy %": 100 * o.baseline, "drop (points)": 0.0,
                     "chosen": o.chosen == 1})
        for factor, (mean, _) in o.candidates.items():
            rows.append({"block": o.block, "factor": factor, "accuracy %": 100 * mean,
                         "drop (points)": 100 * (o.reference - mean), "chosen": o.chosen == factor})
    return pd.DataFrame(rows)


def search_trend(frame: pd.DataFrame, threshold: float, title: str, ax=None) -> plt.Axes:
    """Accuracy drop per candidate factor, one line per block, with the threshold marked."""
    ax = ax or plt.gca()
    sns.lineplot(frame, x="factor", y="drop (points)", hue="block", marker="o", palette="tab10", ax=ax)
    chosen = frame[frame["chosen"]]
    ax.scatter(chosen["factor"], chosen["drop (points)"], s=180, facecolors="none", edgecolors="black",
               label="chosen factor", zorder=5)
    ax.axhline(threshold, color="crimson", ls="--", label=f"threshold {threshold:g}")
    ax.set_xticks(sorted(frame["factor"].unique()))
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def comparison_plot(table: pd.DataFrame, title: str) -> plt.Figure:
    """Accuracy against parameters and against MACs, one point per network."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    frame = table.reset_index()
    for ax, column in zip(axes, ("parameters", "MMACs")):
        sns.scatterplot(frame, x=column, y="accuracy %", hue="network", s=120, ax=ax, legend=ax is axes[-1])
        if frame["± sd"].notna().any():
            ax.errorbar(frame[column], frame["accuracy %"], yerr=frame["± sd"].fillna(0), fmt="none", ecolor="grey")
        ax.set_xscale("log")
    axes[-1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig



FOUND_LABEL = "found at threshold t (fine-tuned in the search)"


def tradeoff_plot(found: pd.DataFrame, comparison: pd.DataFrame, title: str) -> plt.Figure:
    """Accuracy against parameters and MACs: the split found at each threshold (as the search fine-tuned
    it) as one line, and the comparison networks (trained from scratch) as points."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    networks = comparison.reset_index()
    for ax, column in zip(axes, ("parameters", "MMACs")):
        ax.plot(found[column], found["accuracy %"], "o-", color="black", label=FOUND_LABEL)
        for threshold, row in found.iterrows():
            ax.annotate(f"t={threshold:g}: {row['split']}", (row[column], row["accuracy %"]), fontsize=8,
                        xytext=(4, -10), textcoords="offset points")
        sns.scatterplot(networks, x=column, y="accuracy %", hue="network", marker="s", s=90, ax=ax,
                        legend=ax is axes[-1])
        ax.set_xscale("log")
        ax.set_xlabel(f"{column} (log scale)")
    handles, labels = axes[-1].get_legend_handles_labels()
    labels = [label if label == FOUND_LABEL else f"{label} (from scratch)" for label in labels]
    axes[-1].legend(handles, labels, fontsize=7, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
