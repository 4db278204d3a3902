"""Hyper-parameter search (`zoo tune`): an Optuna study selected on a validation split of the training log.

    from zoo.tuning import tune

    result = tune("tuning/rsc15", "train.tsv", model="gru4rec", trials=6, timeout=900)
    result.best["value"], result.preset_path      # zoo train --preset <preset_path>

`validation` carves the split (`carve_validation`), `space` holds the search spaces and the space
file, `study` runs and resumes the study and writes its files.
"""
from zoo.tuning.study import TuneResult, parse_metric, tune
from zoo.tuning.validation import carve_validation

__all__ = ["TuneResult", "carve_validation", "parse_metric", "tune"]
