"""`specc render`: draw a spec with Graphviz (no torch); DOT on stdout or a file."""
from __future__ import annotations

import os
import shutil
import sys

from specc.cli._common import (EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, add_dim_option,
                               check_dims_used, parse_dims, print_diagnostics)

FORMATS = ("svg", "png", "pdf", "dot")


def add_parser(sub) -> None:
    p = sub.add_parser("render", help="draw the architecture with Graphviz (no torch)")
    p.add_argument("path")
    p.add_argument("-o", "--output", help="OUT.svg|png|pdf|dot (default: print DOT)")
    p.add_argument("--format", choices=FORMATS, default=None)
    p.add_argument("--depth", type=int, default=None, help="collapse scopes deeper than N")
    p.add_argument("--rankdir", choices=("TB", "LR", "BT", "RL"), default="TB")
    p.add_argument("--no-shapes", action="store_true", help="no shapes on edges")
    p.add_argument("--params", action="store_true", help="show parameter counts")
    p.add_argument("--receptive-field", action="store_true",
                   help="annotate spatial/temporal nodes with their receptive field")
    add_dim_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from specc.analysis import analyse_path
    from specc.diagram import AUTO_DEPTH_NODES, RenderError, auto_depth, render_graph, run_dot

    dims = parse_dims(args.dim)
    try:
        import graphviz  # noqa: F401
    except ImportError:
        print("specc render needs the graphviz Python package: pip install graphviz",
              file=sys.stderr)
        return EXIT_USAGE
    analysis = analyse_path(args.path, dims=dims)
    check_dims_used(dims, [analysis])
    if analysis.diagnostics:
        print_diagnostics(analysis)
    if analysis.graph is None:
        return EXIT_FINDINGS
    depth = args.depth
    if depth is None:
        depth = auto_depth(analysis.graph)
        if depth is not None:
            print(f"specc: the model has more than {AUTO_DEPTH_NODES} nodes: scopes deeper than "
                  f"{depth} are collapsed (--depth N to choose)", file=sys.stderr)
    dot = render_graph(analysis, depth, args.rankdir, not args.no_shapes, args.params,
                       args.receptive_field)
    status = EXIT_FINDINGS if not analysis.ok else EXIT_OK
    fmt = args.format or (os.path.splitext(args.output)[1][1:] if args.output else "dot")
    if fmt not in FORMATS:
        print(f"specc: cannot render to .{fmt}: use svg, png, pdf or dot", file=sys.stderr)
        return EXIT_USAGE
    if fmt == "dot":
        if args.output:
            _write(args.output, dot.source.encode(), inputs=[args.path])
        else:
            sys.stdout.write(dot.source)
        return status
    if shutil.which("dot") is None:
        print("specc: rendering to ." + fmt + " needs Graphviz's `dot` program, which is not "
              "installed.\n  install it (apt-get install graphviz / brew install graphviz), or "
              "write DOT with -o diagram.dot", file=sys.stderr)
        return EXIT_USAGE
    try:
        data = run_dot(dot.source, fmt)
    except RenderError as exc:
        print(f"specc: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.output:
        _write(args.output, data, inputs=[args.path])
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    return status


def _write(path: str, data: bytes, inputs=()) -> None:
    from specc.files import atomic_write

    atomic_write(path, lambda p: open(p, "wb").write(data), inputs=inputs)
