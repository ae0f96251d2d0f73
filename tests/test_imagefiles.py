"""Your own data: folders of class folders and .npz files, written here as small images."""

import numpy as np
import pytest
from PIL import Image

from netsplit.data import load_dataset
from netsplit.errors import DatasetError

RNG = np.random.default_rng(7)


def write_images(folder, classes=("cat", "dog"), per_class=5, size=(12, 10), mode="RGB"):
    """``per_class`` PNGs per class; each class has its own brightness, so labels can be checked."""
    for label, name in enumerate(classes):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
            pixels = np.full(shape, 40 + 100 * label, np.uint8) + RNG.integers(0, 20, shape, dtype=np.uint8)
            Image.fromarray(pixels, mode).save(folder / name / f"{i}.png")
    return folder


def test_folder_holds_out_a_fixed_fifth_of_each_class_as_test_set(tmp_path):
    write_images(tmp_path / "pets", per_class=10)
    data = load_dataset(f"folder:{tmp_path / 'pets'}")
    assert data.class_names == ("cat", "dog") and data.input_shape == (10, 12, 3)
    assert np.bincount(data.y_train).tolist() == [8, 8] and np.bincount(data.y_test).tolist() == [2, 2]
    brightness = data.x_train.mean(axis=(1, 2, 3))
    assert np.all((brightness > 0) == (data.y_train == 1)), "labels follow the class folders"
    again = load_dataset(f"folder:{tmp_path / 'pets'}", seed=3)
    np.testing.assert_array_equal(again.y_test, data.y_test)
    assert data.title == "images of pets/" and not data.flip


def test_folder_with_train_and_test_folders_and_resizing_to_the_network(tmp_path):
    write_images(tmp_path / "d" / "train", per_class=4, size=(40, 30), mode="L")
    write_images(tmp_path / "d" / "test", per_class=2, size=(20, 20), mode="L")
    data = load_dataset(f"folder:{tmp_path / 'd'}", image_shape=(32, 32, 1), validation_size=2)
    assert data.x_train.shape == (6, 32, 32, 1) and data.x_test.shape == (4, 32, 32, 1)
    assert data.x_val.shape == (2, 32, 32, 1)
    assert load_dataset(f"folder:{tmp_path / 'd'}", image_shape=(16, 16, 3)).input_shape == (16, 16, 3)


def test_npz_file_with_resizing_and_grey_to_colour(tmp_path):
    path = tmp_path / "digits.npz"
    x = RNG.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    np.savez(path, x_train=x[:20], y_train=np.arange(20) % 3, x_test=x[20:], y_test=(np.arange(10) % 3)[:, None])
    data = load_dataset(f"npz:{path}", image_shape=(32, 32, 3), train_size=12)
    assert data.x_train.shape == (12, 32, 32, 3) and data.x_test.shape == (10, 32, 32, 3)
    assert data.class_names == ("0", "1", "2") and data.title == "digits.npz"
    np.testing.assert_array_equal(data.x_test[..., 0], data.x_test[..., 2])
    assert load_dataset(f"npz:{path}").input_shape == (28, 28, 1)


def test_new_content_under_the_same_name_is_a_new_configuration_and_records_say_what_they_read(tmp_path):
    from netsplit.search.config import SearchConfig

    path = tmp_path / "d.npz"
    x = RNG.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    np.savez(path, x_train=x[:20], y_train=np.arange(20) % 3, x_test=x[20:], y_test=np.arange(10) % 3)
    before = SearchConfig(dataset=f"npz:{path}")
    data = load_dataset(f"npz:{path}")
    np.savez(path, x_train=x[:20], y_train=(np.arange(20) + 1) % 3, x_test=x[20:], y_test=np.arange(10) % 3)
    after = SearchConfig(dataset=f"npz:{path}")
    assert before.hash != after.hash and before.default_records() != after.default_records(), \
        "labels replaced: the records of the old data are not this data's"
    assert data.content != load_dataset(f"npz:{path}").content, "records carry a hash of the data they read"
    assert SearchConfig(dataset="fashion_mnist").data_content is None, "a built-in data set keeps its key"


def bad_folder(tmp_path, case):
    root = tmp_path / case
    if case == "no classes":
        root.mkdir()
    elif case == "one class":
        write_images(root, classes=("only",))
    elif case == "unreadable":
        write_images(root)
        (root / "dog" / "broken.png").write_bytes(b"not a png")
    elif case == "mixed sizes":
        write_images(root)
        Image.new("RGB", (20, 20)).save(root / "cat" / "big.png")
    elif case == "empty class":
        write_images(root)
        (root / "bird").mkdir()
    return root


@pytest.mark.parametrize("case,message", [
    ("no classes", r"needs a sub-folder of images per class, at least two; found none"),
    ("one class", r"at least two; found only 'only'"),
    ("unreadable", r"broken.png is not a readable image"),
    ("mixed sizes", r"big.png is 20x20 pixels but .*0.png is 12x10"),
    ("empty class", r"bird holds no images \(.bmp"),
    ("missing", r"no image folder at"),
])
def test_bad_folders_name_the_file(tmp_path, case, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset(f"folder:{bad_folder(tmp_path, case)}")


def test_bad_npz_files(tmp_path):
    with pytest.raises(DatasetError, match="no .npz file at"):
        load_dataset(f"npz:{tmp_path / 'none.npz'}")
    np.savez(tmp_path / "partial.npz", x_train=np.zeros((2, 4, 4)), y_train=np.array([0, 1]))
    with pytest.raises(DatasetError, match="partial.npz lacks x_test, y_test"):
        load_dataset(f"npz:{tmp_path / 'partial.npz'}")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="junk.npz is not a readable .npz file"):
        load_dataset(f"npz:{tmp_path / 'junk.npz'}")
    x = np.zeros((2, 4, 4))
    np.savez(tmp_path / "labels.npz", x_train=x, y_train=np.array([0.5, 1]), x_test=x, y_test=np.array([0, 1]))
    with pytest.raises(DatasetError, match="y_train must hold one integer label"):
        load_dataset(f"npz:{tmp_path / 'labels.npz'}")
    np.savez(tmp_path / "sizes.npz", x_train=x, y_train=np.array([0, 1]), x_test=np.zeros((2, 5, 5)), y_test=np.array([0, 1]))
    with pytest.raises(DatasetError, match="x_train images are .*, x_test"):
        load_dataset(f"npz:{tmp_path / 'sizes.npz'}")


def test_folder_without_a_class_of_two_images_has_no_test_set(tmp_path):
    with pytest.raises(DatasetError, match=r"pets: no class has two images or more, so none can be held out"):
        load_dataset(f"folder:{write_images(tmp_path / 'pets', per_class=1)}")


def write_npz(path, **arrays):
    """An npz data set of 4x4 images, 6 for training and 3 for testing (labels 0 to 2), but for ``arrays``."""
    usual = {"x_train": np.zeros((6, 4, 4)), "y_train": np.arange(6) % 3, "x_test": np.zeros((3, 4, 4)),
             "y_test": np.arange(3)}
    np.savez(path, **{**usual, **arrays})
    return f"npz:{path}"


def test_npz_refuses_nan_and_infinite_pixels(tmp_path):
    x = np.zeros((6, 4, 4))
    x[0, 0, :2], x[5, 3, 3] = np.nan, -np.inf
    with pytest.raises(DatasetError, match=r"bad.npz: x_train holds 3 NaN or infinite values; images must be finite"):
        load_dataset(write_npz(tmp_path / "bad.npz", x_train=x))


@pytest.mark.parametrize("empty,message", [
    ("both", r"empty.npz: the training set is empty \(x_train holds no images\)"),
    ("test", r"empty.npz: the test set is empty \(x_test holds no images\)"),
])
def test_npz_with_no_images_says_which_set_is_empty(tmp_path, empty, message):
    nothing = {"x_test": np.zeros((0, 4, 4)), "y_test": np.zeros(0, int)}
    if empty == "both":
        nothing.update(x_train=np.zeros((0, 4, 4)), y_train=np.zeros(0, int))
    with pytest.raises(DatasetError, match=message):
        load_dataset(write_npz(tmp_path / "empty.npz", **nothing))


@pytest.mark.parametrize("content,message", [
    (b"", r"x.npz is not a readable .npz file: it is empty \(0 bytes\)"),
    (b"x_train,y_train\n1,2\n", r"x.npz is not a readable .npz file: it is not a zip archive of arrays"),
])
def test_npz_files_that_are_not_zip_archives(tmp_path, content, message):
    (tmp_path / "x.npz").write_bytes(content)
    with pytest.raises(DatasetError, match=message):
        load_dataset(f"npz:{tmp_path / 'x.npz'}")


def test_npz_file_holding_one_array_is_not_a_data_set(tmp_path):
    np.save(tmp_path / "one.npy", np.zeros((6, 4, 4)))
    (tmp_path / "one.npy").rename(tmp_path / "one.npz")
    with pytest.raises(DatasetError, match=r"one.npz is not a readable .npz file: it is not a zip archive of arrays"):
        load_dataset(f"npz:{tmp_path / 'one.npz'}")


def test_npz_test_labels_must_be_classes_of_the_training_labels(tmp_path):
    with pytest.raises(DatasetError, match=r"l.npz: y_test uses labels \[7\] that y_train never uses; "):
        load_dataset(write_npz(tmp_path / "l.npz", y_test=np.array([0, 7, 2])))


@pytest.mark.parametrize("name", ["folder:", "npz", "tfds:mnist", "imagenet"])
def test_unknown_kinds_say_what_is_valid(name):
    with pytest.raises(ValueError, match="folder:PATH .* npz:PATH"):
        load_dataset(name)


@pytest.mark.parametrize("labels,message", [
    (np.array(["a", "b", "c", "a", "b", "c"]), r"y_train must hold one integer label from 0 per image, got <U1 labels"),
    (np.array([0, 1, 2, 0, 1, -1]), r"y_train must hold one integer label from 0 per image, got labels from -1 to 2"),
])
def test_npz_labels_that_are_not_class_numbers(tmp_path, labels, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset(write_npz(tmp_path / "labels.npz", y_train=labels))
