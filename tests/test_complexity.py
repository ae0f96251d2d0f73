"""Parameters, MACs and activation memory against hand counts and the paper's equations; the method and
complexity chapters that show them."""

import json
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from netsplit.complexity import EQ2_READINGS, analyse, eq1_params, eq2_grid, eq2_params, first_conv_costs, total
from netsplit.errors import InputError
from netsplit.blocks import Unit, split_widths
from netsplit.layers import SplitBlock
from netsplit.models import build_model, split_model
from netsplit.study.plots import block_kernel_weights, eq2_heatmaps

VGG16 = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]


def test_paper_equations():
    assert eq1_params(3, 64, 64) == 38_592
    assert eq2_params(3, 64, 64, 8, 8) == 6_336
    assert eq2_params(3, 64, 64, 1, 1) == eq1_params(3, 64, 64)


@pytest.mark.parametrize("l0,l1,l2", [(3, 64, 64), (64, 128, 128), (16, 32, 48)])
@pytest.mark.parametrize("k", [1, 2, 4, 8, 16])
def test_equations_match_built_two_layer_blocks(l0, l1, l2, k):
    block = SplitBlock([Unit("conv", l1), Unit("conv", l2)], factor=k, implementation="branches")
    block.build((None, 8, 8, l0))
    kernels = sum(int(np.prod(conv.kernel.shape)) for conv in block.convs)
    assert kernels == eq2_params(l0, l1, l2, k, k)
    if k == 1:
        assert kernels == eq1_params(l0, l1, l2)


@pytest.mark.parametrize("model,variant,split,first_conv", [
    ("vgg16", "proposed", None, "whole"), ("vgg16", "proposed", (8, 2, 2, 4, 4), "whole"),
    ("resnet18", "proposed", (6, 6, 6, 6, 6), "whole"), ("vgg16", "naive", None, "whole"),
    ("vgg16", "shared", None, "whole"), ("resnet18", "naive", None, "whole"),
    ("vgg16", "proposed", (8, 2, 2, 4, 4), "share"), ("resnet18", "proposed", (6, 6, 6, 6, 6), "share"),
    ("vgg16", "shared", None, "share"),
])
def test_totals_equal_keras_parameter_count(model, variant, split, first_conv):
    net = build_model(model, variant, split, width_multiplier=0.5, first_conv=first_conv, implementation="branches")
    assert total(analyse(net)).params == net.count_params()
    fast = build_model(model, variant, split, width_multiplier=0.5, first_conv=first_conv)  # masked blocks store zeros
    assert total(analyse(fast)).params == sum(layer.count_params() for layer in fast.layers) <= fast.count_params()


def test_macs_of_the_ordinary_vgg16_by_hand():
    size, channels, expected = 32, 3, 0
    for block in VGG16:
        for filters in block:
            expected += size * size * 9 * channels * filters
            channels = filters
        size //= 2
    expected += 512 * 10
    assert total(analyse(split_model("vgg16"))).macs == expected


def test_macs_of_a_split_first_block_by_hand():
    full = analyse(split_model("vgg16"))
    split = analyse(split_model("vgg16", (8, 1, 1, 1, 1)))
    block1 = 32 * 32 * 9 * (3 * 64 + 8 * 8 * 8)
    fusion = 16 * 16 * 64 * 64
    assert split[0].macs == block1 + fusion
    assert [c.macs for c in split[1:]] == [c.macs for c in full[1:]]


@pytest.mark.parametrize("first_conv,reads", [("whole", 64), ("share", 32)])
def test_macs_of_a_split_second_block_by_hand(first_conv, reads):
    full = analyse(split_model("vgg16"))
    split = analyse(split_model("vgg16", (1, 2, 1, 1, 1), first_conv=first_conv))
    block2 = 16 * 16 * 9 * 2 * (reads * 64 + 64 * 64)
    fusion = 8 * 8 * 128 * 128
    assert split[1].macs == block2 + fusion
    assert [c.macs for i, c in enumerate(split) if i != 1] == [c.macs for i, c in enumerate(full) if i != 1]


def test_first_conv_costs_of_proposed_i_by_hand():
    """What the input share saves: 1 - 1/K of each first kernel in blocks 2 to 5 (block 1 reads 3 < 8 channels)."""
    costs = first_conv_costs()
    assert costs["unsplit"].params == 14_732_490
    first_convs = [(16, 64, 128, 2), (8, 128, 256, 2), (4, 256, 512, 4), (2, 512, 512, 4)]  # side, C, W, K
    saved = [9 * c * w * (k - 1) // k for _, c, w, k in first_convs]
    whole, share = costs["split, whole input"], costs["split, input share"]
    assert whole.params - share.params == sum(saved) == 2_838_528
    assert whole.macs - share.macs == sum(side * side * s for (side, *_), s in zip(first_convs, saved))
    assert share.params < whole.params < costs["unsplit"].params


def test_activation_memory_by_hand():
    """VGG16 block 1 at 32x32, float32, batch 1."""
    unsplit = analyse(split_model("vgg16"))[0]
    assert unsplit.memory_layerwise == unsplit.memory_branchwise == 2 * 32 * 32 * 64 * 4
    split = analyse(split_model("vgg16", (8, 1, 1, 1, 1)))[0]
    # last branch: block input + 7 pooled branches + its own two 8-channel maps
    assert split.memory_branchwise == (32 * 32 * 3 + 7 * 16 * 16 * 8 + 2 * 32 * 32 * 8) * 4
    assert split.memory_layerwise == unsplit.memory_layerwise


def test_branch_by_branch_needs_less_memory_as_inputs_grow():
    original = split_model("vgg16")
    split = split_model("vgg16", (8, 8, 8, 8, 8))
    for size in (256, 2048):
        layerwise = total(analyse(original, size)).memory_layerwise
        branchwise = total(analyse(split, size)).memory_branchwise
        assert branchwise < layerwise / 3
    assert total(analyse(original, 64)).memory_layerwise == 4 * total(analyse(original, 32)).memory_layerwise


def test_eq2_under_both_readings_of_b_by_hand():
    """B = k (branches): 9 (3*64 + 64*64/k1), k2 cancels; B = 1 (one branch): 9 (3*64/k1 + 64*64/(k1 k2))."""
    assert eq2_params(3, 64, 64, 8, 8, reading="branches") == 9 * (192 + 512) == 6_336
    assert eq2_params(3, 64, 64, 2, 8) == eq2_params(3, 64, 64, 2, 1) == 9 * (192 + 2048) == 20_160
    assert eq2_params(3, 64, 64, 8, 8, reading="one branch") == 9 * (24 + 64) == 792
    assert eq2_params(3, 64, 64, 2, 4, reading="one branch") == 9 * (96 + 512) == 5_472
    for reading in EQ2_READINGS:
        assert eq2_params(3, 64, 64, 1, 1, reading=reading) == eq1_params(3, 64, 64)
    with pytest.raises(InputError, match="readings are branches, one branch"):
        eq2_params(3, 64, 64, 2, 2, reading="groups")


def test_eq2_grid_has_a_row_per_k2_and_a_column_per_k1():
    branches = eq2_grid(3, 64, 64, (1, 2, 4, 8))
    one = eq2_grid(3, 64, 64, (1, 2, 4, 8), "one branch")
    assert branches.index.name == "k2" and branches.columns.name == "k1" and branches.attrs["reading"] == "branches"
    assert list(branches.loc[4]) == [38_592, 20_160, 10_944, 6_336], "varies with k1 only"
    assert (branches.nunique(axis=0) == 1).all(), "constant along k2"
    assert one.loc[4, 2] == 5_472 and one.loc[1, 1] == one.loc[1, 1] == 38_592 and one.loc[8, 8] == 792


def test_built_blocks_depart_from_eq2_where_k_does_not_divide_the_widths():
    """128 filters in 6 branches: 22, 22, 21, 21, 21, 21; the second conv holds 2*22^2 + 4*21^2 = 2,732
    kernels where Eq. 2 counts 128*128/6 = 2,730.7; the first keeps 64*128 whatever K is."""
    assert split_widths(128, 6) == [22, 22, 21, 21, 21, 21]
    assert block_kernel_weights(64, 128, 128, 6) == 9 * (64 * 128 + 2_732) == 98_316
    assert eq2_params(64, 128, 128, 6, 6) == pytest.approx(9 * (64 * 128 + 128 * 128 / 6)) == 98_304


def test_fig5_heatmaps_label_every_cell_with_its_count():
    grids = [eq2_grid(3, 8, 8, (1, 2, 4), reading) for reading in EQ2_READINGS]
    figure = eq2_heatmaps(grids)
    heatmaps = [ax for ax in figure.axes if ax.images]
    assert [ax.get_title() for ax in heatmaps] == list(EQ2_READINGS.values())
    for ax, grid in zip(heatmaps, grids):
        assert ax.get_xlabel().startswith("k1") and ax.get_ylabel().startswith("k2")
        assert [t.get_text() for t in ax.texts] == [f"{v:,.0f}" for v in grid.to_numpy().ravel()]
    assert "convolution weights" in figure.axes[-1].get_ylabel(), "the colour bar says what it measures"


# The method and complexity chapters, executed as the book publishes them (outside the repository).

def glued(cells: list, key: str):
    """The value an executed notebook's ``cells`` glued under ``key``."""
    for cell in cells:
        for output in cell.get("outputs", []):
            if output.get("metadata", {}).get("scrapbook", {}).get("name") == key:
                return eval(output["data"]["application/papermill.record/text/plain"])
    raise KeyError(key)


def html_tables(cells: list) -> list[str]:
    return [re.sub(r"<style.*?</style>", "", "".join(output["data"]["text/html"]), flags=re.S)
            for cell in cells for output in cell.get("outputs", []) if "text/html" in output.get("data", {})]


@pytest.fixture(scope="module")
def chapters(tmp_path_factory) -> dict[str, list]:
    """The cells of the method and complexity chapters executed under the published profile."""
    from netsplit.study.reproduce import load_profiles, reproduce

    profile = load_profiles()["published"]["profile"]
    paths = reproduce(profile, notebooks=["method", "complexity"], output_dir=tmp_path_factory.mktemp("chapters"))
    return {path.stem: json.loads(path.read_text())["cells"] for path in paths}


@pytest.mark.slow
def test_the_method_chapter_says_where_each_profile_decides(chapters):
    from netsplit.study.reproduce import declared_parameters, load_profiles, notebook_parameters, notebook_source

    profiles = load_profiles()
    declared = declared_parameters(notebook_source("vgg16"))
    held_out = {name: notebook_parameters(name, "vgg16", declared, None, {}, profiles).get("validation_size")
                for name in profiles if name != "published"}
    published = profiles["published"]["profile"]
    assert glued(chapters["method"], "published_profile") == published
    assert glued(chapters["method"], "published_validation") == held_out[published] > 0
    listed = re.split(r", | and ", glued(chapters["method"], "test_set_profiles"))
    assert listed == [name for name, size in held_out.items() if not size]
    text = "".join("".join(c["source"]) for c in chapters["method"] if c["cell_type"] == "markdown")
    decisions = re.search(r"\*\*Where decisions are made\.\*\*(.*?)\n\n", text, re.S).group(1)
    assert "does not set it" not in decisions and "{glue:text}`published_validation:,d`" in decisions


@pytest.mark.slow
def test_the_method_chapter_shows_where_built_blocks_depart_from_eq2(chapters):
    cells = chapters["method"]
    k = glued(cells, "uneven_factor")
    assert 128 % k and glued(cells, "uneven_built") == block_kernel_weights(64, 128, 128, k)
    assert glued(cells, "uneven_eq2") == pytest.approx(eq2_params(64, 128, 128, k, k))
    assert glued(cells, "uneven_built") != glued(cells, "uneven_eq2")
    text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "at\nevery K" not in text and "at every K" not in text


@pytest.mark.slow
def test_the_method_chapter_draws_fig5_under_both_readings(chapters):
    cells = chapters["method"]
    for reading in EQ2_READINGS:
        key = f"fig5_{reading.replace(' ', '_')}_8"
        assert glued(cells, key) == eq2_params(3, 64, 64, 8, 8, reading=reading)
    assert any("eq2_heatmaps(" in "".join(c["source"]) for c in cells)


@pytest.mark.slow
@pytest.mark.parametrize("chapter", ["method", "complexity"])
def test_tables_print_each_column_with_one_precision_and_no_float_noise(chapters, chapter):
    tables = html_tables(chapters[chapter])
    assert tables
    for table in tables:
        body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
        rows = [re.findall(r"<t([hd])[^>]*>(.*?)</t[hd]>", row, re.S)
                for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
        for cells in rows:
            for _, cell in cells:
                assert not re.fullmatch(r"-?[\d,]*\.\d{4,}", cell.strip()), f"float noise: {cell}"
                if re.fullmatch(r"-?\d{5,}(\.\d+)?", cell.strip()):
                    pytest.fail(f"a large count without thousands separators: {cell}")
        data = [[cell.strip() for kind, cell in cells if kind == "d"] for cells in rows]
        for column in zip(*data):
            decimals = {len(c.split(".")[1].rstrip("%")) if "." in c else 0
                        for c in column if re.fullmatch(r"-?[\d,]*\.?\d+%?", c)}
            assert len(decimals) <= 1, f"a column printed with {sorted(decimals)} decimals: {column}"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", ["method", "complexity"])
def test_figures_are_vector_graphics_and_no_warning_reaches_the_chapter(chapters, chapter):
    cells = chapters[chapter]
    assert not any("filterwarnings" in "".join(c["source"]) for c in cells)
    images = [o["data"] for c in cells for o in c.get("outputs", [])
              if any(k.startswith("image/") for k in o.get("data", {}))]
    assert images and all("image/svg+xml" in data and "image/png" not in data for data in images)
    for cell in cells:
        for output in cell.get("outputs", []):
            if output.get("name") == "stderr":
                assert not re.search(r"\w+Warning\b", "".join(output["text"])), "".join(output["text"])
                assert "remove-stderr" in cell["metadata"].get("tags", []), "".join(output["text"])
