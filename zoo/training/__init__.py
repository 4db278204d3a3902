"""Training: the input pipeline, the fit loop with its callbacks and checkpoints, and the presets.

    from zoo import training
    from zoo.training import presets

    config = presets.resolve("rsc15-xe-shared", epochs=1)
    model, vocab, log = training.fit("gru4rec", train_events, config)
"""
from zoo.training.data import item_counts, train_dataset, user_vocabulary
from zoo.training.loop import check_options, fit, make_optimizer

__all__ = ["check_options", "fit", "item_counts", "make_optimizer", "train_dataset", "user_vocabulary"]
