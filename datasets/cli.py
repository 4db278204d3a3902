"""`zoo datasets ...` subcommands."""


def add_commands(subparsers):
    p = subparsers.add_parser("datasets", help="load, describe, generate, fetch and prepare event logs")
    p.add_subparsers(dest="datasets_command", metavar="SUBCOMMAND").required = True
