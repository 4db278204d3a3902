"""Recurrent session-based recommenders in Keras 3, exportable to TF Serving and TFLite.

Importing `zoo` is cheap: TensorFlow is imported only by the modules that need it.
"""
__version__ = "0.1.0"
