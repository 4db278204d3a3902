"""Run directories: what a trained model is saved as (`directory`), and a training run's lifecycle (`train`).

    from zoo import runs

    result = runs.train_run("runs/synth", "data/synth/train.tsv", preset="rsc15-xe-shared")
    run = runs.load_run("runs/synth")
"""
from zoo.runs.directory import Run, history_events, load_run, save_run
from zoo.runs.evaluate import evaluate_saved_run
from zoo.runs.train import TrainedRun, train_run

__all__ = ["Run", "TrainedRun", "evaluate_saved_run", "history_events", "load_run", "save_run", "train_run"]
