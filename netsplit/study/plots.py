"""Figures of the book: the method drawn as diagrams, Eq. 2 against the factor, the search trend, comparisons."""

from __future__ import annotations

import itertools
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from netsplit.complexity import eq1_params, eq2_params
from netsplit.blocks import Unit
from netsplit.layers import SplitBlock
from netsplit.search.rule import SearchResult
from netsplit.study.inference import Timings, peak_rates

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


def draw_proposed_split(ax, split=(2, 3)) -> None:
    """Paper Fig. 2: two blocks split by K1 and K2, each followed by a fusion block."""
    _canvas(ax, f"Proposed split: K1={split[0]}, K2={split[1]}, fusion after each block")
    _box(ax, 0.5, 5, 0.8, 1.4, "input")
    source = (0.9, 5)
    for b, (factor, x0) in enumerate(zip(split, (1.9, 5.9))):
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
    """Long table of the search: block, factor (1 = baseline), accuracy %, drop, chosen; ``attrs["decided_on"]``
    names the images the search decided on (validation or test), which the accuracies are of."""
    rows = []
    for o in result.outcomes:
        rows.append({"block": o.block, "factor": 1, "accuracy %": 100 * o.baseline, "drop (points)": 0.0,
                     "chosen": o.chosen == 1})
        for factor, (mean, _) in o.candidates.items():
            rows.append({"block": o.block, "factor": factor, "accuracy %": 100 * mean,
                         "drop (points)": 100 * (o.reference - mean), "chosen": o.chosen == factor})
    frame = pd.DataFrame(rows)
    frame.attrs["decided_on"] = result.decided_on
    return frame


def search_trend(frame: pd.DataFrame, threshold: float, title: str, ax=None) -> plt.Axes:
    """Accuracy drop per candidate factor, one line per block, with the threshold marked; the y-axis names
    the accuracy the search decided on (``frame.attrs["decided_on"]``), the legends sit right of the axes."""
    ax = ax or plt.gca()
    sns.lineplot(frame, x="factor", y="drop (points)", hue="block", marker="o", palette="tab10", ax=ax)
    blocks = ax.get_legend_handles_labels()
    chosen = frame[frame["chosen"]]
    marks = [ax.scatter(chosen["factor"], chosen["drop (points)"], s=180, facecolors="none", edgecolors="black",
                        zorder=5),
             ax.axhline(threshold, color="crimson", ls="--")]
    ax.set_xticks(sorted(frame["factor"].unique()))
    decided_on = frame.attrs.get("decided_on")
    accuracy = f"{decided_on} accuracy" if decided_on else "accuracy"
    ax.set_ylabel(f"drop in {accuracy}\n(percentage points)")
    ax.set_xlabel("factor (1: the block unsplit)")
    ax.set_title(textwrap.fill(title, 70), fontsize=10)
    first = ax.legend(*blocks, title="block", fontsize=8, title_fontsize=8, loc="upper left",
                      bbox_to_anchor=(1.01, 1.0))
    ax.add_artist(first)
    ax.legend(marks, ["factor kept", f"threshold {threshold:g}"], title="the rule", fontsize=8, title_fontsize=8,
              loc="lower left", bbox_to_anchor=(1.01, 0.0))
    return ax


def _log_count_axis(ax: plt.Axes, name: str) -> None:
    """A logarithmic x-axis of counts, ticked in plain numbers (200k, 300k, 500k, 1M) and named with its scale."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 3, 5)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1e6:g}M" if v >= 1e6 else
                                               f"{v / 1e3:g}k" if v >= 1e3 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(f"{name} (log scale)")


def comparison_plot(table: pd.DataFrame, title: str) -> plt.Figure:
    """Accuracy against parameters and against MACs, one point per network (mean ± sd over seeds), the
    networks named in a legend below the panels; sized for the book's text column."""
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.5), sharey=True)
    frame = table.reset_index()
    for ax, column in zip(axes, ("parameters", "MMACs")):
        sns.scatterplot(frame, x=column, y="accuracy %", hue="network", s=70, ax=ax, legend=ax is axes[-1])
        if frame["± sd"].notna().any():
            ax.errorbar(frame[column], frame["accuracy %"], yerr=frame["± sd"].fillna(0), fmt="none", ecolor="grey")
        _log_count_axis(ax, column)
    axes[0].set_ylabel("test accuracy %")
    handles, labels = axes[-1].get_legend_handles_labels()
    axes[-1].get_legend().remove()
    fig.legend(handles, labels, title="network", fontsize=8, title_fontsize=8, loc="lower center",
               ncol=min(4, len(labels)), bbox_to_anchor=(0.5, 0.0), frameon=False)
    fig.suptitle(textwrap.fill(title, 80), fontsize=10)
    fig.tight_layout(rect=(0, 0.03 + 0.06 * -(-len(labels) // 4), 1, 1))
    return fig


def thinning_plot(table: pd.DataFrame, title: str) -> plt.Figure:
    """Splitting against thinning, as pruning studies show it: test accuracy against parameters and against
    MACs, the unsplit network at several widths as a curve with its 95 % interval as a band (its mean's, over
    seeds), each split network as a labelled point with its 95 % interval."""
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.6), sharey=True)
    frame = table.reset_index()
    thin = frame[frame["network"].str.startswith("thin:") | (frame["network"] == "baseline")]
    split = frame.drop(thin.index)
    for ax, column in zip(axes, ("parameters", "MMACs")):
        line = thin.sort_values(column)
        ax.plot(line[column], line["accuracy %"], "o-", color="grey", mfc="white", ms=5, label="unsplit, thinner")
        if line["low 95"].notna().all():
            ax.fill_between(line[column], line["low 95"].astype(float), line["high 95"].astype(float), color="grey",
                            alpha=0.2, lw=0, label="its 95 % interval")
        below = (split["accuracy %"] - split["low 95"].astype(float)).fillna(0)
        above = (split["high 95"].astype(float) - split["accuracy %"]).fillna(0)
        ax.errorbar(split[column], split["accuracy %"], yerr=[below, above], fmt="s", color="C0", ms=6, capsize=2,
                    label="split (95 % interval)")
        for _, row in split.iterrows():
            ax.annotate(row["network"], (row[column], row["accuracy %"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=7)
        _log_count_axis(ax, column)
    axes[0].set_ylabel("test accuracy %")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=3, bbox_to_anchor=(0.5, 0.0), frameon=False)
    fig.suptitle(textwrap.fill(title, 80), fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def tradeoff_plot(found: pd.DataFrame, comparison: pd.DataFrame, title: str) -> plt.Figure:
    """Two panels on one parameter axis, as the two kinds of network were trained differently: left, the
    split found at each threshold as the search fine-tuned it (:func:`~netsplit.study.chapters.tradeoff_frame`:
    its test accuracy after every epoch of its path, with the unsplit network the search started from);
    right, the comparison networks trained from scratch (mean ± sd over seeds). Each point is labelled
    beside it, at the first of a few offsets whose label overlaps no other label or point and stays in
    the axes, and crosses the line or an error bar least (thresholds that found the same split share one
    label)."""
    from matplotlib.transforms import Bbox

    fig, (ax_found, ax_scratch) = plt.subplots(1, 2, figsize=(7.0, 3.9), sharex=True)
    ax_found.plot(found["parameters"], found["accuracy %"], "o-", color="black", ms=6, zorder=3)
    unsplit = found.attrs.get("unsplit")
    if unsplit:
        ax_found.plot([unsplit["parameters"]], [unsplit["accuracy %"]], "D", mfc="white", mec="black", ms=6,
                      zorder=3)
    networks = comparison.reset_index()
    colours = sns.color_palette(n_colors=len(networks))
    sd = networks["± sd"].astype(float).fillna(0) if "± sd" in networks else pd.Series(0.0, index=networks.index)
    ax_scratch.errorbar(networks["parameters"], networks["accuracy %"], yerr=sd, fmt="none", ecolor="grey", zorder=2)
    ax_scratch.scatter(networks["parameters"], networks["accuracy %"], c=colours, marker="s", s=45, zorder=3)
    epochs = found["epochs"].dropna()
    fine_tuned = f"{epochs.min():.0f}–{epochs.max():.0f}" if len(epochs) and epochs.min() != epochs.max() else \
        f"{epochs.max():.0f}" if len(epochs) else "?"
    ax_found.set_title(f"found at threshold t, as the search\nfine-tuned it ({fine_tuned} epochs in all)", fontsize=9)
    seeds = comparison["seeds"].max() if "seeds" in comparison else 1
    ax_scratch.set_title(f"comparison networks, trained from scratch\n(mean ± sd of {seeds} seeds)", fontsize=9)
    ax_found.set_ylabel("test accuracy %")
    for ax in (ax_found, ax_scratch):
        _log_count_axis(ax, "parameters")
        ax.margins(x=0.3, y=0.2)
    fig.suptitle(textwrap.fill(title, 80), fontsize=10)
    fig.tight_layout()
    fig.canvas.draw()  # the layout is final: labels are placed in display space from here on
    renderer = fig.canvas.get_renderer()

    def box(ax, x, y, half_width, half_height):
        px, py = ax.transData.transform((x, y))
        return Bbox.from_extents(px - half_width, py - half_height, px + half_width, py + half_height)

    def place(ax, points, labels, solid, thin):
        """Annotate each point with its label at the offset that costs least: 10 for leaving the axes or
        covering a placed label or a point (``solid``), 1 for each line sample or error bar (``thin``)."""
        offsets = [(dx * r, dy * r, ha, va) for r in (1, 2) for dx, dy, ha, va in
                   [(6, 5, "left", "bottom"), (6, -5, "left", "top"), (-6, 5, "right", "bottom"),
                    (-6, -5, "right", "top"), (0, 8, "center", "bottom"), (0, -8, "center", "top"),
                    (9, 0, "left", "center"), (-9, 0, "right", "center")]]
        frame, placed = ax.get_window_extent(renderer), []
        for (x, y), label in zip(points, labels):
            best = None
            for dx, dy, ha, va in offsets:
                text = ax.annotate(label, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                                   fontsize=7.5)
                extent = text.get_window_extent(renderer).expanded(1.04, 1.1)
                inside = (frame.x0 <= extent.x0 and extent.x1 <= frame.x1 and frame.y0 <= extent.y0
                          and extent.y1 <= frame.y1)
                cost = 10 * (not inside) + 10 * sum(extent.overlaps(b) for b in placed + solid) + \
                    sum(extent.overlaps(b) for b in thin)
                if best is None or cost < best[0]:
                    if best is not None:
                        best[1].remove()
                    best = (cost, text, extent)
                else:
                    text.remove()
                if cost == 0:
                    break
            placed.append(best[2])

    grouped: dict[tuple, list] = {}
    for threshold, row in found.iterrows():
        grouped.setdefault((row["parameters"], row["accuracy %"]), []).append((threshold, row["split"]))
    points = list(grouped)
    labels = [f"t={', '.join(f'{t:g}' for t, _ in group)}: {group[0][1]}" for group in grouped.values()]
    if unsplit:
        points.append((unsplit["parameters"], unsplit["accuracy %"]))
        labels.append(f"unsplit\n({unsplit['epochs']} epochs)")
    path = found[["parameters", "accuracy %"]].to_numpy()
    line = [box(ax_found, x0 * (x1 / x0) ** (f / 12), y0 + (y1 - y0) * f / 12, 1.5, 1.5)
            for (x0, y0), (x1, y1) in itertools.pairwise(path) for f in range(1, 12)]
    place(ax_found, points, labels, [box(ax_found, x, y, 4, 4) for x, y in points], line)
    scratch = list(zip(networks["parameters"], networks["accuracy %"]))
    bars = [Bbox.from_extents(ax_scratch.transData.transform((x, y - s))[0] - 1.5,
                              ax_scratch.transData.transform((x, y - s))[1],
                              ax_scratch.transData.transform((x, y + s))[0] + 1.5,
                              ax_scratch.transData.transform((x, y + s))[1]) for (x, y), s in zip(scratch, sd)]
    place(ax_scratch, scratch, list(networks[comparison.index.name or "index"]),
          [box(ax_scratch, x, y, 4, 4) for x, y in scratch], bars)
    return fig


def _count_label(value: float) -> str:
    """A count as the text of a figure: an integer without decimals, anything else with one."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def eq2_heatmaps(grids: list[pd.DataFrame]) -> plt.Figure:
    """Paper Fig. 5: Eq. 2 over (k1, k2), one heatmap per reading of B (from :func:`~netsplit.complexity.eq2_grid`),
    on one logarithmic colour scale, each cell labelled with its count."""
    from matplotlib.colors import LogNorm

    from netsplit.complexity import EQ2_READINGS

    norm = LogNorm(min(g.to_numpy().min() for g in grids), max(g.to_numpy().max() for g in grids))
    fig, axes = plt.subplots(1, len(grids), figsize=(6.2 * len(grids), 5.4), squeeze=False, layout="constrained")
    for ax, grid in zip(axes[0], grids):
        image = ax.imshow(grid.to_numpy(), origin="lower", cmap="viridis", norm=norm, aspect="auto")
        for row, k2 in enumerate(grid.index):
            for column, k1 in enumerate(grid.columns):
                value = grid.loc[k2, k1]
                ax.text(column, row, _count_label(value), ha="center", va="center", fontsize=7.5,
                        color="black" if norm(value) > 0.55 else "white")
        ax.set_xticks(range(len(grid.columns)), [str(k) for k in grid.columns])
        ax.set_yticks(range(len(grid.index)), [str(k) for k in grid.index])
        ax.grid(False)
        ax.set_xlabel("k1: split factor of the first convolution")
        ax.set_ylabel("k2: split factor of the second convolution")
        ax.set_title(EQ2_READINGS[grid.attrs["reading"]])
    l0, l1, l2 = grids[0].attrs["layers"]
    fig.colorbar(image, ax=axes[0].tolist(), label="convolution weights by Eq. 2 (log scale)", shrink=0.9)
    fig.suptitle(f"Paper Fig. 5: weights of two 3x3 convolutions (L0={l0}, L1={l1}, L2={l2}) split by k1 and k2")
    return fig


def latency_plot(timings: Timings) -> sns.FacetGrid:
    """Batch-1 latency against MACs of every float32 network on LiteRT, per model and threads, beside the time
    the MACs would take at the engine's peak rate."""
    float32 = timings.float32
    rates = peak_rates(timings.records)
    points = float32.assign(**{"GMACs": float32["macs"] / 1e9, "latency ms": float32["median_ms"],
                               "threads": float32["threads"].astype(str) + " thread(s)",
                               "width": "x" + float32["width_multiplier"].map("{:g}".format)})
    grid = sns.relplot(points, x="GMACs", y="latency ms", hue="network", style="width", col="threads", row="model",
                       height=3.6, aspect=1.25, s=60)
    span = np.geomspace(points["GMACs"].min(), points["GMACs"].max(), 20)
    for (_, threads), ax in grid.axes_dict.items():
        ax.plot(span, span * 1e9 / rates[("float32", int(threads[0]))] * 1e3, ls=":", color="grey", label="bound")
        ax.set(xscale="log", yscale="log")
    grid.figure.suptitle(f"Batch-1 latency against MACs: {timings.engine_name}, float32, {timings.run['device']}, "
                         "random input (no data set)", y=1.02)
    return grid
