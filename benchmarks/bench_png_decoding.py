"""PNG decoding of real plate crops: OpenCV (what ``core.preprocessing.read_image`` uses)
beside libspng (``pyspng``), alone and inside the recognizer's ``run_files``, side by side.

    .venv/bin/pip install pyspng        # not a project dependency
    .venv/bin/python benchmarks/bench_png_decoding.py [--crops 2000] [--rounds 4]

The crops are the real sets in ``../shared/datasets`` (PNG), repeated to reach ``--crops``.
Prints whether libspng gives OpenCV's pixels, CPU ms per crop for decoding alone
(interleaved rounds, medians), and plates/s (wall) and CPU ms per plate of ``run_files``
(2 decode threads, 1 ONNX thread) with each decoder. libspng decodes in less CPU time, but
pyspng holds the GIL while it decodes and OpenCV does not, so with decode threads beside the
model the wall-clock throughput is what decides.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from plate_ocr_pipeline.core import preprocessing
from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def opencv_rgb(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image


def main() -> None:
    import pyspng

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    files = [p.read_bytes() for p in sorted(DATASETS.glob("*/imgs/*.png"))]
    if not files:
        raise SystemExit(f"no PNG crops under {DATASETS}")
    same = sum(np.array_equal(pyspng.load(d), opencv_rgb(d)) for d in files)
    print(f"{len(files)} real PNG crops; libspng gives OpenCV's pixels on {same}")

    decoders = {"opencv": opencv_rgb, "libspng": pyspng.load}
    times: dict[str, list[float]] = {name: [] for name in decoders}
    for round_ in range(args.rounds):
        for name in sorted(decoders, reverse=bool(round_ % 2)):
            start = time.process_time()
            for data in files:
                decoders[name](data)
            times[name].append((time.process_time() - start) * 1000 / len(files))
    medians = {name: float(np.median(v)) for name, v in times.items()}
    print("decode alone, CPU ms per crop:", {k: round(v, 3) for k, v in medians.items()},
          f"ratio libspng/opencv {medians['libspng'] / medians['opencv']:.2f}")  # fmt: skip

    reader = ONNXPlateRecognizer(threads=1)
    batch = {f"{i}.png": files[i % len(files)] for i in range(args.crops)}
    opencv_read = preprocessing.read_image

    def libspng_read(source):  # the crops are 8-bit RGB PNGs: the same pixels (checked above)
        return pyspng.load(source) if isinstance(source, bytes) else opencv_read(source)

    rates: dict[str, list[tuple[float, float]]] = {"opencv": [], "libspng": []}
    try:
        for round_ in range(args.rounds):
            for name in sorted(rates, reverse=bool(round_ % 2)):
                preprocessing.read_image = libspng_read if name == "libspng" else opencv_read
                wall, cpu = time.perf_counter(), time.process_time()
                results = list(reader.run_files(batch, batch_size=64, num_workers=2))
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                assert len(results) == len(batch) and all(r.ok for r in results)
                rates[name].append((len(batch) / wall, cpu * 1000 / len(batch)))
    finally:
        preprocessing.read_image = opencv_read
    for name, values in rates.items():
        print(f"run_files, {args.crops} crops, 2 decode threads + 1 ONNX thread, {name}: "
              f"{np.median([v[0] for v in values]):.0f} plates/s, "
              f"{np.median([v[1] for v in values]):.2f} CPU ms per plate")  # fmt: skip


if __name__ == "__main__":
    main()
