"""Data loaders on real Fashion-MNIST files and on CIFAR-format and IDX files written here."""

import gzip
import pickle
import shutil
import tarfile

import keras
import numpy as np
import pytest

from netsplit.data import CIFAR10_FILES, augment, load_dataset
from netsplit.errors import DatasetError, InputError


def write_idx(path, array):
    """``array`` as a gzipped IDX file of unsigned bytes."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def fashion_folder(folder, train=20, test=10):
    """The four Fashion-MNIST files holding ``train`` and ``test`` random images and labels."""
    rng = np.random.default_rng(0)
    for part, n in (("train", train), ("t10k", test)):
        write_idx(folder / f"{part}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{part}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    return folder


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


def test_cifar10_labels_must_name_its_ten_classes(tmp_path):
    for name in CIFAR10_FILES:
        batch = {b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 10 if name == "test_batch" else 9, 2]}
        (tmp_path / name).write_bytes(pickle.dumps(batch))
    with pytest.raises(DatasetError, match=r"test_batch: 1 of 3 labels are outside 0 to 9, such as 10; the 10 classes"):
        load_dataset("cifar10", path=tmp_path)


def test_fashion_mnist_from_small_files(tmp_path):
    data = load_dataset("fashion_mnist", path=fashion_folder(tmp_path))
    assert data.x_train.shape == (20, 32, 32, 1) and data.x_test.shape == (10, 32, 32, 1)
    assert data.y_test.dtype == np.int64 and data.source == str(tmp_path)


def test_fashion_mnist_test_labels_must_be_one_per_test_image(tmp_path):
    folder = fashion_folder(tmp_path, train=1200)
    shutil.copy(folder / "train-labels-idx1-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte.gz holds 1,200 labels but "
                                           r"t10k-images-idx3-ubyte.gz 10 images; each image needs one label"):
        load_dataset("fashion_mnist", path=folder)


def bad_idx(folder, case):
    """Fashion-MNIST files with one file broken as ``case`` says."""
    images, labels = folder / "t10k-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz"
    if case == "labels as images":
        shutil.copy(folder / "t10k-labels-idx1-ubyte.gz", images)
    elif case == "truncated":
        images.write_bytes(gzip.compress(gzip.decompress(images.read_bytes())[:-28 * 28]))  # one image short
    elif case == "32x32":
        write_idx(images, np.zeros((10, 32, 32)))
    elif case == "label 10":
        write_idx(labels, np.arange(20) % 11)
    elif case == "corrupt gzip":
        labels.write_bytes(gzip.compress(b"")[:10] + bytes([7]) + bytes(20))  # a deflate block of reserved type
    return folder


@pytest.mark.parametrize("case,message", [
    ("labels as images", r"t10k-images-idx3-ubyte.gz is not an IDX file of 28x28 images: it should start with "
                         r"00000803 and 3 four-byte sizes, but starts with 00000801"),
    ("truncated", r"t10k-images-idx3-ubyte.gz holds 7,056 bytes of data but its header announces 10 28x28 images "
                  r"\(7,840 bytes\); the file is truncated or corrupt"),
    ("32x32", r"t10k-images-idx3-ubyte.gz holds items of 32x32, not 28x28 images"),
    ("label 10", r"train-labels-idx1-ubyte.gz: 1 of 20 labels are outside 0 to 9, such as 10; the 10 classes are"),
    ("corrupt gzip", r"train-labels-idx1-ubyte.gz is not a gzipped IDX file \(.*invalid block type"),
])
def test_fashion_mnist_bad_idx_files_name_the_file(tmp_path, case, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset("fashion_mnist", path=bad_idx(fashion_folder(tmp_path), case))


@pytest.mark.parametrize("sizes,labels,message", [
    ((20, 20, 10, 12), 10, r"keras download: y_test holds 12 labels but x_test 10 images; each image needs one label"),
    ((0, 0, 10, 10), 10, r"keras download: the training set is empty \(x_train holds no images\)"),
    ((20, 20, 0, 0), 10, r"keras download: the test set is empty \(x_test holds no images\)"),
    ((20, 20, 10, 10), 12, r"keras download: y_train: 2 of 20 labels are outside 0 to 9, such as 10"),
])
def test_load_dataset_checks_what_any_source_returns(monkeypatch, tmp_path, sizes, labels, message):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (n, 28, 28), np.uint8) if i % 2 == 0 else np.arange(n, dtype=np.uint8) % labels
              for i, n in enumerate(sizes)]
    monkeypatch.setattr("netsplit.data.FASHION_DEBIAN", tmp_path / "none")
    monkeypatch.delenv("NETSPLIT_FASHION_MNIST", raising=False)
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: (tuple(arrays[:2]), tuple(arrays[2:])))
    with pytest.raises(DatasetError, match=message):
        load_dataset("fashion_mnist")


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


def test_grey_images_for_a_colour_network_are_standardised_as_grey(fashion_dir):
    """Each colour channel is the grey image standardised by the grey statistics, exact to float32."""
    grey = load_dataset("fashion_mnist", 4000, 500, validation_size=200, image_shape=(32, 32, 1))
    colour = load_dataset("fashion_mnist", 4000, 500, validation_size=200, image_shape=(32, 32, 3))
    for many, one in ((colour.x_train, grey.x_train), (colour.x_test, grey.x_test), (colour.x_val, grey.x_val)):
        np.testing.assert_array_equal(many, np.repeat(one, 3, axis=-1))
    assert colour.pixel_mean == grey.pixel_mean * 3 and colour.pixel_std == grey.pixel_std * 3
    pixels = colour.x_train[..., 0].astype(np.float64) * colour.pixel_std[0] + colour.pixel_mean[0]
    assert pixels.std() == pytest.approx(colour.pixel_std[0], rel=1e-4), "the deviation of the pixels themselves"


@pytest.mark.parametrize("size", [0, -5, 60000, 2.5, True])
def test_bad_validation_size(size):
    with pytest.raises(ValueError, match="validation_size must be an integer"):
        load_dataset("synthetic", validation_size=size)


def test_the_input_spec_turns_raw_pixels_into_what_the_network_trained_on():
    import numpy as np

    from netsplit.data import _synthetic, load_dataset

    data = load_dataset("synthetic", seed=3)
    spec = data.input_spec()
    raw = _synthetic(3)[0][0][0]  # the first training image as read, 0 to 255
    standardised = (raw / 255 - np.array(spec["mean"])) / np.array(spec["std"])
    np.testing.assert_allclose(standardised, data.x_train[0], atol=1e-4)
    assert spec["data_hash"] == data.content


@pytest.mark.parametrize("sizes,message", [
    ({"train_size": 600}, "train_size 600 is more than the 512 training images; give at most 512"),
    ({"train_size": 500, "validation_size": 40},
     "train_size 500 is more than the 472 training images left after 40 held out for validation"),
    ({"test_size": 129}, "test_size 129 is more than the 128 test images; give at most 128"),
])
def test_a_subset_larger_than_the_data_is_refused_not_shrunk(sizes, message):
    with pytest.raises(InputError, match=message):
        load_dataset("synthetic", **sizes)
    assert len(load_dataset("synthetic", train_size=512).x_train) == 512, "all of them, asked for exactly"
