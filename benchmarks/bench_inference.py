"""Inference speed, side by side in one run: recognizer batch-1 latency, model throughput at
batch 64, the infer pipeline's work over a folder of crops (read, decode, resize, model,
write) with decode-ahead and in lanes, where the time goes, and the fp32 and INT8 models at 1
and 2 threads with CPU-ms per plate and the distance from this core's peak.

    .venv/bin/python benchmarks/bench_inference.py [--model data/06_models/model.onnx]
        [--int8 PATH] [--crops 2000] [--threads N] [--workers 2] [--synthetic-crops]

Without ``--model`` it uses data/06_models/model.onnx if it exists, else the shipped model.
The crops are the real sets in ``../shared/datasets`` copied to reach ``--crops`` (real sizes
and PNG files, which take 2-3x as long to decode as the drawn ones); ``--synthetic-crops``, or
a checkout without the real sets, draws crops instead (said in the output).
Absolute times vary run to run on shared machines: compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from plate_ocr_pipeline.core.preprocessing import preprocess_image, read_image
from plate_ocr_pipeline.datasets.atomic_csv_dataset import AtomicCSVDataset
from plate_ocr_pipeline.datasets.image_folder_dataset import ImageFolderDataset
from plate_ocr_pipeline.inference.recognizer import DEFAULT_MODEL_PATH, ONNXPlateRecognizer

REAL_SETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def copy_real_crops(folder: Path, count: int) -> bool:
    """``count`` files copied from the real sets' crops (cycled); False when there are none."""
    sources = sorted(REAL_SETS.glob("*/imgs/*.png"))
    if not sources:
        return False
    for i in range(count):
        subfolder = folder / f"part{i % 8}"
        subfolder.mkdir(exist_ok=True)
        (subfolder / f"{i:05d}.png").write_bytes(sources[i % len(sources)].read_bytes())
    return True


def write_crops(folder: Path, count: int, seed: int = 0) -> None:
    """``count`` colour crops of varied size (90-260 px wide), 3/4 PNG and 1/4 JPEG."""
    rng = np.random.default_rng(seed)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for i in range(count):
        width = int(rng.integers(90, 260))
        height = max(24, int(width * rng.uniform(0.3, 0.55)))
        text = "".join(rng.choice(list(alphabet), int(rng.integers(4, 9))))
        image = np.full((height, width, 3), rng.integers(180, 250, 3), dtype=np.uint8)
        cv2.putText(
            image,
            text,
            (3, int(height * 0.7)),
            cv2.FONT_HERSHEY_SIMPLEX,
            width / (28 * len(text)),
            (20, 20, 20),
            2,
            cv2.LINE_AA,
        )
        noise = rng.normal(0, 6, image.shape)
        image = np.clip(image + noise, 0, 255).astype(np.uint8)
        subfolder = folder / f"part{i % 8}"
        subfolder.mkdir(exist_ok=True)
        if i % 4 == 3:
            cv2.imwrite(str(subfolder / f"{i:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        else:
            cv2.imwrite(str(subfolder / f"{i:05d}.png"), image)


def model_macs(model_path: Path) -> int:
    """Multiply-accumulates per plate of the Conv, MatMul and Gemm nodes (batch 1), from the
    graph's inferred shapes."""
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    model = onnx.load(str(model_path))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    model = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    shapes = {t.name: list(t.dims) for t in model.graph.initializer}
    for value in [*model.graph.value_info, *model.graph.input, *model.graph.output]:
        shapes[value.name] = [d.dim_value for d in value.type.tensor_type.shape.dim]
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv":  # each output element: (in channels / groups) x kernel
            total += int(np.prod(shapes[node.output[0]])) * int(np.prod(shapes[node.input[1]][1:]))
        elif node.op_type in ("MatMul", "Gemm"):
            total += int(np.prod(shapes[node.input[0]])) * shapes[node.input[1]][-1]
    return total


def peak_fma_rate(size: int = 1024, repeats: int = 8) -> float:
    """FMA/s of one onnxruntime thread on a large float32 MatMul: a yardstick of this core's
    float32 rate (the model's convolutions can run a little faster)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    def tensor(name: str):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, [size, size])

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        "peak",
        [tensor("a"), tensor("b")],
        [tensor("c")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, ["CPUExecutionProvider"])
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        session.run(None, {"a": a, "b": a})
        best = min(best, time.perf_counter() - t)
    return size**3 / best


def model_table(models: dict[str, Path], inputs: np.ndarray, batch: int, rounds: int) -> list:
    """Each model at 1 and 2 onnxruntime threads, interleaved round by round: batch-1 latency
    (median), throughput at ``batch`` over ``inputs`` and CPU-ms per plate (process time)."""
    readers = {
        (name, threads): ONNXPlateRecognizer(path, threads=threads)
        for name, path in models.items()
        for threads in (1, 2)
    }
    one = inputs[:1]
    timings = {key: {"latency": [], "rate": [], "cpu_ms": []} for key in readers}
    for _ in range(rounds):
        for key, reader in readers.items():
            for _ in range(10):
                reader.predict(one)
            latencies = []
            for _ in range(100):
                t = time.perf_counter()
                reader.predict(one)
                latencies.append(time.perf_counter() - t)
            wall, cpu = time.perf_counter(), time.process_time()
            for i in range(0, len(inputs), batch):
                reader.predict(inputs[i : i + batch])
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            timings[key]["latency"].append(float(np.median(latencies)) * 1000)
            timings[key]["rate"].append(len(inputs) / wall)
            timings[key]["cpu_ms"].append(cpu * 1000 / len(inputs))
    return [
        (name, threads, *(float(np.median(values)) for values in timings[(name, threads)].values()))
        for name, threads in readers
    ]


def infer_folder(
    files: dict, model: Path, batch: int, workers: int, threads: int | None, lanes: bool = False
):
    """What the infer pipeline's node does, with the library alone: load the model, read the
    files a batch at a time (``run_files``), one table row per file, errors included.
    ``lanes``: each worker reads, decodes and runs whole batches with one onnxruntime thread
    (``infer.lanes``)."""
    import pandas as pd

    reader = ONNXPlateRecognizer(model.read_bytes(), threads=threads or (1 if lanes else None))
    rows = [
        r.record()
        for r in reader.run_files({p: files[p] for p in sorted(files)}, batch, workers, lanes)
    ]
    return pd.DataFrame(rows)


def stage_breakdown(files: dict, reader: ONNXPlateRecognizer, out: Path, batch: int) -> dict:
    """One thread, stage by stage over the same files: seconds spent in each."""
    config = reader.config
    paths = sorted(files)
    t = time.perf_counter()
    data = [files[p]() for p in paths]
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    decoded = [read_image(d) for d in data]
    decode_s = time.perf_counter() - t
    t = time.perf_counter()
    inputs = np.stack([preprocess_image(d, config) for d in decoded])
    resize_s = time.perf_counter() - t
    t = time.perf_counter()
    probs = np.concatenate(
        [reader.predict(inputs[i : i + batch]) for i in range(0, len(inputs), batch)]
    )
    model_s = time.perf_counter() - t
    t = time.perf_counter()
    texts = reader.decode(probs)
    text_s = time.perf_counter() - t
    import pandas as pd

    t = time.perf_counter()
    table = pd.DataFrame(
        {
            "path": paths,
            "text": [x for x, _ in texts],
            "confidence": [float(np.mean(p)) if len(p) else 0.0 for _, p in texts],
        }
    )
    AtomicCSVDataset(filepath=str(out)).save(table)
    write_s = time.perf_counter() - t
    return {
        "read files": read_s,
        "decode (imdecode)": decode_s,
        "resize+grey (preprocess)": resize_s,
        f"model (batch {batch})": model_s,
        "text decode": text_s,
        "write CSV": write_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--crops", type=int, default=2000)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="onnxruntime intra-op threads (default: all cores)",
    )
    parser.add_argument("--workers", type=int, default=2, help="infer decode threads")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--int8",
        type=Path,
        default=None,
        help="INT8 copy to compare (default: data/06_models/quantized/model_int8.onnx if any)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved model/infer rounds")
    parser.add_argument(
        "--infer-int8",
        action="store_true",
        help="the infer rounds run the INT8 copy (as the shipped default does), not --model",
    )
    parser.add_argument(
        "--synthetic-crops", action="store_true", help="drawn crops instead of the real sets"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        model_path = args.model
        if model_path is None and Path("data/06_models/model.onnx").is_file():
            model_path = Path("data/06_models/model.onnx")
        if model_path is None:
            model_path = DEFAULT_MODEL_PATH
        label = str(model_path)
        int8 = args.int8
        if int8 is None and Path("data/06_models/quantized/model_int8.onnx").is_file():
            int8 = Path("data/06_models/quantized/model_int8.onnx")
        if args.infer_int8 and int8 is None:
            parser.error("--infer-int8 needs an INT8 copy (--int8)")
        infer_model = int8 if args.infer_int8 else model_path
        reader = ONNXPlateRecognizer(model_path, threads=args.threads)
        print(
            f"model: {label}" + (f" (infer runs the INT8 copy {int8})" if args.infer_int8 else "")
        )
        print(
            f"cores: {os.cpu_count()}, onnxruntime threads: {args.threads or 'default (all)'}, "
            f"decode workers: {args.workers}"
        )

        latency = reader.benchmark(n_iter=300, batch_size=1, warmup=30, verbose=False)
        e2e = reader.benchmark(
            n_iter=200, batch_size=1, warmup=20, include_processing=True, verbose=False
        )
        bulk = reader.benchmark(n_iter=40, batch_size=args.batch, warmup=5, verbose=False)

        folder = tmp_path / "crops"
        folder.mkdir()
        t = time.perf_counter()
        if not args.synthetic_crops and copy_real_crops(folder, args.crops):
            source = f"real crops from {REAL_SETS}, cycled"
        else:
            write_crops(folder, args.crops)
            source = "drawn crops (90-260 px wide, 3/4 PNG): they decode faster than real ones"
        print(f"{args.crops} {source}, written in {time.perf_counter() - t:.1f} s")

        files = ImageFolderDataset(path=str(folder)).load()
        for loader in files.values():  # warm the page cache
            loader()
        config = reader.config
        inputs = np.stack([preprocess_image(read_image(files[p]()), config) for p in files])
        # Side by side, interleaved rounds: model-only over the same --crops preprocessed crops
        # (batches of --batch), then infer_folder (the infer node's work) + atomic CSV write.
        infer_reader = (
            ONNXPlateRecognizer(infer_model, threads=args.threads) if args.infer_int8 else reader
        )
        model_rates, infer_rates, lane_rates = [], [], []
        for _ in range(args.rounds):
            t = time.perf_counter()
            for i in range(0, len(inputs), args.batch):
                infer_reader.predict(inputs[i : i + args.batch])
            model_rates.append(len(inputs) / (time.perf_counter() - t))
            t = time.perf_counter()
            listing = ImageFolderDataset(path=str(folder)).load()
            table = infer_folder(listing, infer_model, args.batch, args.workers, args.threads)
            AtomicCSVDataset(filepath=str(tmp_path / "predictions.csv")).save(table)
            infer_rates.append(len(listing) / (time.perf_counter() - t))
            t = time.perf_counter()
            listing = ImageFolderDataset(path=str(folder)).load()
            lane_table = infer_folder(listing, infer_model, args.batch, args.workers, None, True)
            AtomicCSVDataset(filepath=str(tmp_path / "predictions.csv")).save(lane_table)
            lane_rates.append(len(listing) / (time.perf_counter() - t))
            assert lane_table["text"].tolist() == table["text"].tolist()
        assert (table["status"] == "ok").all(), table[table["status"] != "ok"].head()
        ratios = sorted(i / m for i, m in zip(infer_rates, model_rates, strict=True))
        breakdown = stage_breakdown(files, reader, tmp_path / "b.csv", args.batch)
        models = {"fp32": Path(model_path)} | ({"int8": int8} if int8 else {})
        table_rows = model_table(models, inputs, args.batch, args.rounds)
        cpu = time.process_time()
        for p in files:
            read_image(files[p]())
        decode_cpu_ms = (time.process_time() - cpu) * 1000 / len(files)
        macs, peak = model_macs(Path(model_path)), peak_fma_rate()

    print()
    print(f"{'measure':48s} {'value':>12s}")
    print(
        f"{'recognizer batch-1 latency p50 (model only)':48s} "
        f"{latency['latency_p50_ms']:9.3f} ms  (mean {latency['latency_mean_ms']:.3f}, "
        f"p95 {latency['latency_p95_ms']:.3f})"
    )
    print(
        f"{'recognizer batch-1 latency p50 (array->text)':48s} "
        f"{e2e['latency_p50_ms']:9.3f} ms  (resize of a 128x256 RGB crop + decode)"
    )
    print(f"{f'model throughput at batch {args.batch}':48s} {bulk['throughput']:9.0f} plates/s")
    print(
        f"{f'model over the {len(files)} crops, batch {args.batch} (per round)':48s} "
        + ", ".join(f"{r:.0f}" for r in model_rates)
        + " plates/s"
    )
    print(f"{'infer over the folder (list, read, decode,':48s}")
    print(
        f"{'  resize, model, atomic CSV) (per round)':48s} "
        + ", ".join(f"{r:.0f}" for r in infer_rates)
        + f" plates/s ({args.workers} decode threads)"
    )
    print(
        f"{'  the same in lanes (per round)':48s} "
        + ", ".join(f"{r:.0f}" for r in lane_rates)
        + f" plates/s ({args.workers} lanes x 1 onnxruntime thread)"
    )
    lane_ratios = sorted(lane / i for lane, i in zip(lane_rates, infer_rates, strict=True))
    print(
        f"{'lanes / decode-ahead throughput, median':48s} "
        f"{lane_ratios[len(lane_ratios) // 2]:9.2f}x (rounds: "
        + ", ".join(f"{r:.2f}" for r in lane_ratios)
        + ")"
    )
    # The bound: every core busy decoding and running the infer model, nothing else.
    infer_row = next(r for r in table_rows if r[:2] == ("int8" if args.infer_int8 else "fp32", 1))
    bound = (os.cpu_count() or 1) * 1000 / (decode_cpu_ms + infer_row[4])
    lanes_median = sorted(lane_rates)[len(lane_rates) // 2]
    print(
        f"{'infer in lanes / bound, median':48s} {lanes_median / bound:9.0%}  ({lanes_median:.0f} "
        f"of {bound:.0f} plates/s: {os.cpu_count()} cores / (decode {decode_cpu_ms:.3f} + "
        f"{infer_row[0]} model {infer_row[4]:.3f} CPU-ms per plate))"
    )
    print(
        f"{'infer / model-only throughput, median of rounds':48s} "
        f"{ratios[len(ratios) // 2]:9.0%}  (rounds: "
        + ", ".join(f"{r:.0%}" for r in ratios)
        + "; target >= 70%)"
    )
    print(
        f"\nmodels side by side over the {len(inputs)} crops ({args.rounds} interleaved rounds, "
        "medians; CPU-ms = process CPU time per plate):"
    )
    print(f"  {'model':6s} {'threads':>7s} {'batch-1 ms':>10s} {'plates/s':>9s} {'CPU-ms':>7s}")
    for name, threads, latency_ms, rate, cpu_ms in table_rows:
        print(f"  {name:6s} {threads:7d} {latency_ms:10.3f} {rate:9.0f} {cpu_ms:7.3f}")
    fp32_one = next(row for row in table_rows if row[:2] == ("fp32", 1))
    print(f"  decode only (cv2.imdecode of the PNG files): {decode_cpu_ms:.3f} CPU-ms per plate")
    print(
        f"  fp32: {macs / 1e6:.1f} M MACs per plate; a 1024x1024 float32 MatMul on 1 thread "
        f"runs {peak / 1e9:.1f} G FMA/s here; the model at batch {args.batch} on 1 thread runs "
        f"{macs * fp32_one[3] / peak:.0%} of that rate, at batch 1 "
        f"{macs / (fp32_one[2] / 1000) / peak:.0%} (at or above 100%: no fp32 headroom left)"
    )
    total = sum(breakdown.values())
    print(
        f"\nwhere the time goes (one thread, stage by stage, {len(files)} files, "
        f"{total:.2f} s = {len(files) / total:.0f} plates/s):"
    )
    for stage, seconds in breakdown.items():
        print(f"  {stage:28s} {seconds * 1000 / len(files):7.3f} ms/plate  {seconds / total:6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
