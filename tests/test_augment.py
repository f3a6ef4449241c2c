"""Augmentation: the shipped YAML builds strict, broken files fail naming the transform,
seeded output is reproducible, on-the-fly batches keep uint8 shapes, the preview renders."""

from pathlib import Path

import albumentations as A
import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from plate_ocr_pipeline.datasets import (
    AlbumentationsDataset,
    AugmentationConfigError,
)
from plate_ocr_pipeline.pipelines.augment.nodes import preview_augmentations, seed_augmentation
from plate_ocr_pipeline.training.augmentation import augment_image
from tests.conftest import image_files, write_text_image

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = REPO_ROOT / "conf" / "base" / "augmentation.yml"


def _write(tmp_path: Path, transforms: list[dict]) -> Path:
    path = tmp_path / "aug.yml"
    spec = {"transform": {"__class_fullname__": "Compose", "p": 1.0, "transforms": transforms}}
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def compose():
    return AlbumentationsDataset(filepath=str(SHIPPED)).load()


def test_shipped_pipeline_loads_strict(compose):
    assert compose.strict
    names = {type(t).__name__ for t in compose.transforms}
    assert {"Affine", "CoarseDropout", "GaussNoise", "ImageCompression"} <= names


@pytest.mark.parametrize(
    ("transform", "old_argument"),
    [
        ({"__class_fullname__": "CoarseDropout", "p": 0.5, "max_holes": 4}, "max_holes"),
        ({"__class_fullname__": "GaussNoise", "p": 0.5, "var_limit": [10, 50]}, "var_limit"),
        (
            {"__class_fullname__": "ImageCompression", "p": 0.5, "quality_lower": 40},
            "quality_lower",
        ),
        ({"__class_fullname__": "Affine", "p": 0.5, "value": 0}, "value"),
    ],
)
def test_albumentations_1x_argument_names_fail_naming_the_transform(
    tmp_path, transform, old_argument
):
    path = _write(tmp_path, [transform])
    with pytest.raises(AugmentationConfigError) as error:
        AlbumentationsDataset(filepath=str(path)).load()
    message = str(error.value)
    assert transform["__class_fullname__"] in message
    assert old_argument in message


def test_nested_typo_and_unknown_transform_fail(tmp_path):
    nested = {
        "__class_fullname__": "OneOf",
        "p": 0.5,
        "transforms": [{"__class_fullname__": "MotionBlur", "p": 1.0, "blur_limt": 5}],
    }
    with pytest.raises(AugmentationConfigError, match="MotionBlur"):
        AlbumentationsDataset(filepath=str(_write(tmp_path, [nested]))).load()
    unknown = {"__class_fullname__": "MakeItReadable", "p": 1.0}
    with pytest.raises(AugmentationConfigError, match="MakeItReadable"):
        AlbumentationsDataset(filepath=str(_write(tmp_path, [unknown]))).load()
    (tmp_path / "bad.yml").write_text("transform: [unclosed")
    with pytest.raises(AugmentationConfigError, match="YAML"):
        AlbumentationsDataset(filepath=str(tmp_path / "bad.yml")).load()


def test_save_round_trip(tmp_path, compose):
    """Every transform comes back with its arguments (probabilities and limits included)."""
    dataset = AlbumentationsDataset(filepath=str(tmp_path / "out" / "aug.yml"))
    dataset.save(compose)
    again = dataset.load()
    assert A.to_dict(again) == A.to_dict(compose)


def test_seeded_augmentation_is_reproducible(compose):
    image = np.random.default_rng(0).integers(0, 256, (64, 128, 1), dtype=np.uint8)
    first = seed_augmentation(compose, {"seed": 7})
    second = seed_augmentation(compose, {"seed": 7})
    outs1 = [augment_image(first, image) for _ in range(5)]
    outs2 = [augment_image(second, image) for _ in range(5)]
    for a, b in zip(outs1, outs2, strict=True):
        assert a.shape == image.shape and a.dtype == np.uint8
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, image) for a in outs1)


def test_a_transform_that_changes_the_crop_size_is_refused():
    """Training and the preview apply the same function, which refuses a Compose the model
    input could not take, naming both shapes."""
    image = np.zeros((64, 128, 1), np.uint8)
    resize = A.Compose([A.Resize(32, 64)])
    with pytest.raises(ValueError, match=r"from \(64, 128, 1\) uint8 to \(32, 64, 1\) uint8"):
        augment_image(resize, image)
    gray = augment_image(A.Compose([A.ToGray(p=1.0)]), image)  # a no-op that warns: kept
    assert gray.shape == image.shape and gray.dtype == np.uint8


def test_augmented_batches_on_the_fly(compose):
    from plate_ocr_pipeline.training.batches import AugmentedBatches

    images = np.random.default_rng(0).integers(0, 256, (10, 64, 128, 1), dtype=np.uint8)
    targets = np.zeros((10, 10, 37), np.float32)
    batches = AugmentedBatches(images, targets, 4, seed_augmentation(compose, {"seed": 3}), seed=3)
    assert len(batches) == 3
    x, y = batches[2]
    assert x.shape == (2, 64, 128, 1) and x.dtype == np.uint8 and y.shape == (2, 10, 37)
    # Batch content depends only on (seed, epoch, index), not on the order asked.
    again = AugmentedBatches(images, targets, 4, seed_augmentation(compose, {"seed": 3}), seed=3)
    np.testing.assert_array_equal(again[1][0], batches[1][0])
    np.testing.assert_array_equal(again[2][0], x)
    batches.set_epoch(1)
    assert not np.array_equal(batches[0][0], again[0][0])
    # Keras' end-of-epoch call does not move the order: the trainer sets the epoch.
    again.on_epoch_end()
    np.testing.assert_array_equal(again[2][0], x)


@pytest.mark.parametrize("workers", [1, 3])
def test_each_batch_keeps_every_image_with_its_own_target(workers):
    """Shuffled batches move an image and its target together, and an epoch holds every
    image once (no augmentation, so each image can be matched to its source)."""
    from plate_ocr_pipeline.training.batches import AugmentedBatches

    count = 10
    images = np.stack([np.full((64, 128, 1), 20 * i, np.uint8) for i in range(count)])
    targets = np.zeros((count, 10, 37), np.float32)
    targets[np.arange(count), 0, np.arange(count)] = 1.0  # image i's target names i
    batches = AugmentedBatches(images, targets, 4, None, seed=3, workers=workers)
    seen = []
    for epoch in (0, 1):
        batches.set_epoch(epoch)
        order = []
        for index in range(len(batches)):
            x, y = batches[index]
            sources = y[:, 0].argmax(axis=-1)
            np.testing.assert_array_equal(x, images[sources])
            order.extend(sources.tolist())
        assert sorted(order) == list(range(count))
        seen.append(order)
    assert seen[0] != seen[1]  # each epoch draws its own order
    batches.close()


def test_augmented_batches_on_threads_are_the_batches_of_one_thread(compose):
    from concurrent.futures import ThreadPoolExecutor

    from plate_ocr_pipeline.training.batches import AugmentedBatches

    images = np.random.default_rng(1).integers(0, 256, (48, 64, 128, 1), dtype=np.uint8)
    targets = np.zeros((48, 10, 37), np.float32)
    serial = AugmentedBatches(images, targets, 4, seed_augmentation(compose, {"seed": 5}), seed=5)
    expected = [serial[i][0] for i in range(len(serial))]
    threaded = AugmentedBatches(
        images, targets, 4, seed_augmentation(compose, {"seed": 5}), seed=5, workers=4
    )
    # Keras gets one worker: the batches prefetch on their own threads, in index order.
    assert threaded.workers == 1 and threaded.augment_workers == 4
    # Four threads asking for every batch three times over, in a scrambled order.
    order = [int(i) for i in np.random.default_rng(2).permutation(3 * len(threaded)) % 12]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: (i, threaded[i][0]), order))
    for index, batch in got:
        np.testing.assert_array_equal(batch, expected[index])
    # Moving to another epoch while its batches prefetch: the next epoch's batches, whole.
    threaded[0]
    threaded.set_epoch(1)
    serial.set_epoch(1)
    for index in range(len(threaded)):
        np.testing.assert_array_equal(threaded[index][0], serial[index][0])
    with pytest.raises(IndexError):
        threaded[len(threaded)]


def test_preview_grid(tmp_path, compose, plate_params):
    rows = []
    for i, text in enumerate(["AB123", "XYZ9", "K77"]):
        path = write_text_image(tmp_path / f"{i}.png", text)
        rows.append({"image_path": str(path), "plate_text": text, "region": "", "split": "train"})
    augment = {"seed": 1, "preview_samples": 2, "preview_variants": 3}
    plates = pd.DataFrame(rows)
    figure = preview_augmentations(plates, image_files(plates), compose, augment, plate_params)
    assert len(figure.axes) == 2 * 4
    figure.savefig(tmp_path / "preview.png")
    assert (tmp_path / "preview.png").stat().st_size > 1000


def test_nodes_validate_the_augment_section(compose):
    with pytest.raises(ValidationError, match="preview_variants"):
        preview_augmentations(pd.DataFrame(), {}, compose, {"preview_variants": 0}, {})
    with pytest.raises(ValidationError, match="sed"):
        seed_augmentation(compose, {"sed": 1})
