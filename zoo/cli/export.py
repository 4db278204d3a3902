"""`zoo export` and `zoo serve`: parse, call `zoo.export`, print."""
import json
import signal
import sys
import threading

from zoo.errors import UserError

FORMAT_CHOICES = {"saved_model": ("saved_model",), "tflite": ("tflite",), "all": ("saved_model", "tflite")}


def add_commands(subparsers):
    p = subparsers.add_parser("export", help="write a SavedModel for TF Serving and TFLite models of a run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--out", required=True, metavar="DIR", help="deployment directory (SavedModel at DIR/saved_model/V/)")
    p.add_argument("--format", default="all", choices=tuple(FORMAT_CHOICES), help="what to write (default all)")
    p.add_argument("--version", type=int, default=1, help="SavedModel version folder (default 1)")
    p.add_argument("--max-k", type=int, default=100, help="largest k a request may ask for (default 100)")
    p.add_argument("--default-k", type=int, default=10, help="k of a request that gives none (default 10)")
    p.add_argument("--overwrite", action="store_true", help="replace that version and the TFLite files if they exist")
    p.add_argument("--json", action="store_true", help="print export.json")
    p.set_defaults(func=_export)

    p = subparsers.add_parser("serve", help="serve an export over TF Serving's gRPC and REST APIs until SIGTERM")
    p.add_argument("dir", metavar="DIR", help="deployment directory of `zoo export` (or a folder of versions)")
    p.add_argument("--grpc-port", type=int, default=8500, help="gRPC port (default 8500; 0: a free one)")
    p.add_argument("--rest-port", type=int, default=8501, help="REST port (default 8501; 0: a free one)")
    p.add_argument("--model-name", default="default", help="model name of the requests (default 'default')")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.set_defaults(func=_serve)


def _export(args):
    from zoo import runs
    from zoo.export.exporter import export_run

    run = runs.load_run(args.run_dir)
    info = export_run(run, args.out, FORMAT_CHOICES[args.format], version=args.version, max_k=args.max_k,
                      default_k=args.default_k, overwrite=args.overwrite)
    if args.json:
        print(json.dumps(info, sort_keys=True))
    else:
        print(f"exported {info['model']} ({', '.join(info['formats'])}) to {args.out}", file=sys.stderr)


def _serve(args):
    from zoo.export.server import Server

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        server = Server(args.dir, args.model_name, args.grpc_port, args.rest_port, args.host).start()
    except (OSError, RuntimeError) as e:
        raise UserError(f"cannot start the server: {e}") from None
    print(f"serving {args.model_name} version {server.servable.version}: gRPC {args.host}:{server.grpc_port}, "
          f"REST http://{args.host}:{server.rest_port}", flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    print("stopped", flush=True)
