"""PNG decoding of real plate crops: OpenCV beside libspng (``pyspng``, the ``fast`` extra),
and the recognizer's ``run_files`` throughput with each, side by side in one run.

    .venv/bin/python benchmarks/bench_png_decoding.py [--crops 2000] [--rounds 5]

The crops are the real sets in ``../shared/datasets`` (PNG), repeated to reach ``--crops``.
Prints CPU ms per crop for decoding alone (interleaved rounds, medians), whether the two
decoders give identical pixels, and plates/s of ``run_files`` (wall and CPU) with libspng on
and off. Times vary run to run on shared machines: compare the ratios.
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


def _opencv_rgb(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return preprocessing._to_rgb_order(image, "<bytes>")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crops", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if preprocessing.pyspng is None:
        raise SystemExit("pyspng is not installed: pip install '.[fast]'")
    paths = sorted(DATASETS.glob("*/imgs/*.png"))
    if not paths:
        raise SystemExit(f"no PNG crops under {DATASETS}")
    files = [p.read_bytes() for p in paths]
    same = sum(np.array_equal(preprocessing._decode_png_fast(d), _opencv_rgb(d)) for d in files)
    print(f"{len(files)} real PNG crops; libspng gives OpenCV's pixels on {same}")

    decoders = {"opencv": _opencv_rgb, "libspng": preprocessing._decode_png_fast}
    times: dict[str, list[float]] = {name: [] for name in decoders}
    for round_ in range(args.rounds):
        for name in sorted(decoders, reverse=bool(round_ % 2)):
            start = time.process_time()
            for data in files:
                decoders[name](data)
            times[name].append((time.process_time() - start) * 1000 / len(files))
    medians = {name: float(np.median(v)) for name, v in times.items()}
    print("decode, CPU ms per crop:", {k: round(v, 3) for k, v in medians.items()},
          f"ratio libspng/opencv {medians['libspng'] / medians['opencv']:.2f}")  # fmt: skip

    reader = ONNXPlateRecognizer(threads=1)
    batch = {f"{i}.png": files[i % len(files)] for i in range(args.crops)}
    module_decoder = preprocessing.pyspng
    rates: dict[str, list[tuple[float, float]]] = {"opencv": [], "libspng": []}
    for round_ in range(max(2, args.rounds // 2)):
        for name in sorted(rates, reverse=bool(round_ % 2)):
            preprocessing.pyspng = module_decoder if name == "libspng" else None
            wall, cpu = time.perf_counter(), time.process_time()
            results = list(reader.run_files(batch, batch_size=64, num_workers=2))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            assert len(results) == len(batch)
            rates[name].append((len(batch) / wall, cpu * 1000 / len(batch)))
    preprocessing.pyspng = module_decoder
    for name, values in rates.items():
        per_s = np.median([v[0] for v in values])
        cpu_ms = np.median([v[1] for v in values])
        print(f"run_files, {args.crops} crops, 1 ONNX thread + 2 decode threads, {name}: "
              f"{per_s:.0f} plates/s, {cpu_ms:.2f} CPU ms per plate")  # fmt: skip


if __name__ == "__main__":
    main()
