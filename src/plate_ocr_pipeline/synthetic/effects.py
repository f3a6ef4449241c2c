"""Cheap photometric and geometric degradations (numpy/OpenCV), all driven by one rng."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np


def uneven_lighting(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Multiply by a linear brightness ramp in a random direction."""
    h, w = img.shape[:2]
    angle = rng.uniform(0, 2 * np.pi)
    xx = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :] * np.float32(np.cos(angle))
    yy = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None] * np.float32(np.sin(angle))
    ramp = xx + yy
    lo, hi = rng.uniform(0.55, 0.95), rng.uniform(1.0, 1.2)
    gain = np.float32((lo + hi) / 2) + ramp * np.float32(hi - lo)
    return img * gain[..., None]


def glare(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Add a soft bright blob (specular reflection / sun)."""
    h, w = img.shape[:2]
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    sx, sy = rng.uniform(0.1, 0.5) * w, rng.uniform(0.1, 0.6) * h
    gx = np.exp(-(((np.arange(w, dtype=np.float32) - cx) / sx) ** 2))
    gy = np.exp(-(((np.arange(h, dtype=np.float32) - cy) / sy) ** 2))
    blob = (gy[:, None] * gx[None, :]).astype(np.float32) * np.float32(rng.uniform(60, 200))
    return img + blob[..., None]


def cast_shadow(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Darken a random polygon (shadow of a car part or a tree)."""
    h, w = img.shape[:2]
    n = int(rng.integers(3, 6))
    pts = np.stack([rng.uniform(-0.3, 1.3, n) * w, rng.uniform(-0.3, 1.3, n) * h], 1)
    mask = np.zeros((h, w), np.float32)
    cv2.fillPoly(mask, [pts.astype(np.int32)], 1.0)
    k = int(rng.integers(1, 8)) * 2 + 1
    mask = cv2.GaussianBlur(mask, (k, k), 0)
    return img * (1 - mask[..., None] * rng.uniform(0.2, 0.55))


def dirt(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Brownish blotches and speckles."""
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(2, 12))):
        c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        ax = (int(rng.uniform(2, 0.2 * w)), int(rng.uniform(1, 0.15 * h)))
        cv2.ellipse(mask, c, ax, rng.uniform(0, 180), 0, 360, float(rng.uniform(0.2, 1.0)), -1)
    n = int(rng.integers(0, 200))
    if n:
        ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
        mask[ys, xs] = rng.uniform(0.3, 1.0, n)
    k = int(rng.integers(1, 5)) * 2 + 1
    mask = cv2.GaussianBlur(mask, (k, k), 0) * rng.uniform(0.15, 0.5)
    colour = np.array([rng.uniform(60, 110), rng.uniform(50, 90), rng.uniform(30, 70)], np.float32)
    return img * (1 - mask[..., None]) + colour * mask[..., None]


def colour_cast(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    gains = rng.uniform(0.82, 1.15, 3).astype(np.float32)
    return img * gains


def gamma_contrast(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Gamma, contrast and brightness through a lookup table (uint8 in, uint8 out)."""
    x = np.arange(256, dtype=np.float32) / 255.0
    x = x ** rng.uniform(0.7, 1.5)
    contrast = rng.uniform(0.75, 1.15)
    offset = rng.uniform(-0.08, 0.12)
    lut = np.clip(((x - 0.5) * contrast + 0.5 + offset) * 255.0, 0, 255).astype(np.uint8)
    return cv2.LUT(img, lut)


def blur(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    if rng.random() < 0.3:
        k = int(rng.integers(3, 6))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0
        m = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1.0)
        kernel = cv2.warpAffine(kernel, m, (k, k))
        kernel /= max(kernel.sum(), 1e-6)
        return cv2.filter2D(img, -1, kernel)
    sigma = rng.uniform(0.3, 1.2)
    return cv2.GaussianBlur(img, (0, 0), sigma)


@lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    """A fixed bank of unit Gaussian noise (same in every process), sampled by offset."""
    return np.random.default_rng(20240601).standard_normal((720, 720, 3), dtype=np.float32)


def noise(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Gaussian sensor noise on a uint8 image (half the samples luminance-only)."""
    std = np.float32(rng.uniform(1, 10))
    h, w = img.shape[:2]
    bank = _noise_bank()
    bh, bw = bank.shape[:2]
    if h > bh or w > bw:
        n = rng.standard_normal((h, w, 3), dtype=np.float32)
    else:
        y, x = int(rng.integers(0, bh - h + 1)), int(rng.integers(0, bw - w + 1))
        n = bank[y : y + h, x : x + w]
        if rng.random() < 0.5:
            n = n[..., :1]
    return np.clip(img + n * std, 0, 255).astype(np.uint8)


def jpeg(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """JPEG round trip of a uint8 RGB image."""
    quality = int(rng.integers(30, 90))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else img


def low_resolution(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Downscale then upscale back (a plate that was small in the photo)."""
    h, w = img.shape[:2]
    s = rng.uniform(0.35, 0.75)
    small = cv2.resize(img, (max(8, int(w * s)), max(4, int(h * s))), interpolation=cv2.INTER_AREA)
    interp = cv2.INTER_LINEAR if rng.random() < 0.7 else cv2.INTER_CUBIC
    return cv2.resize(small, (w, h), interpolation=interp)
