"""`zoo bench quantization`: Recall@N and MRR@N of each TFLite variant of an export on a test log."""
import os

import numpy as np

from zoo.errors import UserError
from zoo.export.client import read_export

TFLITE = ("model.tflite", "model_fp16.tflite", "model_int8.tflite")


def bench_quantization(export_dir, test_path, cutoff=20):
    """Recall@cutoff and MRR@cutoff of each TFLite variant, streaming every test session through `step`.

    Test events whose item the export does not know are dropped, then sessions shorter than 2 (as
    `zoo evaluate` does); each next item is ranked in the top-`cutoff` list after the session's
    prefix. Returns the metrics per variant and their relative change from float32 (None where the
    float32 model ranks no target in its top `cutoff`).

    Raises:
        UserError: the export is personalized or lacks a TFLite file, `cutoff` exceeds its max_k, or
            no test session is left to measure.
    """
    from zoo.datasets.io import load_events
    from zoo.export.tflite import interpreter

    info, items = read_export(export_dir)
    if info["inputs"]["user_id"]:
        raise UserError("zoo bench quantization measures session models; this export is personalized")
    if cutoff > info["max_k"]:
        raise UserError(f"--cutoff must be at most the export's max_k {info['max_k']}")
    missing = [name for name in TFLITE if not os.path.isfile(os.path.join(export_dir, name))]
    if missing:
        raise UserError(f"{export_dir}: no {', '.join(missing)}; export the TFLite models with "
                        "`zoo export RUN_DIR --format tflite` (or all)")
    events = load_events(test_path)
    events = events.assign(ItemId=events.ItemId.astype(str)).sort_values(["SessionId", "Time"], kind="stable")
    grouped = events[events.ItemId.isin(set(items))].groupby("SessionId", sort=False).ItemId.agg(list)
    sessions = [s for s in grouped if len(s) >= 2]
    if not sessions:
        raise UserError(f"{test_path}: no session is left after dropping the items the export does not know and "
                        "sessions shorter than 2; nothing to measure")
    result = {"sessions": len(sessions), "events": sum(len(s) - 1 for s in sessions), "cutoff": cutoff}
    for name in TFLITE:
        step = interpreter(os.path.join(export_dir, name)).get_signature_runner("step")
        hits, reciprocal = 0, 0.0
        for session in sessions:
            state = np.zeros((1, info["state_size"]), np.float32)
            for item, target in zip(session[:-1], session[1:]):
                answer = step(item_id=np.array([item], dtype=object), state=state)
                state, top = answer["state"], [i.decode() for i in answer["item_ids"][0][:cutoff]]
                if target in top:
                    hits, reciprocal = hits + 1, reciprocal + 1.0 / (top.index(target) + 1)
        result[name] = {f"recall@{cutoff}": hits / result["events"], f"mrr@{cutoff}": reciprocal / result["events"]}
    for name in TFLITE[1:]:
        base = result["model.tflite"][f"recall@{cutoff}"]
        result[name]["recall_change"] = result[name][f"recall@{cutoff}"] / base - 1 if base else None
    return result
