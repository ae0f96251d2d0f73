"""Training speed on a GPU: netsplit's training path against a plain PyTorch loop, in one run.

For VGG16 and ResNet18, unsplit and split 8,2,2,4,4, on CIFAR-sized random images: the time to the
first finished step (compilation included) and the steady epoch time (median of the epochs after
the first). Beside them, a plain PyTorch VGG16-BN loop (bf16 autocast, channels_last) on the same
images. Run with the backend meant for the GPU:

    KERAS_BACKEND=jax python benchmarks/gpu_train.py                 # 50,000 images, batch 512
    KERAS_BACKEND=jax python benchmarks/gpu_train.py --images 1024 --epochs 2 --width-multiplier 0.125   # dry run

Targets on an H100: netsplit's steady VGG16 epoch at most 0.6x the PyTorch loop's; the first
step of a new network under 10 s on average.
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import numpy as np

NETWORKS = [("vgg16", None), ("vgg16", (8, 2, 2, 4, 4)), ("resnet18", None), ("resnet18", (8, 2, 2, 4, 4))]


def netsplit_rows(images: int, epochs: int, batch: int, width: float) -> list[dict]:
    """netsplit's own training path (``netsplit.train.fit``) for each network."""
    from netsplit.data import Dataset
    from netsplit.models import split_model
    from netsplit.train import TrainConfig, fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(images, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, images)
    data = Dataset("synthetic", x, y, x[:batch], y[:batch], tuple(str(i) for i in range(10)), True, "random")
    config = TrainConfig(epochs=epochs, batch_size=batch, learning_rate=0.1, verbose=False, recalibrate_batches=0)
    rows = []
    for model, split in NETWORKS:
        build = partial(split_model, model, split, (32, 32, 3), 10, width)
        _, result = fit(build, data, config, seed=0)
        steady = result.epoch_seconds[1:] or result.epoch_seconds
        rows.append({"trainer": "netsplit", "network": f"{model} {split or 'unsplit'}",
                     "first step s": result.first_step_seconds, "epoch s": statistics.median(steady)})
    return rows


def torch_vgg16(width: float):
    from torch import nn

    layers, channels = [], 3
    for block in ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)):
        for filters in block:
            filters = max(1, round(filters * width))
            layers += [nn.Conv2d(channels, filters, 3, padding=1, bias=False), nn.BatchNorm2d(filters), nn.ReLU(inplace=True)]
            channels = filters
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 10))


def torch_row(images: int, epochs: int, batch: int, width: float) -> dict | None:
    """A plain PyTorch VGG16-BN loop on the same kind of data, or None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    model = torch_vgg16(width).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(images, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (images,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    start, first, epoch_times = time.perf_counter(), None, []
    for _ in range(epochs):
        epoch_start = time.perf_counter()
        for i in range(0, images - batch + 1, batch):
            with torch.autocast(device, dtype=torch.bfloat16):
                loss = loss_fn(model(x[i : i + batch]), y[i : i + batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if first is None:
                torch.cuda.synchronize() if device == "cuda" else None
                first = time.perf_counter() - start
        torch.cuda.synchronize() if device == "cuda" else None
        epoch_times.append(time.perf_counter() - epoch_start)
    steady = epoch_times[1:] or epoch_times
    return {"trainer": "plain PyTorch", "network": "vgg16 unsplit", "first step s": first, "epoch s": statistics.median(steady)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--width-multiplier", dest="width", type=float, default=1.0)
    args = parser.parse_args()

    import keras

    from netsplit.runtime import device_name, enable_compilation_cache

    rows = netsplit_rows(args.images, args.epochs, args.batch, args.width)
    reference = torch_row(args.images, args.epochs, args.batch, args.width)
    print(f"{args.images:,} images of 32x32x3, batch {args.batch}, {args.epochs} epochs, width {args.width:g}; "
          f"Keras {keras.__version__} on {keras.backend.backend()}, {device_name()}; "
          f"compilation cache: {enable_compilation_cache() or 'none'}")
    print(f"{'trainer':>14} {'network':>20} {'first step s':>13} {'epoch s':>9}")
    for row in rows + ([reference] if reference else []):
        print(f"{row['trainer']:>14} {row['network']:>20} {row['first step s']:>13.2f} {row['epoch s']:>9.3f}")
    mean_first = statistics.fmean(r["first step s"] for r in rows)
    print(f"mean first step over netsplit networks: {mean_first:.2f} s (target < 10 s on an H100)")
    if reference:
        ratio = rows[0]["epoch s"] / reference["epoch s"]
        print(f"netsplit VGG16 epoch / plain PyTorch epoch: {ratio:.2f} (target <= 0.6 on an H100)")
    else:
        print("PyTorch is not installed here: no reference loop")


if __name__ == "__main__":
    main()
