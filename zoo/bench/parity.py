"""`zoo bench parity`: how closely an export's answers match the Keras model of its run on a test log.

For every test session (items unknown to the run dropped, sessions of one known item or more kept),
the whole session is the history: the SavedModel's `serving_default` (in a TF1 session, as TF Serving
runs it) and each TFLite variant's `recommend` are compared with the Keras model's full scores.
"""
import os

import numpy as np

from zoo.errors import UserError


def _sessions(test_path, vocab):
    from zoo.datasets.io import load_events

    events = load_events(test_path)
    events = events.assign(ItemId=events.ItemId.astype(str)).sort_values(["SessionId", "Time"], kind="stable")
    known = set(str(i) for i in vocab.decode(np.arange(len(vocab))))
    return [s for s in events[events.ItemId.isin(known)].groupby("SessionId", sort=False).ItemId.agg(list)]


def _summary(deltas, same_top10, tolerance):
    deltas = np.asarray(deltas)
    return {"max_abs_score_diff": float(deltas.max()), "p99_abs_score_diff": float(np.percentile(deltas, 99)),
            "share_within_tolerance": float(np.mean(deltas <= tolerance)), "top10_identical": float(np.mean(same_top10))}


def bench_parity(run, export_dir, test_path, tolerance=1e-4, batch=512):
    """Per export format: the largest and 99th-percentile |score difference| over each session's top
    max_k, the share of sessions within `tolerance`, and the share with the identical top-10."""
    from zoo.export.servable import Servable
    from zoo.export.tflite import VARIANTS, interpreter

    if getattr(run.model, "personalized", False):
        raise UserError("zoo bench parity compares session models; this run's model is personalized")
    sessions = _sessions(test_path, run.vocab)
    if not sessions:
        raise UserError(f"{test_path}: no test session has an item the run knows")
    indices = [list(run.vocab.encode(s)) for s in sessions]
    width = max(map(len, indices))
    padded = np.array([r + [-1] * (width - len(r)) for r in indices], np.int32)
    keras = np.concatenate([run.model(padded[i:i + batch]).numpy() for i in range(0, len(padded), batch)])
    top10 = np.argsort(-keras, axis=1, kind="stable")[:, :10]
    result = {"sessions": len(sessions), "tolerance": tolerance}

    def compare(ids, scores, row):
        found = run.vocab.encode([i.decode() for i in ids])
        return float(np.abs(scores - keras[row, found]).max()), list(found[:10]) == list(top10[row])

    servable = Servable(export_dir)
    histories = np.array([s + [""] * (width - len(s)) for s in sessions], dtype=object)
    rows = []
    for start in range(0, len(histories), batch):
        answer = servable.predict("serving_default", {"item_ids": histories[start:start + batch]})
        rows += [compare(ids, scores, start + i) for i, (ids, scores) in enumerate(zip(answer["item_ids"],
                                                                                        answer["scores"]))]
    result["saved_model"] = _summary(*zip(*rows), tolerance)
    servable.close()
    for name in VARIANTS:
        recommend = interpreter(os.path.join(export_dir, name)).get_signature_runner("recommend")
        rows = []
        for row, session in enumerate(sessions):
            answer = recommend(item_ids=np.array([session], dtype=object))
            rows.append(compare(answer["item_ids"][0], answer["scores"][0], row))
        result[name] = _summary(*zip(*rows), tolerance)
    return result
