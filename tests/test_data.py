"""Data loaders on real Fashion-MNIST files and on CIFAR-format archives written here."""

import tarfile

import numpy as np
import pytest

from netsplit.data import DatasetError, augment, load_dataset


def test_cifar10_from_archive(cifar_archive):
    path, images, labels = cifar_archive
    data = load_dataset("cifar10", path=path)
    assert data.x_train.shape == (100, 32, 32, 3) and data.x_test.shape == (10, 32, 32, 3)
    np.testing.assert_array_equal(data.y_train, np.concatenate(labels[:5]))
    np.testing.assert_array_equal(data.y_test, labels[5])
    raw = np.concatenate(images[:5]).astype("float32") / 255
    mean, std = raw.mean(axis=(0, 1, 2)), raw.std(axis=(0, 1, 2))
    np.testing.assert_allclose(data.x_train * std + mean, raw, atol=1e-4)  # pixel order kept
    assert data.class_names[0] == "airplane" and data.title == "CIFAR-10"


def test_cifar10_from_folder_and_environment(cifar_archive, tmp_path, monkeypatch):
    path, _, _ = cifar_archive
    with tarfile.open(path) as archive:
        archive.extractall(tmp_path, filter="data")
    from_folder = load_dataset("cifar10", path=tmp_path)
    monkeypatch.setenv("NETSPLIT_CIFAR10", str(tmp_path / "cifar-10-batches-py"))
    from_env = load_dataset("cifar10")
    np.testing.assert_array_equal(from_folder.x_train, load_dataset("cifar10", path=path).x_train)
    np.testing.assert_array_equal(from_env.x_test, from_folder.x_test)


def test_cifar10_errors_name_what_and_where(tmp_path, cifar_archive):
    with pytest.raises(DatasetError, match="no CIFAR-10 data at .*nowhere"):
        load_dataset("cifar10", path=tmp_path / "nowhere")
    corrupt = tmp_path / "cifar-10-python.tar.gz"
    corrupt.write_bytes(b"not a tar archive at all")
    with pytest.raises(DatasetError, match="not a readable cifar-10-python.tar.gz"):
        load_dataset("cifar10", path=corrupt)
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "data_batch_1").write_bytes(b"")
    with pytest.raises(DatasetError, match="lacks data_batch_2"):
        load_dataset("cifar10", path=partial)
    for name in ["data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]:
        (partial / name).write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="data_batch_1 is not a CIFAR-10 python batch"):
        load_dataset("cifar10", path=partial)


def test_fashion_mnist_real_files(fashion_dir):
    data = load_dataset("fashion_mnist", path=fashion_dir)
    assert data.x_train.shape == (60_000, 32, 32, 1) and data.x_test.shape == (10_000, 32, 32, 1)
    assert np.bincount(data.y_train).tolist() == [6000] * 10
    border = np.concatenate([data.x_train[:, :2].ravel(), data.x_train[:, :, :2].ravel()])
    assert np.all(border == data.x_train.min()), "2 pixels of zero padding on each side"
    assert abs(float(data.x_train.mean())) < 1e-3 and abs(float(data.x_train.std()) - 1) < 1e-2
    assert data.title == "Fashion-MNIST"


def test_fashion_mnist_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="no Fashion-MNIST files in .*expected train-images-idx3-ubyte.gz"):
        load_dataset("fashion_mnist", path=tmp_path)


def test_subsets_are_seeded(fashion_dir):
    a = load_dataset("fashion_mnist", 300, 100, seed=1, path=fashion_dir)
    b = load_dataset("fashion_mnist", 300, 100, seed=1, path=fashion_dir)
    c = load_dataset("fashion_mnist", 300, 100, seed=2, path=fashion_dir)
    assert len(a.x_train) == 300 and len(a.x_test) == 100
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.y_train, c.y_train)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="valid datasets are cifar10, fashion_mnist, synthetic"):
        load_dataset("imagenet")


def test_augment_is_a_padded_random_crop_and_flip():
    images = np.random.default_rng(0).normal(size=(6, 32, 32, 3)).astype("float32")
    out = augment(images, np.random.default_rng(5), flip=False)
    draws = np.random.default_rng(5)
    dy, dx = draws.integers(0, 9, 6), draws.integers(0, 9, 6)
    padded = np.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0)))
    for i in range(6):
        np.testing.assert_array_equal(out[i], padded[i, dy[i] : dy[i] + 32, dx[i] : dx[i] + 32])
    flipped = augment(images, np.random.default_rng(5), flip=True)
    mirrored = [np.array_equal(flipped[i], out[i][:, ::-1]) for i in range(6)]
    assert any(mirrored) and not all(mirrored)


def test_validation_images_are_held_out_of_training(fashion_dir):
    full = load_dataset("fashion_mnist", seed=3, validation_size=500)
    small = load_dataset("fashion_mnist", train_size=1000, seed=3, validation_size=500)
    assert full.x_val.shape == (500, 32, 32, 1) and len(full.x_train) == 60000 - 500
    np.testing.assert_array_equal(full.y_val, small.y_val)  # the same images, whatever the subset
    train = {image.tobytes() for image in full.x_train}
    assert sum(image.tobytes() in train for image in full.x_val) < 5, "no held-out image is trained on"
    assert load_dataset("fashion_mnist", train_size=1000, seed=3).x_val is None


@pytest.mark.parametrize("size", [0, -5, 60000, 2.5, True])
def test_bad_validation_size(size):
    with pytest.raises(ValueError, match="validation_size must be an integer"):
        load_dataset("synthetic", validation_size=size)
