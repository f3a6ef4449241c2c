"""Plates per second of the synthetic renderer with 1 and 2 workers.

Usage: .venv/bin/python benchmarks/bench_synthesize.py [--n 600] [--workers 1 2]
Rendering only (no PNG writing); the first plates of each process warm the font caches,
so a warm-up run precedes the timings. Times vary run to run on shared machines.
"""

from __future__ import annotations

import argparse
import time

from plate_ocr_pipeline.synthetic import DEFAULT_REGION_WEIGHTS, generate_plates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=160)
    args = parser.parse_args()
    size = {"width_range": (args.width, args.width), "height_range": (args.height, args.height)}
    generate_plates(200, DEFAULT_REGION_WEIGHTS, seed=999, num_workers=1, **size)  # warm-up
    for workers in args.workers:
        start = time.perf_counter()
        generate_plates(args.n, DEFAULT_REGION_WEIGHTS, seed=0, num_workers=workers, **size)
        elapsed = time.perf_counter() - start
        print(
            f"workers={workers}: {args.n / elapsed:7.1f} plates/s ({args.n} plates, "
            f"{args.width}x{args.height})"
        )


if __name__ == "__main__":
    main()
