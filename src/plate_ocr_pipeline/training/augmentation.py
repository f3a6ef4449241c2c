"""One crop through an albumentations ``Compose``: what training batches and the augment
stage's preview both apply, so the preview shows what the model is trained on."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def augment_image(transform: Any, image: np.ndarray) -> np.ndarray:
    """``image`` (uint8 ``(H, W, C)``) through ``transform``; refuses a transform that changes
    the crop's size or dtype, which the model input could not take."""
    with warnings.catch_warnings():
        # ToGray/ChannelShuffle on a grayscale crop are no-ops that warn.
        warnings.simplefilter("ignore", UserWarning)
        out = np.asarray(transform(image=image)["image"])
    if out.ndim == 2:
        out = out[:, :, None]
    if out.shape != image.shape or out.dtype != np.uint8:
        raise ValueError(
            f"augmentation changed the image from {image.shape} {image.dtype} to "
            f"{out.shape} {out.dtype}; transforms must keep size and uint8"
        )
    return out
