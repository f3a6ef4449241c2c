"""The ONNX recognizer and its command line: numpy, OpenCV and onnxruntime. Only
``distributed`` imports Dask, and only ``mlflow_model`` MLflow and pandas."""
