"""A saved run evaluated on a test log, as `zoo evaluate` does it: full ranking by the session or the
user protocol, or the sampled protocol with fixed negatives.

    metrics = evaluate_saved_run("runs/synth", "data/synth/test.tsv", cutoffs=(20,))
    metrics["recall@20"], metrics["mrr@20"]
"""
from zoo.datasets.io import load_events
from zoo.evaluation import evaluate_fixed_negatives, evaluate_run, read_negatives, resolve_protocol
from zoo.runs.directory import history_events, load_run


def evaluate_saved_run(run_dir, test_path, *, protocol="auto", history_path=None, negatives_path=None, columns=None,
                       cutoffs=(5, 10, 20), ties="conservative", batch_size=512):
    """Loads the run at `run_dir` and evaluates it on the log at `test_path`.

    Args:
        run_dir: a run directory (`zoo.runs`).
        test_path: the test event log, read with `columns` (`load_events` names).
        protocol: "auto", "session" or "user" (`zoo.evaluation.evaluate_run`).
        history_path: the events before the test, for the user and sampled protocols; None: the
            run's own training log.
        negatives_path: a fixed-negatives file ('user item item ...' a line): the SAMPLED protocol
            instead of full ranking (`zoo.evaluation.evaluate_fixed_negatives`).
        cutoffs, ties, batch_size: of the ranking.

    Returns:
        The metrics dict of `evaluate_run` (or of `evaluate_fixed_negatives`).

    Raises:
        UserError: the run, a log or an option cannot be used.
    """
    test = load_events(test_path, **(columns or {}))
    run = load_run(run_dir)
    if negatives_path:
        return evaluate_fixed_negatives(run.model, test, run.vocab, history_events(run, history_path, columns),
                                        read_negatives(negatives_path), cutoffs=cutoffs, ties=ties)
    protocol = resolve_protocol(run.model, test, protocol)
    history = history_events(run, history_path, columns) if protocol == "user" else None
    return evaluate_run(run.model, test, run.vocab, protocol, history, run.users, cutoffs=cutoffs, ties=ties,
                        batch_size=batch_size)
