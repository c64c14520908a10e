"""`specc render`: draw a spec with Graphviz (no torch); DOT on stdout or a file."""
from __future__ import annotations

import argparse
import os
import sys

from specc.cli._common import (EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError, add_dim_option,
                               check_dims_used, output_or_stdout, parse_dims, print_diagnostics,
                               report_written, whole_number)

FORMATS = ("svg", "png", "pdf", "dot", "html")
_SUFFIXES = ", ".join(f".{f}" for f in FORMATS[:-1]) + f" or .{FORMATS[-1]}"
PNG_DPI = 200  # print quality for a figure one column wide


def _depth(text: str):
    if text in ("auto", "all"):
        return text
    try:
        value = whole_number(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; use a number, 'auto' or 'all'") from None
    if value < 0:
        raise argparse.ArgumentTypeError("depth cannot be negative")
    return value


# a bound on the bitmap Graphviz allocates: its size grows with dpi squared
MAX_DPI = 1200


def _dpi(text: str) -> int:
    try:
        value = whole_number(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not 1 <= value <= MAX_DPI:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_DPI}, got {value}")
    return value


def add_arguments(p) -> None:
    p.add_argument("path")
    p.add_argument("-o", "--output", type=output_or_stdout,
                   help="OUT.svg|png|pdf|dot|html, replaced if it exists: it is an output "
                        "(default, or -: print DOT)")
    p.add_argument("--format", choices=FORMATS, default=None)
    p.add_argument("--depth", type=_depth, default="auto",
                   help="levels of blocks to open: N, 'all', or 'auto' (default: the deepest "
                        "that fits a page)")
    p.add_argument("--every-op", action="store_true",
                   help="draw every op and every repeat copy (no folding into ×N, no norm / "
                        "activation written into the layer before it)")
    p.add_argument("--block", metavar="NAME", help="draw the inside of one block (its first "
                   "instance) or scope path")
    p.add_argument("--legend", action="store_true", help="add a colour legend")
    p.add_argument("--dpi", type=_dpi, default=None,
                   help=f"resolution of PNG output, {MAX_DPI} at most (default {PNG_DPI})")
    p.add_argument("--rankdir", choices=("TB", "LR", "BT", "RL"), default="TB")
    p.add_argument("--no-shapes", action="store_true", help="no shapes on edges")
    p.add_argument("--params", action="store_true", help="show parameter counts")
    p.add_argument("--receptive-field", action="store_true",
                   help="annotate spatial/temporal nodes with their receptive field")
    add_dim_option(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import shutil

    from specc.analysis import analyse_path
    from specc.diagram import RenderError, render_graph, run_dot

    dims = parse_dims(args.dim)
    if args.output and os.path.isdir(args.output):
        raise UsageError(_folder_output(args.output, args.path))
    try:
        import graphviz  # noqa: F401
    except ImportError:
        print("specc render needs the graphviz Python package: pip install graphviz",
              file=sys.stderr)
        return EXIT_USAGE
    # errors only: lint findings are `specc check`'s to report, not the figure's
    analysis = analyse_path(args.path, dims=dims, lint=False)
    check_dims_used(dims, [analysis])
    if analysis.diagnostics:
        print_diagnostics(analysis)
    if analysis.graph is None:
        return EXIT_FINDINGS
    suffix = os.path.splitext(args.output)[1][1:].lower() if args.output else ""
    fmt = args.format or (suffix if args.output else "dot")
    if args.format and suffix in FORMATS and suffix != args.format:
        # PNG bytes in a .svg file would be a file no viewer opens
        print(f"specc render: -o {args.output} says .{suffix} but --format is "
              f"{args.format}: make them agree", file=sys.stderr)
        return EXIT_USAGE
    if fmt == "html":  # interactive, self-contained; needs neither Graphviz nor a server
        from specc.diagram_html import render_html

        page = render_html(analysis).encode()
        if args.output:
            _write(args.output, page, inputs=[args.path])
        else:
            sys.stdout.buffer.write(page)
        return EXIT_FINDINGS if not analysis.ok else EXIT_OK
    notes: list[str] = []  # a figure larger than a page says so
    try:
        dot = render_graph(analysis, args.depth, args.rankdir, not args.no_shapes, args.params,
                           fold=not args.every_op, fuse=not args.every_op, block=args.block,
                           legend=args.legend, receptive_field=args.receptive_field,
                           dpi=args.dpi or (PNG_DPI if fmt == "png" else None), notes=notes)
    except RenderError as exc:
        print(f"specc render: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for note in notes:
        print(f"specc render: note: {note}", file=sys.stderr)
    status = EXIT_FINDINGS if not analysis.ok else EXIT_OK
    if fmt not in FORMATS:
        what = f".{fmt}" if fmt else f"-o {args.output} (no file extension)"
        print(f"specc: cannot render to {what}: name a {_SUFFIXES} file, or give --format",
              file=sys.stderr)
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
        data = run_dot(dot.source, fmt)  # with a time and an output-size budget
    except RenderError as exc:
        print(f"specc: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.output:
        _write(args.output, data, inputs=[args.path])
    else:
        sys.stdout.buffer.write(data)
    return status


def _folder_output(output: str, spec: str) -> str:
    """-o names an existing folder: say so, not 'cannot render to .v2' (plots.v2/) as if
    the name lacked only a known suffix."""
    what = f"-o {output}" + ("" if os.path.splitext(output)[1] else " (no file extension)")
    example = os.path.join(output, os.path.splitext(os.path.basename(spec))[0] + ".svg")
    return (f"cannot render to {what}: it is a directory; name a {_SUFFIXES} file in it, "
            f"e.g. -o {example}")


def _write(path: str, data: bytes, inputs=()) -> None:
    from specc.files import atomic_write

    atomic_write(path, lambda p: open(p, "wb").write(data), inputs=inputs)
    report_written(path)
