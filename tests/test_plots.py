"""The figures' data: Eq. 2 against the factor, counted from built blocks."""

import matplotlib

matplotlib.use("Agg")

import pytest

from netsplit.complexity import eq1_params, eq2_params
from netsplit.study.plots import block_kernel_weights, eq2_frame, eq2_plot


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


def _tradeoff(tmp_path, thresholds=(2.0, 0.25, 1.0, 0.5, 5.0)):
    from dataclasses import replace

    from netsplit.search.config import SearchConfig
    from netsplit.records import RecordStore
    from netsplit.search.rule import SplitSearch
    from netsplit.study.chapters import tradeoff_frame
    from oracle import Oracle

    config = SearchConfig(blocks=(1, 2), candidate_factors=(2, 4))
    oracle = Oracle(config, {1: {2: 0.2, 4: 0.8}, 2: {2: 0.3, 4: 1.5}})

    def costed(job):
        record = oracle(job)
        record.params, record.macs = 1000 // sum(job.split), 10**6 // 3 // sum(job.split)
        return record

    store = RecordStore(tmp_path / "r.jsonl", config.hash)
    results = {t: SplitSearch(replace(config, threshold=t), costed, store, log=lambda line: None).run()
               for t in thresholds}
    return tradeoff_frame(results), oracle


def test_the_tradeoff_shows_the_split_found_at_each_threshold(tmp_path):
    from netsplit.study.chapters import tradeoff_display

    found, oracle = _tradeoff(tmp_path)
    assert list(found.index) == [0.25, 0.5, 1.0, 2.0, 5.0]
    assert list(found["split"]) == ["2,1,1,1,1", "2,2,1,1,1", "4,2,1,1,1", "4,4,1,1,1", "4,4,1,1,1"]
    assert found.loc[2.0, "accuracy %"] == pytest.approx(90 - 0.8 - 1.5)
    assert found.loc[0.25, "parameters"] == 1000 // 6 and found.loc[0.25, "MMACs"] == 10**6 // 3 // 6 / 1e6
    assert list(found["epochs"]) == [13, 16, 16, 16, 16], "10 from scratch, then 3 for each block fine-tuned"
    assert found.attrs["unsplit"] == {"accuracy %": 90.0, "epochs": 10, "parameters": 200, "MMACs": 10**6 // 3 // 5 / 1e6}
    assert len(oracle.calls) == len({(tuple(job.split), job.seed) for job in oracle.calls}), "no network twice"
    shown = tradeoff_display(found).to_html()
    assert ">0.25</th>" in shown and "0.250000" not in shown, "thresholds as written"
    assert ">0.06</td>" in shown and ">0.10</td>" not in shown, "MMACs rounded once (0.0555…), not to 0.1 first"


def test_the_tradeoff_figure_keeps_search_and_scratch_accuracies_apart_and_its_labels_clear(tmp_path):
    import itertools

    import pandas as pd

    from netsplit.study.plots import tradeoff_plot

    found, _ = _tradeoff(tmp_path)
    comparison = pd.DataFrame({"parameters": [200, 120, 100, 140], "MMACs": [0.07, 0.04, 0.03, 0.05],
                               "accuracy %": [90.0, 88.0, 87.9, 88.1], "± sd": [0.1, 0.3, 0.2, 0.1], "seeds": 3},
                              index=pd.Index(["baseline", "proposed_I", "naive split", "found by search"], name="network"))
    figure = tradeoff_plot(found, comparison, "test")
    searched, scratch = figure.axes
    line = searched.lines[0]
    assert list(line.get_xdata()) == list(found["parameters"]) and list(line.get_ydata()) == list(found["accuracy %"])
    assert "fine-tuned" in searched.get_title() and "13–16 epochs" in searched.get_title()
    assert "from scratch" in scratch.get_title() and "3 seeds" in scratch.get_title()
    from matplotlib.collections import PathCollection

    points = [tuple(o) for c in scratch.collections if isinstance(c, PathCollection) for o in c.get_offsets()]
    assert points == list(zip(comparison["parameters"], comparison["accuracy %"])) and not scratch.lines, \
        "the networks trained from scratch, and nothing the search fine-tuned, on the right"
    labels = {ax: [t for t in ax.texts] for ax in figure.axes}
    assert sorted(t.get_text() for t in labels[searched]) == ["t=0.25: 2,1,1,1,1", "t=0.5: 2,2,1,1,1",
                                                             "t=1: 4,2,1,1,1", "t=2, 5: 4,4,1,1,1", "unsplit\n(10 epochs)"]
    assert [t.get_text() for t in labels[scratch]] == list(comparison.index)
    renderer = figure.canvas.get_renderer()
    for ax, points in ((searched, [*zip(found["parameters"], found["accuracy %"]), (200, 90.0)]),
                       (scratch, list(zip(comparison["parameters"], comparison["accuracy %"])))):
        boxes = [t.get_window_extent(renderer) for t in labels[ax]]
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b), "two labels overlap"
        for x, y in ax.transData.transform(points):
            assert not any(b.x0 - 3 < x < b.x1 + 3 and b.y0 - 3 < y < b.y1 + 3 for b in boxes), "a label covers a point"
        frame = ax.get_window_extent(renderer)
        assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)


def test_the_search_trend_names_the_accuracy_it_decided_on_and_titles_its_legends(tmp_path):
    import matplotlib.pyplot as plt

    from netsplit.search.config import SearchConfig
    from netsplit.study.plots import search_frame, search_trend
    from netsplit.records import RecordStore
    from netsplit.search.rule import SplitSearch
    from oracle import Oracle

    for validation_size, accuracy in ((100, "validation accuracy"), (None, "test accuracy")):
        config = SearchConfig(blocks=(1, 2), candidate_factors=(2, 4), validation_size=validation_size)
        oracle = Oracle(config, {1: {2: 0.2, 4: 0.8}}, validation=validation_size is not None)
        store = RecordStore(tmp_path / f"{validation_size}.jsonl", config.hash)
        result = SplitSearch(config, oracle, store, log=lambda line: None).run()
        fig, ax = plt.subplots()
        search_trend(search_frame(result), 0.5, "test", ax)
        assert ax.get_ylabel() == f"drop in {accuracy}\n(percentage points)"
        legends = [a for a in ax.get_children() if isinstance(a, plt.matplotlib.legend.Legend)]
        assert sorted(legend.get_title().get_text() for legend in legends) == ["block", "the rule"]
        plt.close(fig)


def test_the_thinning_plot_joins_the_unsplit_networks_and_labels_the_split_ones():
    import numpy as np
    import pandas as pd

    from netsplit.study.plots import thinning_plot

    table = pd.DataFrame({
        "accuracy %": [92.0, 91.0, 90.0, 91.5], "low 95": [91.8, 90.6, 89.7, 91.0], "high 95": [92.2, 91.4, 90.3, 92.0],
        "parameters": [1000, 400, 200, 410], "MMACs": [10.0, 4.0, 2.0, 6.0],
    }, index=pd.Index(["baseline", "thin: parameters of proposed_I", "thin: MACs of proposed_I", "proposed_I"],
                      name="network"))
    figure = thinning_plot(table, "title")
    for ax, column in zip(figure.axes, ("parameters", "MMACs")):
        thin_line = next(line for line in ax.lines if line.get_linestyle() == "-")
        expected = table.drop("proposed_I").sort_values(column)
        np.testing.assert_array_equal(thin_line.get_xdata(), expected[column])
        assert [text.get_text() for text in ax.texts] == ["proposed_I"]
        [band] = ax.collections[:1]  # the unsplit curve's 95 % interval
        bounds = band.get_paths()[0].vertices[:, 1]
        assert bounds.min() == pytest.approx(89.7) and bounds.max() == pytest.approx(92.2)
        [bar] = [c for c in ax.containers if hasattr(c, "has_yerr") and c.has_yerr]
        low, high = bar.lines[2][0].get_segments()[0][:, 1]
        assert (low, high) == pytest.approx((91.0, 92.0)), "the split network's own 95 % interval"
