"""Plate config, text codec, image preprocessing, metrics and the annotation rules: numpy and
OpenCV only."""
