"""The paper's claims, each judged from this study's records by a test stated before the data, and the
questions this study asks on its own, kept apart.

Accuracy claims are tests on the seeds of two networks (:mod:`netsplit.study.hypotheses`): "A beats B" is
one-sided superiority, "no significant loss" is non-inferiority at the paper's own threshold of 0.5
points, and a number of the paper holds only where the measured one is equivalent to it within a stated
margin (and is "not comparable" where the data set or width differ from the paper's). A chapter's
accuracy tests form one family, adjusted by Holm's method. A verdict reads:

- *confirmed*: the stated test is significant at the 0.05 level after Holm's adjustment (a count equal to
  its formula; a measurement beyond the noise measured beside it);
- *refuted*: the opposite test is significant (the count differs; the measurement lies beyond the noise
  the other way);
- *not settled*: the seeds cannot tell; the evidence says how large a difference they could have found
  and about how many seeds would settle it;
- *not comparable*: the paper's number was measured on other data or at another width;
- *not testable here*: the records cannot decide (one seed per network, or a network not trained).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from netsplit.complexity import EQ2_READINGS
from netsplit.search.rule import SearchResult
from netsplit.study.chapters import CONTROLS, control_name, glue_facts
from netsplit.study.hypotheses import TestResult, equivalence, holm, non_inferiority, superiority

PAPER_PROPOSED_I_DROP = 0.61
"""Accuracy points proposed_I (8,2,2,4,4) loses against the unsplit VGG16 on CIFAR-10 (paper, Section 4)."""
PAPER_THRESHOLD = 0.5
"""The paper's threshold (points): the accuracy drop its search allowed, and the margin of "without
significant accuracy degradation"."""
NUMBER_MARGIN = 0.3
"""How close (points) a measured drop must be to the paper's, either way, for the paper's number to hold."""
EQUIVALENCE_MARGIN = 0.3
"""The margin (points) within which a split network and its thin control count as equally accurate."""


@dataclass(frozen=True)
class Verdict:
    """One claim (``key`` names it in glued results), what this study's records say of it, and the evidence;
    ``source`` is "paper" for what the paper says (``claim`` quotes it, with its section) or "study" for what
    this study asks on its own."""

    key: str
    claim: str
    verdict: str  # confirmed | refuted | not settled | not comparable | not testable here, or under one reading only
    evidence: str
    source: str = "paper"


@dataclass(frozen=True)
class Setting:
    """Where a chapter's accuracies were measured: the data set's title and name, and the width multiplier."""

    title: str
    dataset: str
    width: float

    @property
    def comparable(self) -> bool:
        """Whether the paper's numbers transfer: CIFAR-10 at the paper's full width."""
        return self.dataset == "cifar10" and self.width == 1.0

    def __str__(self) -> str:
        return f"{self.title}, width {self.width:g}"


class Family:
    """A chapter's accuracy tests: each stated once, from a comparison table's seeds, then adjusted together
    by Holm's method (:meth:`adjust`) before the verdicts read them."""

    def __init__(self, model: str, table: pd.DataFrame):
        self.table, self.splits, self.results, self.adjusted = table, CONTROLS[model], {}, False

    def has(self, *names: str) -> bool:
        return all(name in self.table.index for name in names)

    def test(self, kind: Callable[..., TestResult], a: str, b: str, shift: float = 0.0, **margin) -> TestResult:
        """``kind`` (superiority, non_inferiority, equivalence) of network ``a`` against ``b``'s accuracies plus
        ``shift`` points (a stated difference of a over b), as adjusted once :meth:`adjust` ran."""
        key = (kind.__name__, a, b, shift, tuple(margin.items()))
        if key not in self.results:
            if self.adjusted:
                raise RuntimeError(f"{key} was not stated before the family was adjusted")
            self.results[key] = kind(self.table.loc[a, "accuracies"],
                                     [x + shift for x in self.table.loc[b, "accuracies"]], **margin)
        return self.results[key]

    def adjust(self) -> None:
        """Holm's adjustment over every test stated so far."""
        self.results, self.adjusted = dict(zip(self.results, holm(list(self.results.values())))), True


def _combined(results: Sequence[TestResult]) -> str:
    """All confirmed: confirmed; any refuted: refuted; any without seeds: not testable here; else not settled."""
    verdicts = {r.verdict for r in results}
    if verdicts == {"confirmed"}:
        return "confirmed"
    if "refuted" in verdicts:
        return "refuted"
    return "not testable here" if "not testable here" in verdicts else "not settled"


def verdicts(model: str, table: pd.DataFrame, result: SearchResult | None, setting: Setting) -> list[Verdict]:
    """Every verdict of ``model``'s chapter, from its comparison table with the thin controls
    (:func:`~netsplit.study.chapters.comparison_table`) and its search: the paper's claims, then this study's own
    questions; the accuracy tests are one family (Holm)."""
    judges = ACCURACY_JUDGES[model]
    family = Family(model, table)
    for judge in judges:  # first pass: every test stated; the verdicts read them once adjusted
        _judged(judge, family, setting)
    family.adjust()
    found = [_judged(judge, family, setting) for judge in judges]
    return ([_resnet18_stages(result)] if model == "resnet18" and result is not None else []) + found


def _judged(judge: tuple, family: Family, setting: Setting) -> Verdict:
    key, source, claim, needed, decide = judge
    missing = [name for name in needed if not family.has(name)]
    if missing:
        return Verdict(key, claim, "not testable here", f"this run does not train {', '.join(missing)}", source)
    verdict, evidence = decide(family, setting)
    return Verdict(key, claim, verdict, f"{evidence}; measured on {setting}", source)


def _resnet18_stages(result: SearchResult) -> Verdict:
    claim = ("\u201cthe effect of splitting on the final model accuracy can be different in different stages. In some "
             "layers, splitting improves the accuracy resulted from the original network\u201d (Section 3, Table 1, ResNet18)")
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


def _proposed_i_drop(family: Family, setting: Setting) -> tuple[str, str]:
    if setting.comparable:  # a number that cannot transfer is no test of the family
        drop = family.test(equivalence, "baseline", "proposed_I", shift=PAPER_PROPOSED_I_DROP, margin=NUMBER_MARGIN)
    else:
        table = family.table
        drop = equivalence(table.loc["baseline", "accuracies"],
                           [x + PAPER_PROPOSED_I_DROP for x in table.loc["proposed_I", "accuracies"]], NUMBER_MARGIN)
    loss = drop.difference + PAPER_PROPOSED_I_DROP
    evidence = (f"proposed_I loses {loss:.2f} points here; that loss less the paper's {PAPER_PROPOSED_I_DROP}: {drop}; "
                f"the number holds where the two are equivalent within ±{NUMBER_MARGIN:g}")
    if not setting.comparable:
        return "not comparable", evidence + "; the paper measured CIFAR-10 at full width, so no match here would confirm it"
    return drop.verdict, evidence


def _all_blocks(family: Family, setting: Setting) -> tuple[str, str]:
    losses = {name: family.test(non_inferiority, name, "baseline", margin=PAPER_THRESHOLD)
              for name in ("proposed_I", "proposed_II")}
    evidence = "; ".join(f"{name}, every block split, against the unsplit network: {loss}" for name, loss in losses.items())
    return _combined(list(losses.values())), evidence + f" (no loss beyond the paper's threshold of {PAPER_THRESHOLD:g} points)"


def _above(family: Family, names: list[str], below: str) -> tuple[str, str]:
    """Whether every network of ``names`` is more accurate than ``below`` (one-sided superiority each)."""
    gaps = {name: family.test(superiority, name, below) for name in names}
    return _combined(list(gaps.values())), "; ".join(f"{name} above {below}: {gap}" for name, gap in gaps.items())


def _naive_worst(family: Family, setting: Setting) -> tuple[str, str]:
    return _above(family, ["proposed_I", "proposed_II", "shared split"], "naive split")


def _shared_beats_naive(family: Family, setting: Setting) -> tuple[str, str]:
    return _above(family, ["shared split"], "naive split")


def _proposed_ii_rank(family: Family, setting: Setting) -> tuple[str, str]:
    splits = ["proposed_I", "proposed_II", "naive split", "shared split"]
    ranked = family.table.loc[splits, "accuracy %"].sort_values(ascending=False)
    verdict, evidence = _above(family, ["proposed_II"], "proposed_I")
    rank = list(ranked.index).index("proposed_II") + 1
    return verdict, f"{evidence}; by mean accuracy it ranks {rank} of the four splits ({', '.join(ranked.index)})"


def _proposed_i_complexity(family: Family, setting: Setting) -> tuple[str, str]:
    params = family.table["parameters"]
    readings = {"whole-input": "proposed_I", "input-split": "proposed_I, input split"}
    parts, states = [], {}
    for reading, name in readings.items():
        ratio = params[name] / params["shared split"]
        gap = family.test(superiority, name, "shared split")
        parts.append(f"{reading} reading: {ratio:.2f}x the parameters, accuracy against the shared split {gap}")
        states[reading] = ("untested" if gap.verdict == "not testable here" else
                           "fails" if not 1 < ratio <= 1.5 or gap.verdict == "refuted" else
                           "holds" if gap.verdict == "confirmed" else "unsettled")
    evidence = "; ".join(parts) + " (slightly: at most 1.5x)"
    holding = [reading for reading, state in states.items() if state == "holds"]
    if "untested" in states.values():
        return "not testable here", evidence
    if holding:
        return ("confirmed under both readings" if len(holding) == 2
                else f"confirmed under the {holding[0]} reading only"), evidence
    return ("not settled" if "unsettled" in states.values() else "refuted"), evidence


def _thinning(label: str) -> Callable[[Family, Setting], tuple[str, str]]:
    """The judge of splitting against thinning at equal ``label`` (parameters or MACs): each split network of
    the model that has its thin control, by superiority and by equivalence within :data:`EQUIVALENCE_MARGIN`."""
    def decide(family: Family, setting: Setting) -> tuple[str, str]:
        pairs = [(split, control_name(label, split)) for split in family.splits
                 if family.has(split, control_name(label, split))]
        if not pairs:
            return "not testable here", "no thin control trained"
        better = [family.test(superiority, split, thin) for split, thin in pairs]
        same = [family.test(equivalence, split, thin, margin=EQUIVALENCE_MARGIN) for split, thin in pairs]
        evidence = "; ".join(f"{split} against its control: {gap}, and {twin.brief()}"
                             for (split, _), gap, twin in zip(pairs, better, same))
        absent = [split for split in family.splits if not family.has(split, control_name(label, split))]
        if absent:
            evidence += f"; no control for {', '.join(absent)}"
        verdict = _combined(better)
        if verdict == "not settled" and _combined(same) == "confirmed":
            verdict = f"equivalent within ±{EQUIVALENCE_MARGIN:g}"
        return verdict, evidence
    return decide


ACCURACY_JUDGES = {
    "vgg16": [
        ("proposed_I_drop", "paper", "\u201cthe proposed algorithm split the VGG16 network structure with an average "
         "split factor 4, with only 0.61 loss of accuracy\u201d (Section 4)", ["baseline", "proposed_I"], _proposed_i_drop),
        ("all_blocks", "paper", "\u201call parts of the VGG16 structure could be split without significant accuracy "
         "degradation\u201d (Section 3, Table 2)", ["baseline", "proposed_I", "proposed_II"], _all_blocks),
        ("naive_worst", "paper", "\u201cThe na\u00efve approach for splitting yields a simple structure but its accuracy "
         "degradation can be regarded as high\u201d (Section 3): read as the lowest accuracy of Table 2's four splits",
         ["proposed_I", "proposed_II", "naive split", "shared split"], _naive_worst),
        ("shared_beats_naive", "paper", "\u201cBy the splitting method introduced in [13], better accuracy is "
         "resulted\u201d (Section 3): the shared split above the naive split", ["naive split", "shared split"],
         _shared_beats_naive),
        ("proposed_I_complexity", "paper", "\u201cBetter accuracy is resulted in the proposed_I network with a slightly "
         "more complex structure\u201d (Section 3), against the shared split",
         ["proposed_I", "proposed_I, input split", "shared split"], _proposed_i_complexity),
        ("proposed_II_rank", "study", "is proposed_II (8,2,2,2,4), which splits block 4 less, more accurate than "
         "proposed_I? (the paper ranks neither)", ["proposed_I", "proposed_II", "naive split", "shared split"],
         _proposed_ii_rank),
        ("vgg16_thinning_params", "study", "at equal parameters, is a split network more accurate than an unsplit "
         "one made thinner?", ["baseline"], _thinning("parameters")),
        ("vgg16_thinning_macs", "study", "at equal MACs, is a split network more accurate than an unsplit one made "
         "thinner?", ["baseline"], _thinning("MACs")),
    ],
    "resnet18": [
        ("resnet18_thinning_params", "study", "at equal parameters, is a split network more accurate than an unsplit "
         "one made thinner?", ["baseline"], _thinning("parameters")),
        ("resnet18_thinning_macs", "study", "at equal MACs, is a split network more accurate than an unsplit one made "
         "thinner?", ["baseline"], _thinning("MACs")),
    ],
}
"""Each model's accuracy verdicts: key, source (paper or study), claim, the networks it needs, its judge."""


def equation_verdict(frames: list[pd.DataFrame]) -> Verdict:
    """Eq. 1 and Eq. 2 against the weights of built blocks (:func:`~netsplit.study.plots.eq2_frame` s), at every
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
    """The memory claim from :func:`~netsplit.study.chapters.memory_savings` (None: nothing measured): :data:`PROPOSED_I`
    run branch by branch against the original run layer by layer, each measured once per input size. The noise
    is the original against itself (run branch by branch or layer by layer, an unsplit network does the same
    computation)."""
    claim = ("\u201cThese massive memory operations, which are caused by large feature maps, could be reduced with the "
             "proposed splitting method\u201d (Section 3)")
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
                 f"{noise.max():.3f}x; the paper measures no memory. Scope: Keras on TensorFlow, the split network run "
                 "branch by branch (netsplit.branchwise) against the original run layer by layer; the saving needs "
                 "that executor, and on LiteRT's default XNNPACK delegate the branch-by-branch export holds more "
                 "memory, not less (the Memory chapter, on an engine)")
    if (saving > noise.max()).all():
        return Verdict("memory", claim, "confirmed", evidence)
    return Verdict("memory", claim, "refuted" if (saving < noise.min()).all() else "not settled", evidence)


def inference_verdict(latency: pd.DataFrame) -> Verdict:
    """The inference-speed claim from :func:`~netsplit.study.inference.latency_ratios` rows of one engine and
    precision: :data:`PROPOSED_I` against the unsplit network of the same group, groups timed while disturbed
    left out. Faster counts where its median
    lies below the unsplit network's fastest tenth (``p10_ms``), slower where its fastest tenth lies above
    the unsplit median."""
    claim = "do fewer operations make inference faster: does a split network run faster than the unsplit one?"
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
    scope = ("; scope: LiteRT with XNNPACK, float32, on this CPU; other engines and precisions differ (the Inference "
             "chapter: int8 and other networks, each against its unsplit network)")
    if faster.all():
        return Verdict("inference_speed", claim, "confirmed", evidence + scope, "study")
    return Verdict("inference_speed", claim, "refuted" if slower.any() else "not settled", evidence + scope, "study")


def glue_verdicts(found: list[Verdict]) -> None:
    """Glue each verdict's claim, verdict and evidence (``claim_<key>``, ...) for the introduction's table."""
    for v in found:
        glue_facts({f"claim_{v.key}": v.claim, f"verdict_{v.key}": v.verdict, f"evidence_{v.key}": v.evidence})


def verdict_table(found: list[Verdict]) -> str:
    """The verdicts as Markdown tables: what the paper says (quoted), then what this study asks on its own."""
    tables = []
    for source, header in (("paper", "the paper says"), ("study", "this study asks")):
        rows = [f"| {v.claim} | **{v.verdict}** | {v.evidence} |" for v in found if v.source == source]
        if rows:
            tables.append("\n".join([f"| {header} | verdict here | evidence |", "| --- | --- | --- |", *rows]))
    return "\n\n".join(tables)
