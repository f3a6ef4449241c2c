"""The ONNX recognizer and its command line: numpy, OpenCV and onnxruntime only."""
