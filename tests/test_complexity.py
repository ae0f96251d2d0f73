"""Parameters, MACs and activation memory against hand counts and the paper's equations."""

import numpy as np
import pytest

from netsplit.complexity import analyse, eq1_params, eq2_params, first_conv_costs, total
from netsplit.layers import SplitBlock, Unit
from netsplit.models import build_model, split_model

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
    net = build_model(model, variant, split, width_multiplier=0.5, first_conv=first_conv)
    assert total(analyse(net)).params == net.count_params()


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
