"""`zoo bench serve` (latencies and file sizes of an export), `zoo bench quantization` (the Recall@N
and MRR@N of each TFLite variant on a test log) and `zoo bench parity` (see `parity`)."""
import json
import os
import time
import urllib.request

import numpy as np

from zoo.errors import UserError

TFLITE = ("model.tflite", "model_fp16.tflite", "model_int8.tflite")


def _percentiles(call, requests):
    call()  # warm-up
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return {"p50_ms": round(float(np.percentile(times, 50)) * 1e3, 3),
            "p99_ms": round(float(np.percentile(times, 99)) * 1e3, 3)}


def _size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def _read_export(export_dir):
    path = os.path.join(export_dir, "export.json")
    if not os.path.isfile(path):
        raise UserError(f"{export_dir}: not an export directory of `zoo export` (no export.json)")
    with open(path) as f:
        info = json.load(f)
    with open(os.path.join(export_dir, "vocab.json")) as f:
        items = [str(i) for i in json.load(f)["ids"]]
    return info, items


def _requests(info, items, history_length=5):
    """Batch-1 inputs of `serving_default` and `step` (personalized: an unseen user, a new one)."""
    user = {}
    if info["inputs"]["user_id"]:
        user["user_id"] = np.array(["?"], dtype=object)
    zeros = np.zeros((1, info["state_size"]), np.float32)
    history = {"item_ids": np.array([items[:history_length]], dtype=object), **user}
    step = {"item_id": np.array([items[0]], dtype=object), "state": zeros, **user}
    if info["inputs"]["user_state"]:
        history["user_state"], step["new_session"] = zeros, np.array([True])
    return {"serving_default": history, "step": step}


def _grpc_call(stub, model_name, signature, inputs):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = model_name, signature
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return lambda: stub.Predict(request, timeout=30)


def _rest_call(url, signature, inputs):
    columns = {n: (v.astype(str) if v.dtype == object else v).tolist() for n, v in inputs.items()}
    body = json.dumps({"signature_name": signature, "inputs": columns}).encode()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return lambda: opener.open(urllib.request.Request(url, data=body, method="POST"), timeout=30).read()


def bench_serve(export_dir, requests=200):
    """Latencies (p50/p99, ms, batch 1) of `serving_default` and `step`: in process (TF1 session, as
    TF Serving runs them), through the local server by gRPC and REST, and of the TFLite signatures;
    plus the file sizes in bytes."""
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    from .server import Server
    from .tflite import interpreter

    info, items = _read_export(export_dir)
    inputs, result = _requests(info, items), {"sizes": {}, "latency": {}, "requests": requests}
    with Server(export_dir, "bench", grpc_port=0, rest_port=0) as server:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(
            f"127.0.0.1:{server.grpc_port}", options=[("grpc.enable_http_proxy", 0)]))
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/bench:predict"
        for signature, values in inputs.items():
            calls = {"in_process": lambda s=signature, v=values: server.servable.predict(s, v),
                     "grpc": _grpc_call(stub, "bench", signature, values),
                     "rest": _rest_call(url, signature, values)}
            for where, call in calls.items():
                result["latency"][f"saved_model.{signature}.{where}"] = _percentiles(call, requests)
        result["sizes"]["saved_model"] = _size(os.path.join(server.servable.base, str(server.servable.version)))
    for name in TFLITE:
        path = os.path.join(export_dir, name)
        if not os.path.isfile(path):
            continue
        result["sizes"][name] = _size(path)
        lite = interpreter(path)
        tflite_inputs = {"recommend": inputs["serving_default"], "step": inputs["step"]}
        for signature, values in tflite_inputs.items():
            run = lite.get_signature_runner(signature)
            result["latency"][f"{name}.{signature}"] = _percentiles(lambda r=run, v=values: r(**v), requests)
    return result


def bench_quantization(export_dir, test_path, cutoff=20):
    """Recall@cutoff and MRR@cutoff of each TFLite variant, streaming every test session through `step`.

    Test events whose item the export does not know are dropped, then sessions shorter than 2 (as
    `zoo evaluate` does); each next item is ranked in the top-`cutoff` list after the session's
    prefix. Returns the metrics per variant and their relative change from float32.
    """
    from zoo.datasets.io import load_events

    from .tflite import interpreter

    info, items = _read_export(export_dir)
    if info["inputs"]["user_id"]:
        raise UserError("zoo bench quantization measures session models; this export is personalized")
    if cutoff > info["max_k"]:
        raise UserError(f"--cutoff must be at most the export's max_k {info['max_k']}")
    events = load_events(test_path)
    events = events.assign(ItemId=events.ItemId.astype(str)).sort_values(["SessionId", "Time"], kind="stable")
    grouped = events[events.ItemId.isin(set(items))].groupby("SessionId", sort=False).ItemId.agg(list)
    sessions = [s for s in grouped if len(s) >= 2]
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
        result[name]["recall_change"] = result[name][f"recall@{cutoff}"] / result["model.tflite"][f"recall@{cutoff}"] - 1
    return result


def add_commands(commands):
    p = commands.add_parser("serve", help="latencies of an export: SavedModel in process, gRPC, REST, TFLite")
    p.add_argument("dir", metavar="DIR", help="deployment directory of `zoo export`")
    p.add_argument("--requests", type=int, default=200, help="timed requests per case (default 200)")
    p.add_argument("--load", type=int, nargs=2, metavar=("CLIENTS", "REQUESTS"),
                   help="also load-test the local server by gRPC and REST (as `zoo bench load`), e.g. 32 20000")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_serve)
    p = commands.add_parser("quantization", help="Recall@N / MRR@N of the TFLite variants of an export on a test log")
    p.add_argument("dir", metavar="DIR", help="deployment directory of `zoo export` (with TFLite files)")
    p.add_argument("--test", required=True, metavar="PATH", help="test event log")
    p.add_argument("--cutoff", type=int, default=20, help="N of Recall@N and MRR@N (default 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_quantization)
    p = commands.add_parser("parity", help="how closely an export's answers match the Keras model of its run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("dir", metavar="DIR", help="deployment directory of `zoo export` of that run")
    p.add_argument("--test", required=True, metavar="PATH", help="test event log")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_parity)
    from .load import add_command  # it imports this module's request builders

    add_command(commands)


def _serve(args):
    if args.requests < 1:
        raise UserError(f"--requests must be >= 1, got {args.requests}")
    result = bench_serve(args.dir, args.requests)
    if args.load:
        from .load import load_test

        clients, requests = args.load
        result["load"] = {protocol: load_test(args.dir, clients, requests, protocol) for protocol in ("grpc", "rest")}
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return
    for case, times in result["latency"].items():
        print(f"{case:<44} p50 {times['p50_ms']:8.3f} ms   p99 {times['p99_ms']:8.3f} ms")
    for protocol, load in result.get("load", {}).items():
        print(f"load {protocol:<39} {load['errors']} errors of {load['sent']}, p50 {load['p50_ms']:.1f} ms, "
              f"p99 {load['p99_ms']:.1f} ms, {load['requests_per_s']:.0f} requests/s")
    for name, size in result["sizes"].items():
        print(f"{name:<44} {size / 1e6:8.2f} MB")


def _quantization(args):
    if args.cutoff < 1:
        raise UserError(f"--cutoff must be >= 1, got {args.cutoff}")
    result = bench_quantization(args.dir, args.test, args.cutoff)
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return
    print(f"{result['events']} test events in {result['sessions']} sessions")
    for name in TFLITE:
        metrics = result[name]
        change = f"  (recall {metrics['recall_change']:+.2%} vs float32)" if "recall_change" in metrics else ""
        print(f"{name:<20} recall@{args.cutoff} {metrics[f'recall@{args.cutoff}']:.4f}  "
              f"mrr@{args.cutoff} {metrics[f'mrr@{args.cutoff}']:.4f}{change}")


def _parity(args):
    from zoo import runs

    from .parity import bench_parity

    result = bench_parity(runs.load_run(args.run_dir), args.dir, args.test)
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return
    print(f"{result['sessions']} test sessions, whole session as history")
    for name, r in result.items():
        if isinstance(r, dict):
            print(f"{name:<20} max |score diff| {r['max_abs_score_diff']:.2e}  p99 {r['p99_abs_score_diff']:.2e}  "
                  f"within {result['tolerance']:g}: {r['share_within_tolerance']:.2%}  "
                  f"top-10 identical: {r['top10_identical']:.2%}")
