"""``AugmentedBatches``: seeded, augmented uint8 training batches."""

from __future__ import annotations

import copy
import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import keras
import numpy as np

from .augmentation import augment_image


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled uint8 batches with an albumentations ``Compose`` applied per image.

    Batch ``i`` of epoch ``e`` depends only on ``seed``, ``e`` and ``i``: the epoch's order is
    drawn from ``seed + e`` and the Compose is re-seeded per batch. The epoch is set by
    ``set_epoch`` (the trainer's ``BatchEpoch`` callback), not counted from Keras' calls, so a
    resumed run asks for the batches an uninterrupted one would have.

    ``workers`` > 1 augments the next batches on that many threads of its own while the
    model trains on this one. Keras itself gets one worker and fetches the batches in index
    order (``fit(shuffle=False)``): its own prefetch queue carries batches from one epoch into
    the next by a count that depends on thread timing. Each thread has its own copy of the
    Compose, so the batches, and so the training, are the same with any worker count.
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
        super().__init__(workers=1, use_multiprocessing=False)
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        if images.dtype != np.uint8:
            raise ValueError(f"images must be uint8, got {images.dtype}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.images = images
        self.targets = targets
        self.batch_size = int(batch_size)
        self.transform = transform
        self.seed = int(seed)
        self.shuffle = shuffle
        self.augment_workers = int(workers)
        self._per_thread = threading.local()
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, int], Future] = {}
        self._pool = (
            ThreadPoolExecutor(self.augment_workers, thread_name_prefix="augment")
            if self.augment_workers > 1
            else None
        )
        self.epoch = -1
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        """Order the batches as epoch ``epoch`` (a no-op when it already is)."""
        epoch = int(epoch)
        with self._lock:
            if epoch == self.epoch:
                return
            rng = np.random.default_rng(self.seed + epoch)
            self.order = (
                rng.permutation(len(self.images)) if self.shuffle else np.arange(len(self.images))
            )
            self.epoch = epoch
            self._drop_pending()

    def _drop_pending(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()

    def close(self) -> None:
        """Stop the augmenting threads (the batches are then made on the caller's)."""
        with self._lock:
            self._drop_pending()
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

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
        return augment_image(self.transform if transform is None else transform, image)

    def _batch(self, order: np.ndarray, epoch: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.images[rows]
        if self.transform is not None:
            # Seeded per (epoch, batch): independent of the order batches are asked for.
            transform = self._thread_transform()
            transform.set_random_seed(self.seed + 1_000_003 * epoch + index)
            batch = np.stack([self.augment(image, transform) for image in batch])
        return batch, self.targets[rows]

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        with self._lock:
            # The order is passed, not read in the thread: set_epoch may replace it meanwhile.
            epoch, order = self.epoch, self.order
            if self._pool is None:
                future = None
            else:
                future = self._pending.pop((epoch, index), None)
                if future is None:
                    future = self._pool.submit(self._batch, order, epoch, index)
                ahead = range(index + 1, min(index + 1 + 2 * self.augment_workers, len(self)))
                for later in ahead:
                    if (epoch, later) not in self._pending:
                        self._pending[(epoch, later)] = self._pool.submit(
                            self._batch, order, epoch, later
                        )
        return self._batch(order, epoch, index) if future is None else future.result()
