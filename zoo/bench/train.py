"""`zoo bench train`: training throughput (events/s) and peak memory of a preset on a log."""
import resource
import time


def bench_train(train_path, preset=None, model="gru4rec", epochs=1, sets=(), with_model=False):
    """Trains `epochs` epochs and times them; the first epoch includes tracing, so also reported apart.

    Returns:
        dict with `events_per_s` (over all epochs after the first when there are several, else the
        first), `first_epoch_events_per_s`, `epochs`, `events` (training pairs per epoch), `load_s`,
        `peak_rss_mb` and the configuration; with `with_model`, (that dict, the trained `zoo.runs.Run`).
    """
    from zoo import training
    from zoo.datasets.io import load_events
    from zoo.training import presets

    config = presets.resolve(preset, sets, epochs=epochs)
    start = time.perf_counter()
    events = load_events(train_path)
    load_s = time.perf_counter() - start
    trained, vocab, log = training.fit(model, events, config, verbose=0)
    steady = log[1:] or log
    seconds = sum(row["seconds"] for row in steady)
    pairs = int(len(events) - events["SessionId"].nunique())
    result = {
        "events_per_s": round(pairs * len(steady) / seconds, 1),
        "first_epoch_events_per_s": log[0]["events_per_s"],
        "epochs": len(log),
        "events": pairs,
        "load_s": round(load_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "model": model,
        "preset": preset,
        "final_loss": log[-1]["loss"],
    }
    if not with_model:
        return result
    from zoo.runs import Run

    return result, Run(trained, vocab, {"model": model, "preset": preset, "config": config})
