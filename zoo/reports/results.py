"""`zoo results`: the README's results table: every model and the most-popular baseline on three datasets.

Datasets, from the shared data folder (`--data`):

    rsc15-100k  yoochoose-clicks-100k_train_full.txt -> _test.txt as prepared by session-rec; the
                session protocol (each test session from zero). The log has no users: each session
                is its own user (`UserId` = `SessionId`), so HRNN plays every session as a user's
                first (its session GRU alone) and the user-gated GRU learns a vector per training
                session and scores the (unseen) test sessions with its fallback vector.
    ml-100k     ml-100k.inter cut into sessions by a 30-minute gap, sessions >= 2 events and items
                >= 5 events (repeated until stable), each user's last session as test, test items
                unseen in train dropped: `zoo datasets prep ml-100k.inter --user-key user_id:token
                --item-key item_id:token --time-key timestamp:float --split last-session`. The user
                protocol (each test session after the user's train sessions).
    lastfm      LastFM.txt (S3-Rec), each user's sequence one session, its last item the test:
                `zoo datasets prep LastFM.txt --format lastfm-s3rec --split leave-one-out`. The user
                protocol (the test item ranked after the rest of the sequence).
    globo       globo/globo-clicks-even-users.parquet (news clicks, users returning over several
                sessions), each user's last session as test, with prep's default filters:
                `zoo datasets prep globo-clicks-even-users.parquet --user-key UserId --split
                last-session`. The user protocol; rows also carry the metrics by position in the
                session and by the user's earlier sessions (`zoo.evaluation.breakdowns`).

Every model trains with the same configuration: the `rsc15-xe-shared` preset (the reference GRU4Rec's
tuned RSC15 parameters: cross-entropy with logQ, 2048 popularity-sampled negatives, 100 units, shared
embedding, batch 32) for `--epochs` epochs, the personalized models with their default options.
`popularity` ranks the items by their training count; the other baselines (`--models` may name any
of `zoo models`) run with their default options. Metrics: Recall@20 and MRR@20 over all training
items, conservative ties. Training events/s: (input, target) pairs per second over the epochs after
the first (the first includes tracing).
"""
import json
import os

DATASETS = ("rsc15-100k", "ml-100k", "lastfm", "globo")
MODELS = ("simple_rnn", "gru4rec", "lstm", "hrnn", "user_gru")
PRESET = "rsc15-xe-shared"
BREAKDOWNS = (("by_position", "the prediction after click n"), ("by_earlier_sessions", "the user's earlier sessions"))


def breakdown_rows(metrics, cutoff=20):
    """[(title, [(group, Recall@cutoff, MRR@cutoff, events)])] of a metrics dict's breakdowns
    (`zoo.evaluation.breakdowns`); a group without events has None for its metrics."""
    rows = []
    for key, title in BREAKDOWNS:
        if key in metrics:
            rows.append((title, [(group, m.get(f"recall@{cutoff}"), m.get(f"mrr@{cutoff}"), m["events"])
                                 for group, m in metrics[key].items()]))
    return rows


def format_breakdowns(metrics, cutoff=20):
    """The breakdowns as text lines: per group, Recall@cutoff / MRR@cutoff (events)."""
    lines = []
    for title, groups in breakdown_rows(metrics, cutoff):
        cells = [f"{group}: {recall:.4f} / {mrr:.4f} ({events})" if events else f"{group}: - (0)"
                 for group, recall, mrr, events in groups]
        lines.append(f"by {title}, R@{cutoff} / MRR@{cutoff} (events): " + "   ".join(cells))
    return lines


def load_dataset(name, data_dir):
    """(train, test, protocol) of a dataset of the table, prepared as the module docstring says."""
    from zoo.datasets import io, prep, readers, splits

    if name == "rsc15-100k":
        folder = os.path.join(data_dir, "rsc15-100k")
        train, test = (io.load_events(os.path.join(folder, f"yoochoose-clicks-100k_{part}.txt"))
                       for part in ("train_full", "test"))
        return train.assign(UserId=train.SessionId), test.assign(UserId=test.SessionId), "session"
    if name == "ml-100k":
        events = io.load_events(os.path.join(data_dir, "ml-100k", "ml-100k.inter"), item_key="item_id:token",
                                time_key="timestamp:float", user_key="user_id:token")
        events, _ = prep.filter_log(prep.sessionize(events, 1800)[0])
        train, test, _ = splits.split_last_session(events)
        min_length = 2
    elif name == "globo":
        from zoo.datasets.prepare import prepare

        events = io.load_events(os.path.join(data_dir, "globo", "globo-clicks-even-users.parquet"), user_key="UserId")
        train, test, _ = prepare(events, split="last-session")
        return train, test, "user"
    else:
        events = readers.read_user_sequences(os.path.join(data_dir, "lastfm-s3rec", "LastFM.txt"))
        train, test, _ = splits.split_leave_one_out(prep.filter_log(events)[0])
        min_length = 1
    train, test, _ = splits.align_test(train, test, min_length)
    return train, test, "user"


def evaluate_on(model, train, test, vocab, protocol, users=None):
    """Recall@20 and MRR@20 of `model` by the dataset's protocol."""
    from zoo.evaluation import evaluate_run

    metrics = evaluate_run(model, test, vocab, protocol, history=train, user_vocab=users, cutoffs=(20,))
    kept = ("recall@20", "mrr@20", "events", "by_position", "by_earlier_sessions") if protocol == "user" else \
        ("recall@20", "mrr@20", "events")
    return {key: metrics[key] for key in kept if key in metrics}


def results(data_dir, datasets=DATASETS, models=MODELS, epochs=3, progress=None):
    """One row (a dict) per dataset and model (`popularity` first), each with Recall@20, MRR@20 and events/s.

    `progress`: a stream for each finished row as a JSON line (not `keras.utils.Progbar`, which writes
    a bar to stdout, where the table goes, and would drop the row's figures).
    """
    from zoo import baselines, training
    from zoo.baselines.pop import Pop
    from zoo.models.registry import BASELINES
    from zoo.datasets.vocab import Vocabulary
    from zoo.training import presets

    config = presets.resolve(PRESET, epochs=epochs)
    rows = []
    for dataset in datasets:
        train, test, protocol = load_dataset(dataset, data_dir)
        vocab = Vocabulary.fit(train.ItemId)
        popularity = Pop(len(vocab), counts=training.item_counts(train, vocab))
        rows.append({"dataset": dataset, "model": "popularity", "protocol": protocol,
                     **evaluate_on(popularity, train, test, vocab, protocol)})
        for name in models:
            if name in BASELINES:
                fitted, vocab, _ = baselines.fit(name, train)
                rows.append({"dataset": dataset, "model": name, "protocol": protocol,
                             **evaluate_on(fitted, train, test, vocab, protocol)})
                continue
            users = training.user_vocabulary(train, name)
            model, vocab, log = training.fit(name, train, config, verbose=0, user_vocab=users)
            steady = log[1:] or log
            pairs = len(train) - train.SessionId.nunique()
            rows.append({"dataset": dataset, "model": name, "protocol": protocol,
                         **evaluate_on(model, train, test, vocab, protocol, users),
                         "events_per_s": round(pairs * len(steady) / sum(row["seconds"] for row in steady), 1),
                         "epochs": len(log), "final_loss": log[-1]["loss"]})
            if progress:
                print(json.dumps({k: v for k, v in rows[-1].items() if not k.startswith("by_")}), file=progress,
                      flush=True)
    return rows


def format_table(rows):
    """The rows as a Markdown table: a line per model, Recall@20 / MRR@20 / events/s per dataset."""
    datasets = list(dict.fromkeys(row["dataset"] for row in rows))
    models = list(dict.fromkeys(row["model"] for row in rows))
    cell = {(row["dataset"], row["model"]): row for row in rows}
    head = "| model | " + " | ".join(f"{d} R@20 | {d} MRR@20 | {d} ev/s" for d in datasets) + " |"
    lines = [head, "|---|" + "---:|" * (3 * len(datasets))]
    for model in models:
        values = []
        for dataset in datasets:
            row = cell.get((dataset, model))
            if row is None:
                values += ["", "", ""]
                continue
            speed = f"{row['events_per_s']:.0f}" if "events_per_s" in row else "-"
            values += [f"{row['recall@20']:.4f}", f"{row['mrr@20']:.4f}", speed]
        lines.append(f"| {model} | " + " | ".join(values) + " |")
    for dataset in datasets:
        lines += format_breakdown_table([row for row in rows if row["dataset"] == dataset and "by_position" in row],
                                        dataset)
    return "\n".join(lines)


def format_breakdown_table(rows, dataset):
    """The rows' MRR@20 by position and by earlier sessions as a Markdown table (none without rows)."""
    if not rows:
        return []
    names = [f"{'click' if key == 'by_position' else 'earlier'} {group}"
             for key, _ in BREAKDOWNS if key in rows[0] for group in rows[0][key]]
    lines = ["", f"{dataset}: MRR@20 by the prediction's position in the session (after click n) and by the "
             "user's earlier sessions; the last row counts the events of each group", "",
             "| model | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for row in rows:
        cells = [f"{mrr:.4f}" if events else "-" for _, groups in breakdown_rows(row) for _, _, mrr, events in groups]
        lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
    counts = [str(events) for _, groups in breakdown_rows(rows[0]) for *_, events in groups]
    lines.append("| events | " + " | ".join(counts) + " |")
    return lines

