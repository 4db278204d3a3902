"""Recurrent session-based recommenders in Keras 3, exportable to TF Serving and TFLite.

Importing `zoo` is cheap: TensorFlow is imported only by the modules that need it.

    import zoo
    zoo.list_models()
    model = zoo.get_model("gru4rec", n_items=1000)
"""
__version__ = "0.1.0"


def get_model(name, **config):
    """Builds a model of the zoo by name; see `zoo.models.registry.get_model`."""
    from zoo.models.registry import get_model as build

    return build(name, **config)


def list_models():
    """The model names `get_model` accepts, with a description each."""
    from zoo.models.registry import list_models as names

    return names()
