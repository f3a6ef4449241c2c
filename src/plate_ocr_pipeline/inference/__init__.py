"""The ONNX recognizer and its command line: numpy, OpenCV and onnxruntime (``distributed``
and ``mlflow_model`` import Dask, and MLflow and pandas,
and only they)."""
