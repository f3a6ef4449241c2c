"""plate-ocr-pipeline: fast, lightweight license-plate OCR trained and served with Kedro.

``from plate_ocr_pipeline import ONNXPlateRecognizer`` imports neither Kedro nor TensorFlow:
the recognizer is loaded lazily so that inference stays light.
"""

__version__ = "0.1.0"

__all__ = ["ONNXPlateRecognizer", "PlateConfig", "PlateInputError", "__version__"]


def __getattr__(name: str) -> type:
    if name in ("ONNXPlateRecognizer", "PlateInputError"):
        from plate_ocr_pipeline.inference import recognizer

        return getattr(recognizer, name)
    if name == "PlateConfig":
        from plate_ocr_pipeline.core.plate_config import PlateConfig

        return PlateConfig
    raise AttributeError(f"module 'plate_ocr_pipeline' has no attribute {name!r}")
