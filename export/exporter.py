"""`export_run`: a run directory -> a deployment directory.

    DIR/saved_model/<version>/   SavedModel for TF Serving (the layout it watches), see `saved_model`
    DIR/model.tflite             TFLite float32, see `tflite`
    DIR/model_fp16.tflite        float16 weights
    DIR/model_int8.tflite        dynamic-range int8 weights
    DIR/vocab.json               the item vocabulary (index <-> id)
    DIR/users.json               the user vocabulary (personalized models)
    DIR/item_vectors.npy         [n_items, H] float32 output item vectors, in vocabulary order
    DIR/item_bias.npy            [n_items] float32 item bias: score = h . vector + bias
    DIR/export.json              what was exported: model, sizes, max_k, signatures

The whole directory is built beside `DIR` and swapped with it in one step (`zoo.atomic`): a reader,
a server or a crash sees the old deployment directory or the new one, never a mix of the two, and
never none. What the export does not rewrite (other SavedModel versions, other files) is carried over
as hard links. Existing SavedModel versions and TFLite files are replaced only with `overwrite`; other
versions under `saved_model/` stay, so a new version can be added beside a served one. The other files
describe the last export. TF Serving does not reload a version it already serves when its folder is
replaced: publish a changed model under a new `--version`.
"""
import os
import shutil
import tempfile

import numpy as np

from zoo.atomic import atomic_path, write_json
from zoo.errors import UserError

FORMATS = ("saved_model", "tflite")
FORMAT_TAG = "zoo.export/1"


def _pieces(out_dir, formats, version):
    """The paths of the format pieces `export_run` would write."""
    from .tflite import VARIANTS

    paths = [os.path.join("saved_model", str(version))] if "saved_model" in formats else []
    paths += list(VARIANTS) if "tflite" in formats else []
    return [os.path.join(out_dir, p) for p in paths]


def _check_options(item_ids, version, max_k, default_k):
    if version < 1:
        raise UserError(f"--version must be a positive integer, got {version}")
    if max_k < 1 or not 1 <= default_k <= max_k:
        raise UserError(f"need 1 <= default k <= max k, got default {default_k} and max {max_k}")
    if "" in item_ids:
        raise UserError("the vocabulary holds the empty id, which the export uses as padding")


def _ids(vocab):
    return [str(i) for i in vocab.decode(np.arange(len(vocab)))]


def _save_npy(path, array):
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def export_run(run, out_dir, formats=FORMATS, version=1, max_k=100, default_k=10, overwrite=False, chunk_items=None):
    """Writes the deployment directory `out_dir` for a loaded run (`zoo.runs.load_run`).

    Args:
        run: a `zoo.runs.Run`.
        out_dir: the directory to write (created if missing).
        formats: any of "saved_model", "tflite".
        version: the SavedModel version directory under `saved_model/`.
        max_k: the largest k a request may ask for (capped at the catalogue size); TFLite returns max_k.
        default_k: the k of a SavedModel request that gives none.
        overwrite: replace pieces that exist.
        chunk_items: the SavedModel scores and ranks a catalogue of more items than this in chunks of
            this many (`saved_model.serving_module`); None: `signatures.CHUNK_ITEMS` (2^17).

    Returns:
        The contents of `export.json` (a dict).

    Raises:
        UserError: bad options, a piece exists and `overwrite` is false, or (TFLite) the model is
            larger than a flatbuffer can hold (`tflite.check_size`).
    """
    if hasattr(run.model, "score_sessions"):  # a baseline (`zoo.baselines`)
        raise UserError(f"{_where(run)}baseline {run.info.get('model')!r} cannot be exported: the export graphs run a "
                        "recurrent model's step (zoo export needs gru4rec, lstm, simple_rnn, hrnn or user_gru)")
    item_ids = _ids(run.vocab)
    users = getattr(run, "users", None)
    user_ids = _ids(users) if users is not None else None
    _check_options(item_ids, version, max_k, default_k)
    if getattr(run.model, "personalized", False) and user_ids is None:
        raise UserError("the run has no user vocabulary (users.json), which a personalized model's export needs")
    if "tflite" in formats:
        from .tflite import check_size

        check_size(run.model, item_ids, user_ids)
    existing = [p for p in _pieces(out_dir, formats, version) if os.path.exists(p)]
    if existing and not overwrite:
        raise UserError(f"{existing[0]} exists; pass --overwrite or choose another --version / --out")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UserError(f"{out_dir} is a file; --out must be a folder")
    with atomic_path(out_dir) as staging:  # old or new deployment directory, never a mix, never none
        if os.path.isdir(out_dir):  # what the export does not rewrite (other versions) is kept, as hard links
            shutil.copytree(out_dir, staging, symlinks=True, copy_function=_link_or_copy)
        return _write(run, staging, formats, version, max_k, default_k, item_ids, user_ids, chunk_items)


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copy2(source, target)


def _where(run):
    return f"{run.path}: " if getattr(run, "path", None) else ""


def _write(run, out_dir, formats, version, max_k, default_k, item_ids, user_ids, chunk_items=None):
    """`export_run`'s writing, once its checks have passed."""
    from . import saved_model, tflite
    from .signatures import CHUNK_ITEMS

    users = getattr(run, "users", None)
    os.makedirs(out_dir, exist_ok=True)
    model = run.model
    module = saved_model.serving_module(model, item_ids, max_k, default_k, user_ids,
                                        CHUNK_ITEMS if chunk_items is None else chunk_items)
    if "saved_model" in formats:
        with atomic_path(os.path.join(out_dir, "saved_model", str(version))) as tmp:
            saved_model.save(module, tmp)
    if "tflite" in formats:
        with tempfile.TemporaryDirectory(dir=out_dir, prefix=".tmp-") as tmp:
            tflite.write_tflite(model, item_ids, tmp, max_k, user_ids)
            for name in tflite.VARIANTS:
                os.replace(os.path.join(tmp, name), os.path.join(out_dir, name))
    run.vocab.save(os.path.join(out_dir, "vocab.json"))
    if users is not None:
        users.save(os.path.join(out_dir, "users.json"))
    _save_npy(os.path.join(out_dir, "item_vectors.npy"), model.item_vectors.numpy())
    _save_npy(os.path.join(out_dir, "item_bias.npy"), model.item_bias.numpy())
    info = {
        "format": FORMAT_TAG, "model": run.info.get("model"), "n_items": model.n_items,
        "hidden_size": model.layer_sizes[-1], "state_sizes": list(module.state_sizes), "state_size": module.state_size,
        "max_k": module.max_k, "default_k": module.default_k, "formats": list(formats),
        "saved_model_version": version if "saved_model" in formats else None,
        "inputs": {"user_id": module.personalized, "user_state": module.carries_user},
    }
    write_json(os.path.join(out_dir, "export.json"), info)
    return info
