"""Plate config, text codec, image preprocessing and metrics: numpy and OpenCV only."""
