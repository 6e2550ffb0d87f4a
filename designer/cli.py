"""`netdesigner`: the command-line front end over the same core as the GUI.

Heavy modules (Qt, TensorFlow) are imported only by the subcommands that need them, so
`netdesigner validate` starts in a fraction of a second.
"""
from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_PROBLEMS, EXIT_UNREADABLE = 0, 1, 2


def _shape_text(shapes) -> str:
    from graph.shapes import fmt
    if shapes is None:
        return "?"
    return ", ".join(fmt(s) for s in shapes)


def _validate_data(graph, analysis) -> dict:
    nodes = []
    for n in graph.nodes():
        node, report = graph.node(n), analysis.report(n)
        nodes.append({
            "id": n, "type": node.type,
            "outputs": None if report.outputs is None else [list(s) for s in report.outputs],
            "params": report.params, "trainable_params": report.trainable,
            "flops": report.flops,
            "problems": [p.to_dict() for p in report.problems],
        })
    return {
        "nodes": nodes,
        "edges": [{"source": e.source, "source_port": e.source_port, "target": e.target,
                   "target_port": e.target_port,
                   "shape": None if analysis.edge_shape(e) is None else list(analysis.edge_shape(e))}
                  for e in graph.edges()],
        "totals": {"params": analysis.total_params(), "trainable_params": analysis.total_trainable(),
                   "flops": analysis.total_flops(), "layers": len(graph)},
        "problems": [p.to_dict() for p in analysis.problems()],
        "ok": analysis.ok,
    }


def _print_table(path, graph, analysis, out) -> None:
    rows = [("layer", "type", "output shape", "params", "FLOPs")]
    for n in graph.nodes():
        report = analysis.report(n)
        rows.append((n, graph.node(n).type, _shape_text(report.outputs), f"{report.params:,}",
                     f"{report.flops:,}"))
    rows.append(("total", "", "", f"{analysis.total_params():,}", f"{analysis.total_flops():,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    print(f"{path}: {len(graph)} layers", file=out)
    for i, row in enumerate(rows):
        if i == len(rows) - 1:
            print("  " + "-" * (sum(widths) + 8), file=out)
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]),
                 row[3].rjust(widths[3]), row[4].rjust(widths[4])]
        print("  " + "  ".join(cells).rstrip(), file=out)
    trainable = analysis.total_trainable()
    if trainable != analysis.total_params():
        print(f"  ({trainable:,} trainable, {analysis.total_params() - trainable:,} not)",
              file=out)
    problems = analysis.problems()
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    if not problems:
        print("No problems.", file=out)
    for title, group in (("error", errors), ("warning", warnings)):
        if group:
            print(f"{len(group)} {title}{'s' if len(group) != 1 else ''}:", file=out)
            for p in group:
                print(f"  {p}", file=out)


def cmd_validate(args) -> int:
    from graph import fileformat
    from graph.validation import Analysis
    try:
        graph = fileformat.load(args.file)
    except fileformat.GraphFileError as e:
        if args.json:
            print(json.dumps({"file": e.file, "ok": False,
                              "error": {"json_path": e.json_path, "message": e.message}},
                             indent=2))
        else:
            print(f"error: {e}", file=sys.stderr)
        return EXIT_UNREADABLE
    analysis = Analysis(graph, live=False)
    if args.json:
        print(json.dumps({"file": str(args.file), **_validate_data(graph, analysis)}, indent=2))
    else:
        _print_table(args.file, graph, analysis, sys.stdout)
    return EXIT_OK if analysis.ok else EXIT_PROBLEMS


def cmd_layers(args) -> int:
    from graph import CATALOG
    if args.json:
        print(json.dumps([t.describe() for t in CATALOG], indent=2))
        return EXIT_OK
    for category, types in CATALOG.categories().items():
        print(category)
        for t in types:
            print(f"  {t.type_id:<24} {t.description}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netdesigner",
        description="Design, check, train and export neural networks. "
                    "`netdesigner` alone opens the designer; `netdesigner FILE` opens a file in it.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("validate", help="check a .graph file: every layer's output shape, "
                                        "parameter count and problems (exit 1 on problems)")
    p.add_argument("file", help="a .graph project file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("layers", help="list the layer catalog")
    p.add_argument("--json", action="store_true", help="print the declarations as JSON")
    p.set_defaults(func=cmd_layers)
    parser.commands = dict(sub.choices)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    commands = set(parser.commands)
    if not argv or (argv[0] not in commands and not argv[0].startswith("-")):
        # `netdesigner` or `netdesigner FILE`: the designer window
        if len(argv) > 1:
            parser.error(f"unknown command {argv[0]!r}")
        from .app import run
        return run(argv[0] if argv else None)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
