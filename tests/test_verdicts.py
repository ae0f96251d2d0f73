"""The verdicts: each claim's test confirms, refutes, or cannot decide, on records made to say so."""

import pandas as pd
import pytest

from netsplit.complexity import EQ2_READINGS, eq2_grid
from netsplit.search.config import SearchConfig
from netsplit.errors import InputError
from netsplit.study.plots import eq2_frame
from netsplit.search.rule import BlockOutcome, Job, SearchResult
from netsplit.study.chapters import comparison_networks
from netsplit.study.verdicts import (Setting, equation_verdict, figure5_verdict, inference_verdict, memory_verdict,
                                     verdicts)
from oracle import Oracle

ACCURACIES = {"baseline": 92.7, "proposed_I": 92.0, "proposed_I, input split": 91.5, "proposed_II": 92.1,
              "naive split": 90.0, "shared split": 91.0, "found by search": 92.5}


def _table(accuracies: dict[str, float], sd: float | None, seeds: int) -> pd.DataFrame:
    """A comparison table of these mean accuracies, each from ``seeds`` seeds spread by ``sd``."""
    params = {"baseline": 100, "proposed_I": 48, "proposed_I, input split": 30, "proposed_II": 45,
              "naive split": 20, "shared split": 25, "found by search": 40}
    spread = [-1, 0, 1][:seeds] if seeds > 1 else [0]
    table = pd.DataFrame({"accuracy %": accuracies, "± sd": {n: sd for n in accuracies},
                          "accuracies": {n: [a + (sd or 0) * k for k in spread] for n, a in accuracies.items()},
                          "seeds": {n: seeds for n in accuracies}, "parameters": params,
                          "split": {n: "4,4,2,6,8" for n in accuracies}})
    table["drop (points)"] = table.loc["baseline", "accuracy %"] - table["accuracy %"]
    return table


FASHION = Setting("Fashion-MNIST", "fashion_mnist", 0.25)
CIFAR = Setting("CIFAR-10", "cifar10", 1.0)
NONE = pd.DataFrame({"accuracies": {}}).rename_axis("network")


def _found(accuracies: dict, sd: float | None = 0.1, seeds: int = 3, setting: Setting = FASHION) -> dict:
    return {v.key: v for v in verdicts("vgg16", _table(accuracies, sd, seeds), None, setting)}


def _verdicts(accuracies: dict, sd: float | None = 0.1, seeds: int = 3, setting: Setting = FASHION) -> dict[str, str]:
    return {key: v.verdict for key, v in _found(accuracies, sd, seeds, setting).items()}


def test_the_papers_number_is_not_comparable_on_other_data_and_holds_only_by_equivalence():
    found = _found(ACCURACIES)["proposed_I_drop"]
    assert found.verdict == "not comparable" and found.source == "paper"
    assert "proposed_I loses 0.70 points here" in found.evidence and "Fashion-MNIST, width 0.25" in found.evidence
    assert "(Section 4)" in found.claim and "0.61 loss of accuracy" in found.claim
    assert _verdicts({**ACCURACIES, "proposed_I": 92.09}, 0.02, setting=CIFAR)["proposed_I_drop"] == "confirmed"
    assert _verdicts({**ACCURACIES, "proposed_I": 91.5}, 0.02, setting=CIFAR)["proposed_I_drop"] == "refuted", \
        "a 1.2-point drop is not 0.61 within 0.3"
    unsettled = _found(ACCURACIES, 0.5, setting=CIFAR)["proposed_I_drop"]
    assert unsettled.verdict == "not settled" and "seeds each would" in unsettled.evidence


def test_without_significant_loss_is_non_inferiority_at_the_papers_threshold_for_both_its_splits():
    small = {**ACCURACIES, "proposed_I": 92.6, "proposed_II": 92.65}
    assert _verdicts(small, 0.05)["all_blocks"] == "confirmed", "0.1-point losses, far inside 0.5"
    assert _verdicts({**small, "proposed_II": 91.0}, 0.05)["all_blocks"] == "refuted", "1.7 points, beyond 0.5"
    assert _verdicts({**small, "proposed_I": 92.25}, 0.3)["all_blocks"] == "not settled", "0.45 within the noise of 0.5"
    evidence = _found(small, 0.05)["all_blocks"].evidence
    assert "non-inferiority, margin 0.5" in evidence and "Holm" in evidence and "detect" in evidence


def test_each_superiority_claim_and_its_refutation():
    found = _verdicts(ACCURACIES)
    assert found["naive_worst"] == "confirmed" and found["shared_beats_naive"] == "confirmed"
    assert found["proposed_I_complexity"] == "confirmed under the input-split reading only", \
        "1.92x the parameters is not slightly more"
    assert _verdicts({**ACCURACIES, "naive split": 92.5})["naive_worst"] == "refuted"
    assert _verdicts({**ACCURACIES, "shared split": 89.5})["shared_beats_naive"] == "refuted"
    assert _verdicts({**ACCURACIES, "shared split": 90.05})["shared_beats_naive"] == "not settled"
    assert _verdicts({**ACCURACIES, "proposed_I, input split": 91.05})["proposed_I_complexity"] == "not settled"
    assert set(_verdicts(ACCURACIES, None, 1).values()) == {"not testable here", "not comparable"}


def test_proposed_ii_against_proposed_i_is_the_studys_question_not_the_papers():
    found = _found(ACCURACIES)["proposed_II_rank"]
    assert found.source == "study" and found.verdict == "not settled"
    assert _verdicts({**ACCURACIES, "proposed_II": 92.6})["proposed_II_rank"] == "confirmed"
    lower = _found({**ACCURACIES, "proposed_II": 89.0})["proposed_II_rank"]
    assert lower.verdict == "refuted" and "ranks 4 of the four splits" in lower.evidence


def test_a_confirmation_that_does_not_survive_holms_adjustment_is_not_settled():
    from netsplit.study.hypotheses import holm, superiority

    borderline = superiority([92.5, 92.7, 92.3, 92.6], [92.1, 92.4, 92.0, 92.3])
    assert borderline.verdict == "confirmed" and 0.0125 < borderline.p < 0.025, "significant alone, not twice over"
    strong = superiority([93.1, 93.3, 93.2], [92.1, 92.2, 92.0])
    adjusted = holm([strong, borderline, borderline])
    assert [r.verdict for r in adjusted] == ["confirmed", "not settled", "not settled"]
    assert adjusted[1].p_holm == pytest.approx(min(1, 2 * borderline.decisive)) and "Holm" in str(adjusted[1])
    against = superiority([92.1, 92.4, 92.0, 92.3], [92.5, 92.7, 92.3, 92.6])
    assert against.verdict == "refuted", "alone, the opposite test refutes it"
    assert [r.verdict for r in holm([strong, against, against])] == ["confirmed", "not settled", "not settled"], \
        "a refutation is adjusted for multiplicity as a confirmation is"


def test_the_resnet18_claim_needs_a_gain_beyond_the_spread_of_several_seeds():
    config = SearchConfig(model="resnet18", blocks=(1,))
    records = [Oracle(config, {})(Job((2, 1, 1, 1, 1), seed, "candidate", 1, 2, 1)) for seed in (0, 1)]

    def claim(candidates: dict, seeds: int):
        outcome = BlockOutcome(1, 0.90, 0.90, candidates, 2)
        return verdicts("resnet18", NONE, SearchResult((2, 1, 1, 1, 1), [outcome], records[:seeds], 0.5), FASHION)[0]

    one = claim({2: (0.91, 0.0), 4: (0.88, 0.0)}, 1)
    assert one.verdict == "not testable here" and "+1.00 points" in one.evidence and "block 1 +1.00" in one.evidence
    assert claim({2: (0.89, 0.0)}, 1).verdict == "not testable here", "one seed settles neither way"
    assert claim({2: (0.91, 0.002)}, 2).verdict == "confirmed"
    assert claim({2: (0.91, 0.01)}, 2).verdict == "not settled", "a gain of 1 point within a spread of 1.4"
    assert claim({2: (0.88, 0.002), 4: (0.87, 0.002)}, 2).verdict == "refuted", "every split loses beyond the spread"
    unfinished = SearchResult((1, 1, 1, 1, 1), [BlockOutcome(1, 0.9, 0.9, {}, 1, skipped=(2, 4))], [], 0.5,
                              missing=(1, 2, 1, 1, 1))
    lacking = verdicts("resnet18", NONE, unfinished, FASHION)[0]
    assert lacking.verdict == "not testable here" and "needs the network 1,2,1,1,1 next" in lacking.evidence


def test_a_chapter_may_train_only_some_comparison_networks():
    names = [n.name for n in comparison_networks("vgg16", (2, 1, 1, 1, 1), ["proposed_I", "found by search"])]
    assert names == ["baseline", "proposed_I", "found by search"], "the baseline always"
    with pytest.raises(InputError, match=r"no comparison network \['proposed_III'\]; its networks are baseline"):
        comparison_networks("vgg16", None, ["proposed_III"])
    found = {v.key: v for v in verdicts("vgg16", _table(ACCURACIES, 0.1, 3).drop(index="shared split"), None, FASHION)}
    assert found["proposed_I_drop"].verdict == "not comparable", "needs only the baseline and proposed_I"
    for key in ("naive_worst", "shared_beats_naive", "proposed_I_complexity", "proposed_II_rank"):
        assert found[key].verdict == "not testable here" and "shared split" in found[key].evidence
    names = [n.name for n in comparison_networks("vgg16", (2, 1, 1, 1, 1), ["proposed_I"])]
    assert names == ["baseline", "proposed_I", "found by search"], "the chapter always shows the found split"


def test_splitting_against_thinning_by_superiority_and_by_equivalence():
    def thinning(split: list[float], thin: list[float], macs: list[float] | None = None, model: str = "vgg16") -> dict:
        rows = {"baseline": [93.0, 93.1, 92.9], "proposed_I": split, "thin: parameters of proposed_I": thin,
                "thin: MACs of proposed_I": macs or thin}
        table = pd.DataFrame({"accuracies": rows}).rename_axis("network")
        return {v.key.split("_thinning_")[1]: v for v in verdicts(model, table, None, FASHION) if "thinning" in v.key}

    better = thinning([92.0, 92.1, 91.9], [90.0, 90.2, 89.9])
    assert {k: v.verdict for k, v in better.items()} == {"params": "confirmed", "macs": "confirmed"}
    assert better["params"].source == "study" and "no control for found by search, shared split" in better["params"].evidence
    assert {v.verdict for v in thinning([90.0, 90.2, 89.9], [92.0, 92.1, 91.9]).values()} == {"refuted"}
    assert {v.verdict for v in thinning([91.0, 92.5, 90.1], [91.2, 90.4, 92.0]).values()} == {"not settled"}
    same = [92.0, 92.05, 91.95, 92.0, 92.02, 91.98, 92.01, 91.99]
    assert {v.verdict for v in thinning(same, [x + 0.01 for x in same]).values()} == {"equivalent within ±0.3"}
    assert {v.verdict for v in thinning([92.0], [90.0]).values()} == {"not testable here"}
    partly = thinning([92.0, 92.1, 91.9], [90.0, 90.2, 89.9], [91.0])
    assert partly["params"].verdict == "confirmed" and partly["macs"].verdict == "not testable here"


def test_the_equations_are_checked_against_built_blocks_and_a_wrong_count_refutes():
    frames = [eq2_frame((1, 2, 4, 6, 8), 3, 64, 64), eq2_frame((1, 2, 4, 8), 64, 128, 128)]
    found = equation_verdict(frames)
    assert found.verdict == "confirmed under the B = k reading" and found.evidence.startswith("8 of 8 built blocks")
    frames[1].loc[4, "built block"] += 9
    assert equation_verdict(frames).verdict == "refuted"


def test_figure5_holds_along_both_factors_only_when_b_is_one():
    grids = [eq2_grid(3, 64, 64, [1, 2, 4, 8], reading) for reading in EQ2_READINGS]
    found = figure5_verdict(grids)
    assert found.verdict == "confirmed under the B = 1 reading only" and "B = k: Eq. 1 unsplit, falls along k1 only" \
        in found.evidence
    grids[1].iloc[-1, -1] = grids[1].iloc[0, 0] * 2
    assert figure5_verdict(grids).verdict == "refuted"


def _savings(split: list[float], original: list[float]) -> pd.DataFrame:
    rows = [("cpu", "vgg16", size, name, saving) for size, s, o in zip((256, 512), split, original)
            for name, saving in (("proposed_I", s), ("original", o))]
    return pd.DataFrame(rows, columns=["device", "model", "input size", "network", "measured saving"]) \
        .set_index(["device", "model", "input size", "network"])


def test_memory_is_saved_only_beyond_the_originals_difference_with_itself():
    assert memory_verdict(_savings([2.9, 2.7], [0.98, 1.02])).verdict == "confirmed"
    assert memory_verdict(_savings([1.01, 2.7], [0.98, 1.02])).verdict == "not settled"
    assert memory_verdict(_savings([0.9, 0.95], [0.98, 1.02])).verdict == "refuted"


def _latency(split_ms: list[tuple[float, float]]) -> pd.DataFrame:
    """One group per (median, p10) of proposed_I, each against an unsplit network at 1.0 ms (p10 0.9 ms)."""
    rows = []
    for size, (median, p10) in enumerate(split_ms):
        group = {"model": "vgg16", "width_multiplier": 1.0, "input_size": size, "threads": 1}
        rows.append({**group, "network": "baseline", "median_ms": 1.0, "p10_ms": 0.9, "latency ratio": 1.0,
                     "MACs ratio": 1.0})
        rows.append({**group, "network": "proposed_I", "median_ms": median, "p10_ms": p10, "latency ratio": median,
                     "MACs ratio": 0.5})
    return pd.DataFrame(rows)


def test_inference_is_faster_only_beyond_the_spread_of_the_runs():
    assert inference_verdict(_latency([(0.5, 0.45), (0.6, 0.55)])).verdict == "confirmed"
    assert inference_verdict(_latency([(0.5, 0.45), (0.95, 0.85)])).verdict == "not settled"
    slower = inference_verdict(_latency([(0.5, 0.45), (1.3, 1.2)]))
    assert slower.verdict == "refuted" and "slower in 1" in slower.evidence
    noisy = _latency([(0.5, 0.45), (1.3, 1.2)]).assign(disturbed=[False, False, True, True])
    kept = inference_verdict(noisy)
    assert kept.verdict == "confirmed" and "1 disturbed group(s) left out" in kept.evidence, "the same rule drops a miss"
    noisy = _latency([(0.5, 0.45), (0.6, 0.55)]).assign(disturbed=[True, True, False, False])
    assert "faster beyond the runs' spread in 1 of 1" in inference_verdict(noisy).evidence, "and a pass"
