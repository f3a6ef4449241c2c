"""How a reader reads synthetic old Argentine plates drawn in the installed fonts against the
same plates drawn all in stroke faces (``synthetic/stroke_face.py``). Synthetic plates only;
prints plates read exactly (docs/experiments.md, row 47).

    .venv/bin/python scripts/probe_stroke_faces.py [MODEL.onnx] [--plates 400] [--seed 777]

The default model is the shipped one, read by the default reader.
"""

from __future__ import annotations

import argparse

from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer
from plate_ocr_pipeline.synthetic.formats import groups_to_label
from plate_ocr_pipeline.synthetic.generate import PlateDrawing, plan_plates, render_planned
from plate_ocr_pipeline.synthetic.params import ArOldDrawing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=None, help="ONNX file (default: shipped)")
    parser.add_argument("--plates", type=int, default=400)
    parser.add_argument("--seed", type=int, default=777)
    args = parser.parse_args()
    reader = ONNXPlateRecognizer(args.model, threads=1)
    plans = list(plan_plates(args.plates, {"ar-old": 1}, seed=args.seed))
    labels = [groups_to_label(list(plan.groups), plan.region) for plan in plans]
    for odds in (0.0, 1.0):
        look = {**ArOldDrawing().model_dump(), "stroke_face_odds": odds}
        drawing = PlateDrawing.of(ar_old=look)
        texts = reader.run([render_planned(plan, args.seed, drawing=drawing) for plan in plans])
        right = sum(text == label for text, label in zip(texts, labels, strict=True))
        print(
            f"stroke_face_odds={odds}: {right} of {len(plans)} read exactly ({right / len(plans):.1%})"
        )


if __name__ == "__main__":
    main()
