"""Deployment: SavedModel for TF Serving, TFLite, and a local TF Serving-compatible server."""
