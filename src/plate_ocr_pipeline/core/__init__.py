"""Plate config, text codec, image preprocessing, metrics and the annotation rules: numpy, OpenCV
and PyYAML only (writing ONNX metadata imports onnx)."""
