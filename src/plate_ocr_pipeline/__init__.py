"""plate-ocr-pipeline: fast, lightweight license-plate OCR trained and served with Kedro.

``from plate_ocr_pipeline import ONNXPlateRecognizer`` imports neither Kedro nor TensorFlow:
the recognizer is loaded lazily so that inference stays light.
"""

__version__ = "0.1.0"

__all__ = ["ONNXPlateRecognizer", "PlateConfig", "__version__"]


def __getattr__(name: str) -> type:
    if name == "ONNXPlateRecognizer":
        from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer

        return ONNXPlateRecognizer
    if name == "PlateConfig":
        from plate_ocr_pipeline.core.plate_config import PlateConfig

        return PlateConfig
    raise AttributeError(f"module 'plate_ocr_pipeline' has no attribute {name!r}")
