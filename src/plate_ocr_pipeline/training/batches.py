"""``AugmentedBatches``: seeded, augmented uint8 training batches."""

from __future__ import annotations

import math
import warnings
from typing import Any

import keras
import numpy as np


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled uint8 batches with an albumentations ``Compose`` applied per image.

    The order of epoch ``e`` and the augmentation of its batch ``i`` depend only on ``seed``,
    ``e`` and ``i`` (the Compose is re-seeded per batch), so two runs with one seed see the same
    batches, and a resumed run sees what an uninterrupted one would have.
    Runs in the training process (``workers=1``): the numbers stay reproducible.
    """

    def __init__(
        self,
        images: np.ndarray,
        targets: np.ndarray,
        batch_size: int,
        transform: Any | None = None,
        seed: int = 0,
        shuffle: bool = True,
        epoch: int = 0,
    ) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        if images.dtype != np.uint8:
            raise ValueError(f"images must be uint8, got {images.dtype}")
        self.images = images
        self.targets = targets
        self.batch_size = int(batch_size)
        self.transform = transform
        self.seed = int(seed)
        self.shuffle = shuffle
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        rng = np.random.default_rng(self.seed + self.epoch)
        self.order = (
            rng.permutation(len(self.images)) if self.shuffle else np.arange(len(self.images))
        )

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def augment(self, image: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            # ToGray/ChannelShuffle on a grayscale crop are no-ops that warn.
            warnings.simplefilter("ignore", UserWarning)
            out = self.transform(image=image)["image"]
        out = np.asarray(out)
        if out.ndim == 2:
            out = out[:, :, None]
        if out.shape != image.shape or out.dtype != np.uint8:
            raise ValueError(
                f"augmentation changed the image from {image.shape} {image.dtype} to "
                f"{out.shape} {out.dtype}; transforms must keep size and uint8"
            )
        return out

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.images[rows]
        if self.transform is not None:
            # Seeded per (epoch, batch): independent of the order Keras asks for batches.
            self.transform.set_random_seed(self.seed + 1_000_003 * self.epoch + index)
            batch = np.stack([self.augment(image) for image in batch])
        return batch, self.targets[rows]

    def on_epoch_end(self) -> None:
        self.set_epoch(self.epoch + 1)
