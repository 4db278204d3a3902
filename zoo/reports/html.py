"""`zoo report RUNS... --out DIR`: a static HTML page with PNG plots of run directories.

    DIR/index.html    the page: the metrics table, the metrics by position in the session and by the
                      user's earlier sessions (where metrics.json has them), and the plots
    DIR/metrics.png   Recall@K and MRR@K of every run, one panel per dataset (from metrics.json)
    DIR/training.png  training loss per epoch and, where logged, val_recall@K / val_mrr@K (train_log.json)
    DIR/latency.png   serving latency p50 / p99 (with --bench: a `zoo bench serve --json` or `zoo bench all` file)
    DIR/search.png    a `zoo tune` search: each trial's validation metric and the best so far (with --study)

A run's model is config.json's `model`, its dataset the name of the folder that holds its training
log (`.../rsc15-100k/yoochoose-clicks-100k_train_full.txt` -> `rsc15-100k`). The directory is written
atomically: a reader sees the old report or the complete new one.
"""
import html
import json
import os

from zoo.atomic import atomic_path
from zoo.errors import UserError
from zoo.reports.results import BREAKDOWNS, breakdown_rows


def read_run(run_dir):
    """{"name", "model", "dataset", "log", "metrics"} of a run directory (log, metrics empty if absent)."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        raise UserError(f"{run_dir}: not a run directory (no config.json)")
    contents = {}
    for name in ("config.json", "train_log.json", "metrics.json"):
        file = os.path.join(run_dir, name)
        try:
            with open(file) as f:
                contents[name] = json.load(f)
        except FileNotFoundError:
            contents[name] = {} if name == "metrics.json" else []
        except ValueError as e:
            raise UserError(f"{file} is damaged: {e}") from None
    info = contents["config.json"]
    dataset = os.path.basename(os.path.dirname(info.get("train", ""))) or "?"
    return {"name": os.path.basename(os.path.normpath(run_dir)), "model": info.get("model", "?"), "dataset": dataset,
            "log": contents["train_log.json"], "metrics": contents["metrics.json"]}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_metrics(runs, path, cutoff=20):
    """Grouped bars of Recall@cutoff and MRR@cutoff per model, one panel per dataset."""
    plt = _pyplot()
    datasets = list(dict.fromkeys(r["dataset"] for r in runs if f"recall@{cutoff}" in r["metrics"]))
    if not datasets:
        raise UserError(f"no run has recall@{cutoff} in its metrics.json (train with --test, or pick --cutoff)")
    fig, axes = plt.subplots(1, len(datasets), figsize=(1.2 + 5.5 * len(datasets), 4.2), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        rows = sorted((r for r in runs if r["dataset"] == dataset and f"recall@{cutoff}" in r["metrics"]),
                      key=lambda r: r["metrics"][f"recall@{cutoff}"])
        x = range(len(rows))
        for offset, key, color in ((-0.2, "recall", "tab:blue"), (0.2, "mrr", "tab:orange")):
            values = [r["metrics"][f"{key}@{cutoff}"] for r in rows]
            label = f"{'Recall' if key == 'recall' else 'MRR'}@{cutoff}"
            bars = ax.bar([i + offset for i in x], values, 0.4, label=label, color=color)
            ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
        ax.set_xticks(list(x), [r["model"] for r in rows], rotation=30, ha="right")
        ax.set_title(dataset)
        ax.set_ylim(0, 1.1 * max(r["metrics"][f"recall@{cutoff}"] for r in rows))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_training(runs, path, cutoff=20):
    """Training loss per epoch (left) and the validation metrics where logged (right). False if nothing to plot."""
    runs = [r for r in runs if any("loss" in row for row in r["log"])]
    if not runs:
        return False
    plt = _pyplot()
    validated = [r for r in runs if any(f"val_recall@{cutoff}" in row for row in r["log"])]
    fig, axes = plt.subplots(1, 1 + bool(validated), figsize=(5.5 * (1 + bool(validated)), 4), squeeze=False)
    for r in runs:
        rows = [row for row in r["log"] if "loss" in row]
        axes[0][0].plot([row["epoch"] for row in rows], [row["loss"] for row in rows], marker="o",
                        label=f"{r['model']} ({r['dataset']})")
    axes[0][0].set(title="training loss (each model its own objective)", xlabel="epoch", ylabel="loss", yscale="log")
    for r in validated:
        rows = [row for row in r["log"] if f"val_recall@{cutoff}" in row]
        epochs = [row["epoch"] for row in rows]
        line, = axes[0][1].plot(epochs, [row[f"val_recall@{cutoff}"] for row in rows], marker="o",
                                label=f"{r['model']} Recall@{cutoff}")
        axes[0][1].plot(epochs, [row[f"val_mrr@{cutoff}"] for row in rows], marker="s", linestyle="--",
                        color=line.get_color(), label=f"{r['model']} MRR@{cutoff}")
    if validated:
        axes[0][1].set(title="validation", xlabel="epoch")
    from matplotlib.ticker import MaxNLocator

    for ax in axes[0]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def read_study(study_dir):
    """The trials of a `zoo tune` folder (its trials.json): {"metric", "trials": [...]}."""
    path = os.path.join(study_dir, "trials.json")
    try:
        with open(path) as f:
            study = json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f"--study {study_dir}: not a zoo tune folder ({path}: {e})") from None
    if not isinstance(study, dict) or not isinstance(study.get("trials"), list):
        raise UserError(f"--study {study_dir}: {path} has no list of trials")
    return study


def plot_search(study, path):
    """The validation metric of each trial in trial order (completed: dots; pruned: crosses, at the
    value of their last epoch) and the best so far (a step line)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    trials = sorted(study["trials"], key=lambda t: t["number"])
    best, line = None, []
    for state, marker in (("complete", "o"), ("pruned", "x")):
        chosen = [t for t in trials if t["state"] == state and t.get("value") is not None]
        ax.scatter([t["number"] for t in chosen], [t["value"] for t in chosen], marker=marker, label=state)
    for t in trials:
        if t["state"] == "complete" and t.get("value") is not None:
            best = t["value"] if best is None else max(best, t["value"])
        line.append(best)
    ax.step([t["number"] for t in trials], [float("nan") if b is None else b for b in line], where="post", label="best so far")
    ax.set(title="zoo tune: the search", xlabel="trial", ylabel=f"validation {study['metric']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_latency(bench, path):
    """Horizontal bars of p50 and p99 latency (ms) of every serving path of a bench JSON."""
    latency = bench.get("serve", bench).get("latency")
    if not latency:
        raise UserError("the --bench file has no serving latency "
                        "(expected the JSON of `zoo bench serve --json` or `zoo bench all`)")
    plt = _pyplot()
    names = sorted(latency)
    fig, ax = plt.subplots(figsize=(7.5, 0.8 + 0.35 * len(names)))
    y = range(len(names))
    ax.barh([i - 0.2 for i in y], [latency[n]["p50_ms"] for n in names], 0.4, label="p50")
    ax.barh([i + 0.2 for i in y], [latency[n]["p99_ms"] for n in names], 0.4, label="p99")
    ax.set_yticks(list(y), names, fontsize=8)
    ax.set(xlabel="ms (batch 1, log scale)", title="serving latency", xscale="log")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _table(runs, cutoff):
    head = f"<tr><th>run</th><th>model</th><th>dataset</th><th>Recall@{cutoff}</th><th>MRR@{cutoff}</th></tr>"
    cells = []
    for r in runs:
        values = [f"{r['metrics'][k]:.4f}" if k in r["metrics"] else "-"
                  for k in (f"recall@{cutoff}", f"mrr@{cutoff}")]
        cells.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>"
                                      for v in (r["name"], r["model"], r["dataset"], *values)) + "</tr>")
    return f"<table>{head}{''.join(cells)}</table>"


def _breakdown_tables(runs, cutoff):
    """A table per breakdown (`zoo.evaluation.breakdowns`) of the runs whose metrics have it: a row per
    run, a column per group, Recall@K / MRR@K (events) in each cell."""
    tables = []
    for key, title in BREAKDOWNS:
        rows = [r for r in runs if key in r["metrics"]]
        if not rows:
            continue
        groups = list(rows[0]["metrics"][key])
        head = f"<tr><th>run</th>{''.join(f'<th>{html.escape(g)}</th>' for g in groups)}</tr>"
        cells = []
        for r in rows:
            values = {group: (recall, mrr, events) for group, recall, mrr, events in
                      dict(breakdown_rows(r["metrics"], cutoff))[title]}
            texts = [f"{values[g][0]:.4f} / {values[g][1]:.4f} ({values[g][2]})" if values[g][2] else "-"
                     for g in groups]
            cells.append("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in (r["name"], *texts)) + "</tr>")
        tables.append(f"<h2>Recall@{cutoff} / MRR@{cutoff} (events) by {html.escape(title)}</h2>"
                      f"<table>{head}{''.join(cells)}</table>")
    return "".join(tables)


def write_report(run_dirs, out_dir, bench_path=None, cutoff=20, study_dir=None):
    """Writes the report of the run directories into `out_dir` (replaced atomically); returns its index path.

    `study_dir`: a `zoo tune` folder, whose search is plotted (search.png)."""
    runs = [read_run(d) for d in run_dirs]
    study = read_study(study_dir) if study_dir else None
    bench = None
    if bench_path:
        try:
            with open(bench_path) as f:
                bench = json.load(f)
        except (OSError, ValueError) as e:
            raise UserError(f"--bench {bench_path}: {e}") from None
    with atomic_path(out_dir) as tmp:
        os.makedirs(tmp)
        plot_metrics(runs, os.path.join(tmp, "metrics.png"), cutoff)
        images = ["metrics.png"]
        if plot_training(runs, os.path.join(tmp, "training.png"), cutoff):
            images.append("training.png")
        if bench is not None:
            plot_latency(bench, os.path.join(tmp, "latency.png"))
            images.append("latency.png")
        if study is not None:
            plot_search(study, os.path.join(tmp, "search.png"))
            images.append("search.png")
        body = "".join(f'<p><img src="{name}" alt="{name[:-4]}"></p>' for name in images)
        page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>rnn-session-zoo report</title>"
                "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}</style></head>"
                f"<body><h1>Report</h1>{_table(runs, cutoff)}{_breakdown_tables(runs, cutoff)}{body}</body></html>\n")
        with open(os.path.join(tmp, "index.html"), "w") as f:
            f.write(page)
    return os.path.join(out_dir, "index.html")
