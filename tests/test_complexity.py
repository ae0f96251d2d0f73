"""Parameters, MACs and activation memory against hand counts and the paper's equations."""

import numpy as np
import pytest

from netsplit.complexity import analyse, eq1_params, eq2_params, total
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


@pytest.mark.parametrize("model,variant,split", [
    ("vgg16", "proposed", None), ("vgg16", "proposed", (8, 2, 2, 4, 4)), ("resnet18", "proposed", (6, 6, 6, 6, 6)),
    ("vgg16", "naive", None), ("vgg16", "shared", None), ("resnet18", "naive", None),
])
def test_totals_equal_keras_parameter_count(model, variant, split):
    net = build_model(model, variant, split, width_multiplier=0.5)
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
