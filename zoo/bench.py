"""`zoo bench ...` subcommands: timings of parts of the system."""
from zoo import bench_pipeline, bench_train
from zoo.export import bench as export_bench


def add_commands(subparsers):
    p = subparsers.add_parser("bench", help="time parts of the system")
    commands = p.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")
    commands.required = True
    bench_pipeline.add_commands(commands)
    bench_train.add_commands(commands)
    export_bench.add_commands(commands)
