"""The choice between the session and the user protocol (`evaluate_run`)."""
from zoo.datasets.io import ITEM, USER
from zoo.errors import DataError, UserError
from zoo.evaluation.sessions import evaluate, known_items
from zoo.evaluation.users import evaluate_users

PROTOCOLS = ("auto", "session", "user")


def resolve_protocol(model, test, protocol="auto"):
    """`session` or `user`: `protocol` itself, or for `auto` the module docstring's choice."""
    if protocol not in PROTOCOLS:
        raise UserError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if protocol == "auto":
        return "user" if model.personalized and USER in test else "session"
    return protocol


def evaluate_run(model, test, item_vocab, protocol="auto", history=None, user_vocab=None, **options):
    """`evaluate` or `evaluate_users` by `protocol` (see the module docstring); `options`: cutoffs, ties, batch_size.

    Raises:
        UserError: an unknown protocol, or the user protocol without `history`.
    """
    protocol = resolve_protocol(model, test, protocol)
    if protocol == "session":
        return {**evaluate(model, test, item_vocab, **options), "protocol": "session"}
    if history is None:
        raise UserError("the user protocol needs the events before the test (the training events)")
    return evaluate_users(model, test, item_vocab, history, user_vocab, **options)


def check_evaluable(test, item_vocab, protocol, name):
    """Raises, before any work, the DataError that evaluating `test` by `protocol` would end in.

    Args:
        test: the event frame to evaluate on.
        item_vocab: the training item vocabulary (built before training from the training log).
        protocol: "session" or "user".
        name: how messages name the log, e.g. "test.tsv (--test)".

    Raises:
        DataError: no session would be left to rank (session protocol: none with 2 or more known
            items; user protocol: no user ids, or no known item at all).
    """
    if protocol == "user":
        if USER not in test:
            raise DataError(f"{name}: no user ids (a UserId column, or --user-key): the user protocol needs them")
        if not (item_vocab.encode(test[ITEM]) >= 0).any():
            raise DataError(f"{name}: none of its items is in the training log; nothing to evaluate")
        return
    kept, counts = known_items(test, item_vocab)
    if kept.empty:
        raise DataError(f"{name}: no session is left after dropping {counts['dropped_unknown_item_events']} events "
                        "with items unknown to the model and sessions shorter than 2; nothing to evaluate")
