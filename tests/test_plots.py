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


def test_the_tradeoff_shows_the_split_found_at_each_threshold(tmp_path):
    from dataclasses import replace

    import pandas as pd

    from netsplit.plots import tradeoff_plot
    from netsplit.records import RecordStore
    from netsplit.search import SearchConfig, SplitSearch
    from netsplit.study import tradeoff_frame
    from oracle import Oracle

    config = SearchConfig(blocks=(1, 2), factors=(2, 4))
    oracle = Oracle(config, {1: {2: 0.2, 4: 0.8}, 2: {2: 0.3, 4: 1.5}})

    def costed(job):
        record = oracle(job)
        record.params, record.macs = 1000 // sum(job.split), 10**6 // sum(job.split)
        return record

    store = RecordStore(tmp_path / "r.jsonl", config.hash)
    results = {t: SplitSearch(replace(config, threshold=t), costed, store, log=lambda line: None).run()
               for t in (2.0, 0.25, 1.0, 0.5)}
    found = tradeoff_frame(results)
    assert list(found.index) == [0.25, 0.5, 1.0, 2.0]
    assert list(found["split"]) == ["2,1,1,1,1", "2,2,1,1,1", "4,2,1,1,1", "4,4,1,1,1"]
    assert found.loc[2.0, "accuracy %"] == pytest.approx(90 - 0.8 - 1.5)
    assert found.loc[0.25, "parameters"] == 1000 // 6
    assert len(oracle.calls) == len({(tuple(job.split), job.seed) for job in oracle.calls}), "no network twice"
    comparison = pd.DataFrame({"parameters": [1000, 400], "MMACs": [1.0, 0.4], "accuracy %": [90.0, 88.0]},
                              index=pd.Index(["baseline", "proposed_I"], name="network"))
    figure = tradeoff_plot(found, comparison, "test")
    line = figure.axes[0].lines[0]
    assert list(line.get_xdata()) == list(found["parameters"]) and list(line.get_ydata()) == list(found["accuracy %"])
    labels = [text.get_text() for text in figure.axes[-1].get_legend().get_texts()]
    assert labels == ["found at threshold t (fine-tuned in the search)", "baseline (from scratch)",
                      "proposed_I (from scratch)"]
