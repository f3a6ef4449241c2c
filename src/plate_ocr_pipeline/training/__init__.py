"""Model builders, the trainer (checkpoints, resume, weight transfer, callbacks) and export.

Needs the `train` extra (Keras, TensorFlow, tf2onnx)."""
