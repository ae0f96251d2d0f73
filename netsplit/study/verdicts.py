"""The paper's claims, each judged from this study's records by a test that can refute it.

A verdict says what the test found:

- *confirmed*: a difference in the paper's direction at the 0.05 level (Welch's t-test on the seeds), a
  number of the paper inside the 95 % interval of the measured one, a count equal to the formula, or a
  measurement beyond the noise measured beside it (a search candidate's gain beyond its seeds' spread, a
  memory saving beyond the original network's difference with itself, a latency beyond the runs' spread);
- *refuted*: the same test finding the opposite, the paper's number outside the interval, or a count
  that differs from the formula;
- *not settled*: enough seeds or measurements, but a difference within their noise;
- *not testable here*: the records cannot decide (one seed per network, or a network not trained).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from netsplit.complexity import EQ2_READINGS
from netsplit.search import SearchResult
from netsplit.study import CONTROLS

PAPER_PROPOSED_I_DROP = 0.61
"""Accuracy points proposed_I (8,2,2,4,4) loses against the unsplit VGG16 on CIFAR-10 (paper, Table 2)."""


@dataclass(frozen=True)
class Verdict:
    """One claim of the paper (``key`` names it in glued results), what this study's records say of it,
    and the evidence."""

    key: str
    claim: str
    verdict: str  # confirmed | refuted | not settled | not testable here, or confirmed under one reading only
    evidence: str


def verdicts(model: str, comparison: pd.DataFrame, result: SearchResult | None) -> list[Verdict]:
    """The paper's claims about ``model`` judged from its comparison table (:func:`~netsplit.study.comparison_table`)
    and its search."""
    if model == "resnet18":
        return [_resnet18_stages(result)]
    return _vgg16_verdicts(comparison) if model == "vgg16" else []


def _resnet18_stages(result: SearchResult) -> Verdict:
    claim = "Table 1: splitting affects each ResNet18 stage differently, and in some stages it improves accuracy"
    gains = [(o.block, factor, 100 * (mean - o.baseline), 100 * sd) for o in result.outcomes
             for factor, (mean, sd) in o.candidates.items()]
    if not gains:
        lack = "" if result.missing is None else f": its path needs the network {','.join(map(str, result.missing))} next"
        return Verdict("resnet18_gain", claim, "not testable here", f"the search's records hold no candidate yet{lack}")
    block, factor, gain, sd = max(gains, key=lambda g: g[2])
    seeds = len({r.seed for r in result.records if r.role == "candidate"})
    where = (f"largest gain: block {block} at factor {factor}, {gain:+.2f} points ({result.decided_on} accuracy; a "
             "candidate trains the fine-tuning epochs on top of its baseline); smallest factor tried, by block: "
             + ", ".join(f"block {o.block} {100 * (o.candidates[min(o.candidates)][0] - o.baseline):+.2f}"
                         for o in result.outcomes if o.candidates))
    if seeds < 2:
        return Verdict("resnet18_gain", claim, "not testable here", f"{where}; one seed per candidate")
    # a candidate's spread over seeds, counted for the baseline too: sd * sqrt(2)
    if gain > sd * 2**0.5:
        verdict = "confirmed"
    elif all(g < -s * 2**0.5 for *_, g, s in gains):
        verdict = "refuted"
    else:
        verdict = "not settled"
    return Verdict("resnet18_gain", claim, verdict, f"{where}; a gain counts beyond the seed spread ({seeds} seeds)")


PAPER_THRESHOLD = 0.5
"""The paper's threshold (points): the accuracy drop its search allowed, and what "without significant
accuracy degradation" is read against."""


def _vgg16_verdicts(comparison: pd.DataFrame) -> list[Verdict]:
    judges = {
        "proposed_I_drop": (f"proposed_I (8,2,2,4,4) loses about {PAPER_PROPOSED_I_DROP} points",
                            ["baseline", "proposed_I"], _proposed_i_drop),
        "naive_worst": ("the naive split loses the most accuracy of the four splits of Table 2",
                        ["proposed_I", "proposed_II", "naive split", "shared split"], _naive_worst),
        "shared_beats_naive": ("the shared split is more accurate than the naive split",
                               ["naive split", "shared split"], _shared_beats_naive),
        "proposed_I_complexity": ("proposed_I is slightly more complex than the shared split, and more accurate",
                                  ["proposed_I", "proposed_I, input split", "shared split"], _proposed_i_complexity),
        "proposed_II_rank": ("proposed_II (8,2,2,2,4), which splits block 4 less, is more accurate than proposed_I "
                             "(implied: the paper gives its numbers, not its rank)",
                             ["proposed_I", "proposed_II", "naive split", "shared split"], _proposed_ii_rank),
        "all_blocks": ("the search splits every block of VGG16 without significant accuracy loss",
                       ["baseline", "found by search"], _all_blocks),
    }
    found = []
    for key, (claim, needed, judge) in judges.items():
        missing = [name for name in needed if name not in comparison.index]
        verdict, evidence = ("not testable here", f"this run does not train {', '.join(missing)}") if missing \
            else judge(comparison)
        found.append(Verdict(key, claim, verdict, evidence))
    return found


@dataclass(frozen=True)
class Difference:
    """Mean accuracy of one network minus another's (points), its 95 % interval and p-value by Welch's t-test
    on the seeds; ``low``, ``high`` and ``p`` are None with fewer than two seeds on either side."""

    mean: float
    low: float | None
    high: float | None
    p: float | None

    def __str__(self) -> str:
        interval = "" if self.low is None else f" (95 % interval {self.low:+.2f} to {self.high:+.2f}, p = {self.p:.2f})"
        return f"{self.mean:+.2f} points{interval}"


def difference(comparison: pd.DataFrame, a: str, b: str) -> Difference:
    """Network ``a``'s test accuracy minus ``b``'s, over their seeds (Welch's t-test, unequal variances)."""
    from scipy.stats import ttest_ind

    x, y = comparison.loc[a, "accuracies"], comparison.loc[b, "accuracies"]
    mean = statistics.fmean(x) - statistics.fmean(y)
    if min(len(x), len(y)) < 2:
        return Difference(mean, None, None, None)
    test = ttest_ind(x, y, equal_var=False)
    interval = test.confidence_interval(0.95)
    return Difference(mean, float(interval.low), float(interval.high), float(test.pvalue))


def _proposed_i_drop(comparison: pd.DataFrame) -> tuple[str, str]:
    drop = difference(comparison, "baseline", "proposed_I")
    evidence = f"proposed_I loses {drop} here"
    if drop.low is None:
        return "not testable here", evidence + "; one seed per network"
    inside = drop.low <= PAPER_PROPOSED_I_DROP <= drop.high
    return ("confirmed" if inside else "refuted",
            evidence + f"; confirmed only if {PAPER_PROPOSED_I_DROP} lies in the interval")


def _naive_worst(comparison: pd.DataFrame) -> tuple[str, str]:
    others = ["proposed_I", "proposed_II", "shared split"]
    return _above(comparison, others, "naive split")


def _shared_beats_naive(comparison: pd.DataFrame) -> tuple[str, str]:
    return _above(comparison, ["shared split"], "naive split")


def _proposed_ii_rank(comparison: pd.DataFrame) -> tuple[str, str]:
    splits = ["proposed_I", "proposed_II", "naive split", "shared split"]
    ranked = comparison.loc[splits, "accuracy %"].sort_values(ascending=False)
    verdict, evidence = _above(comparison, ["proposed_II"], "proposed_I")
    rank = list(ranked.index).index("proposed_II") + 1
    return verdict, f"{evidence}; by mean accuracy it ranks {rank} of the four splits ({', '.join(ranked.index)})"


def _above(comparison: pd.DataFrame, names: list[str], below: str) -> tuple[str, str]:
    """Whether every network of ``names`` is more accurate than ``below`` (:func:`_judged`)."""
    gaps = {name: difference(comparison, name, below) for name in names}
    evidence = "; ".join(f"{name} {gap}" for name, gap in gaps.items()) + \
        f" above {'the ' if below.endswith('split') else ''}{below}"
    verdict = _judged(gaps.values())
    note = {"not testable here": "; one seed per network", "not settled": f"; a difference counts at the {ALPHA:g} level"}
    return verdict, evidence + note.get(verdict, "")


ALPHA = 0.05
"""The level at which a difference between two networks counts (Welch's t-test on their seeds)."""


def _judged(gaps: Iterable[Difference]) -> str:
    """Confirmed if every difference is positive at the :data:`ALPHA` level, refuted if any is negative at
    that level, not testable with one seed on either side of any."""
    gaps = list(gaps)
    if any(gap.p is None for gap in gaps):
        return "not testable here"
    if all(gap.mean > 0 and gap.p < ALPHA for gap in gaps):
        return "confirmed"
    if any(gap.mean < 0 and gap.p < ALPHA for gap in gaps):
        return "refuted"
    return "not settled"


def _all_blocks(comparison: pd.DataFrame) -> tuple[str, str]:
    split = comparison.loc["found by search", "split"]
    unsplit = [str(block) for block, factor in enumerate(split.split(","), 1) if factor == "1"]
    if unsplit:
        return "not testable here", f"the search left block {', '.join(unsplit)} unsplit ({split})"
    loss = difference(comparison, "baseline", "found by search")
    evidence = (f"the search's split {split} loses {loss} against the unsplit network; confirmed if the whole "
                f"interval lies below the paper's threshold of {PAPER_THRESHOLD} points, refuted if above it")
    if loss.low is None:
        return "not testable here", evidence + "; one seed per network"
    if loss.high < PAPER_THRESHOLD:
        return "confirmed", evidence
    return ("refuted" if loss.low > PAPER_THRESHOLD else "not settled"), evidence


def _proposed_i_complexity(comparison: pd.DataFrame) -> tuple[str, str]:
    params = comparison["parameters"]
    readings = {"whole-input": "proposed_I", "input-split": "proposed_I, input split"}
    parts, states = [], {}
    for reading, name in readings.items():
        ratio = params[name] / params["shared split"]
        gap = difference(comparison, name, "shared split")
        parts.append(f"{reading} reading: {ratio:.2f}x the parameters, accuracy {gap} against the shared split")
        if gap.p is None:
            states[reading] = "untested"
        elif not 1 < ratio <= 1.5 or (gap.mean < 0 and gap.p < 0.05):
            states[reading] = "fails"
        else:
            states[reading] = "holds" if gap.mean > 0 and gap.p < 0.05 else "unsettled"
    evidence = "; ".join(parts) + " (slightly: at most 1.5x; a difference counts at the 0.05 level)"
    holding = [reading for reading, state in states.items() if state == "holds"]
    if "untested" in states.values():
        return "not testable here", evidence + "; one seed per network"
    if holding:
        return ("confirmed under both readings" if len(holding) == 2
                else f"confirmed under the {holding[0]} reading only"), evidence
    return ("not settled" if "unsettled" in states.values() else "refuted"), evidence


def thinning_verdicts(model: str, table: pd.DataFrame) -> list[Verdict]:
    """Splitting against thinning, at equal parameters and at equal MACs: each of ``model``'s
    :data:`~netsplit.study.CONTROLS` against its thin control (:func:`_judged`, on the pairs with two seeds
    or more on both sides; ``table``: a :func:`~netsplit.study.comparison_table`)."""
    found = []
    for label, cost in (("parameters", "params"), ("MACs", "macs")):
        claim = f"at equal {label}, a split network is more accurate than a thinner unsplit one"
        gaps = {split: difference(table, split, f"thin: {label} of {split}") for split in CONTROLS[model]
                if split in table.index and f"thin: {label} of {split}" in table.index}
        tested = [gap for gap in gaps.values() if gap.p is not None]
        evidence = "; ".join(f"{split} {gap} against its control" for split, gap in gaps.items()) or "no thin control trained"
        untested = len(CONTROLS[model]) - len(tested)
        if untested:
            evidence += f"; {untested} of {len(CONTROLS[model])} pairs lack two seeds on each side"
        verdict = _judged(tested) if tested else "not testable here"
        found.append(Verdict(f"{model}_thinning_{cost}", claim, verdict, evidence + f"; Welch's t-test, {ALPHA:g} level"))
    return found


def equation_verdict(frames: list[pd.DataFrame]) -> Verdict:
    """Eq. 1 and Eq. 2 against the weights of built blocks (:func:`~netsplit.plots.eq2_frame` s), at every
    factor that divides both layers' filters (elsewhere widths differ by one and Eq. 2 is not a count)."""
    claim = "Eq. 1 and Eq. 2 give the weights of two 3x3 convolutions, unsplit and split"
    checked, wrong = 0, []
    for frame in frames:
        l0, l1, l2 = frame.attrs["layers"]
        for k, row in frame.iterrows():
            if l1 % k or l2 % k:
                continue
            checked += 1
            expected = row["unsplit (Eq. 1)"] if k == 1 else row["Eq. 2"]
            if row["built block"] != expected:
                wrong.append(f"L=({l0},{l1},{l2}) K={k}: built {row['built block']:,}, equation {expected:,}")
    layers = "; ".join(f"L0,L1,L2 = {','.join(map(str, f.attrs['layers']))}" for f in frames)
    evidence = (f"{checked - len(wrong)} of {checked} built blocks ({layers}; K = "
                f"{', '.join(map(str, frames[0].index))}) hold exactly the weights the equations count, reading "
                "B as the number of branches")
    if wrong:
        return Verdict("equations", claim, "refuted", evidence + "; differ: " + "; ".join(wrong))
    return Verdict("equations", claim, "confirmed under the B = k reading", evidence)


def figure5_verdict(grids: list[pd.DataFrame]) -> Verdict:
    """Fig. 5's reading: with no split the count is Eq. 1's, and larger factors use fewer weights; per
    reading of B (:func:`~netsplit.complexity.eq2_grid` s, a row per k2, a column per k1)."""
    claim = "Fig. 5: a block the search cannot split keeps Eq. 1's weights, and larger split factors use fewer"
    falls, parts = {}, []
    for grid in grids:
        l0, l1, l2 = grid.attrs["layers"]
        unsplit = grid.iloc[0, 0] == (l0 * l1 + l1 * l2) * 9
        along_k1 = bool((grid.diff(axis=1).iloc[:, 1:] < 0).all().all())
        along_k2 = bool((grid.diff(axis=0).iloc[1:] < 0).all().all())
        reading = EQ2_READINGS[grid.attrs["reading"]].split(":")[0]
        falls[reading] = unsplit and along_k1 and along_k2
        axes = "both factors" if along_k1 and along_k2 else "k1 only" if along_k1 else "k2 only" if along_k2 else "neither"
        parts.append(f"{reading}: {'Eq. 1' if unsplit else 'not Eq. 1'} unsplit, falls along {axes} "
                     f"({grid.iloc[0, 0]:,.0f} to {grid.iloc[-1, -1]:,.0f} weights)")
    holding = [reading for reading, holds in falls.items() if holds]
    verdict = ("confirmed under both readings" if len(holding) == len(falls) else
               f"confirmed under the {holding[0]} reading only" if holding else "refuted")
    return Verdict("fig5", claim, verdict, "; ".join(parts) + " (counted by Eq. 2; the figure is lost from the text)")


PROPOSED_I = {"vgg16": "proposed_I", "resnet18": "8,2,2,4,4"}
"""The network that stands for the method in each model's memory and inference measurements: the
split of proposed_I (8,2,2,4,4), named by its factors on ResNet18, where the paper does not name it."""


def _proposed_i_rows(frame: pd.DataFrame) -> pd.Series:
    """Which rows of a frame with ``model`` and ``network`` columns (or index levels) hold :data:`PROPOSED_I`."""
    keys = frame.index.to_frame() if "network" in frame.index.names else frame
    return pd.Series([PROPOSED_I.get(m) == n for m, n in zip(keys["model"], keys["network"])], index=frame.index)


def memory_verdict(savings: pd.DataFrame | None) -> Verdict:
    """The memory claim from :func:`~netsplit.study.memory_savings` (None: nothing measured): :data:`PROPOSED_I`
    run branch by branch against the original run layer by layer, each measured once per input size. The noise
    is the original against itself (run branch by branch or layer by layer, an unsplit network does the same
    computation)."""
    claim = "splitting lowers the memory a network needs, since branches run one after another hold fewer feature maps"
    if savings is None:
        return Verdict("memory", claim, "not testable here", "no memory measurements (benchmarks/memory.py)")
    measured = savings["measured saving"]
    saving = measured[_proposed_i_rows(savings)]
    noise = measured.xs("original", level="network")
    sizes = sorted(set(saving.index.get_level_values("input size")))
    evidence = "; ".join(
        f"{model} {PROPOSED_I[model]}: {part.min():.2f}x to {part.max():.2f}x less measured memory than the original"
        for model, part in saving.groupby(level="model"))
    evidence += (f" (input {', '.join(map(str, sizes))} pixels); the original against itself: {noise.min():.3f}x to "
                 f"{noise.max():.3f}x; the paper measures no memory")
    if (saving > noise.max()).all():
        return Verdict("memory", claim, "confirmed", evidence)
    return Verdict("memory", claim, "refuted" if (saving < noise.min()).all() else "not settled", evidence)


def inference_verdict(latency: pd.DataFrame) -> Verdict:
    """The inference-speed claim from :func:`~netsplit.study.inference.latency_ratios` rows of one engine and
    precision: :data:`PROPOSED_I` against the unsplit network of the same group, groups timed while disturbed
    left out. Faster counts where its median
    lies below the unsplit network's fastest tenth (``p10_ms``), slower where its fastest tenth lies above
    the unsplit median."""
    claim = "fewer operations make inference faster: a split network runs faster than the unsplit one"
    group = ["model", "width_multiplier", "input_size", "threads"]
    noisy = latency["disturbed"].fillna(False).astype(bool) if "disturbed" in latency else latency["median_ms"] < 0
    dropped = latency[noisy].groupby(group).ngroups
    latency = latency[~noisy]  # one noise rule (study.inference.disturbed) for passes and misses alike
    split = latency[_proposed_i_rows(latency)].set_index(group)
    base = latency[latency["network"] == "baseline"].set_index(group).loc[split.index]
    faster, slower = split["median_ms"] < base["p10_ms"], split["p10_ms"] > base["median_ms"]
    evidence = (f"{' and '.join(f'{m} {n}' for m, n in PROPOSED_I.items())} at batch 1: latency ratio "
                f"{split['latency ratio'].min():.2f} to {split['latency ratio'].max():.2f} for MACs ratios of "
                f"{split['MACs ratio'].min():.2f} to {split['MACs ratio'].max():.2f}; faster beyond the runs' spread "
                f"in {int(faster.sum())} of {len(split)} groups (model, width, input size, threads), slower in "
                f"{int(slower.sum())}" + (f"; {dropped} disturbed group(s) left out" if dropped else ""))
    if faster.all():
        return Verdict("inference_speed", claim, "confirmed", evidence)
    return Verdict("inference_speed", claim, "refuted" if slower.any() else "not settled", evidence)


def glue_verdicts(found: list[Verdict]) -> None:
    """Glue each verdict's claim, verdict and evidence (``claim_<key>``, ...) for the introduction's table."""
    from myst_nb import glue

    for v in found:
        glue(f"claim_{v.key}", v.claim, display=False)
        glue(f"verdict_{v.key}", v.verdict, display=False)
        glue(f"evidence_{v.key}", v.evidence, display=False)


def verdict_table(found: list[Verdict]) -> str:
    """The verdicts as a Markdown table (claim, verdict, evidence)."""
    lines = ["| the paper says | verdict here | evidence |", "| --- | --- | --- |"]
    return "\n".join(lines + [f"| {v.claim} | **{v.verdict}** | {v.evidence} |" for v in found])
