"""``AugmentedBatches``: seeded, augmented uint8 training batches."""

from __future__ import annotations

import copy
import math
import threading
import warnings
from typing import Any

import keras
import numpy as np


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled uint8 batches with an albumentations ``Compose`` applied per image.

    The order of epoch ``e`` and the augmentation of its batch ``i`` depend only on ``seed``,
    ``e`` and ``i`` (the Compose is re-seeded per batch), so two runs with one seed see the same
    batches, and a resumed run sees what an uninterrupted one would have.

    ``workers`` > 1 augments batches on that many threads while the model trains (Keras
    fetches one epoch's batches in order); each thread has its own copy of the Compose, so
    each batch is the same as with one worker. The order Keras trains them in is drawn
    differently with one worker and with several, so a run repeats with the same count.
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
        workers: int = 1,
    ) -> None:
        super().__init__(workers=workers, use_multiprocessing=False)
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
        self._per_thread = threading.local()
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        rng = np.random.default_rng(self.seed + self.epoch)
        self.order = (
            rng.permutation(len(self.images)) if self.shuffle else np.arange(len(self.images))
        )

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def _thread_transform(self) -> Any:
        """This thread's copy of the Compose: re-seeding a shared one from two threads at
        once would mix their random streams."""
        transform = getattr(self._per_thread, "transform", None)
        if transform is None:
            transform = copy.deepcopy(self.transform)
            self._per_thread.transform = transform
        return transform

    def augment(self, image: np.ndarray, transform: Any | None = None) -> np.ndarray:
        transform = self.transform if transform is None else transform
        with warnings.catch_warnings():
            # ToGray/ChannelShuffle on a grayscale crop are no-ops that warn.
            warnings.simplefilter("ignore", UserWarning)
            out = transform(image=image)["image"]
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
            transform = self._thread_transform()
            transform.set_random_seed(self.seed + 1_000_003 * self.epoch + index)
            batch = np.stack([self.augment(image, transform) for image in batch])
        return batch, self.targets[rows]

    def on_epoch_end(self) -> None:
        self.set_epoch(self.epoch + 1)
