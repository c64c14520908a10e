"""`specc import MODULE:FACTORY --input x=1,3,224,224 -o model.yaml` (``import`` is a
Python keyword, hence the module name).

Importing MODULE runs the user's own code: that is the user's decision on the command
line, never a spec's. Problems exit 2 with the module path that caused them."""
from __future__ import annotations

import importlib
import os
import sys

from specc.cli._common import (EXIT_OK, EXIT_USAGE, enable_project_plugins, output_or_stdout,
                               report_written, whole_number)
from specc.files import FORCE_HELP, atomic_write, check_new_source_target

from specc.tensor import DTYPES as _DTYPES


class _Usage(Exception):
    pass


def add_arguments(p) -> None:
    p.description = ("Trace package.module:factory with torch.fx and write a "
                     "spec with the module's own names (its state_dict keys). "
                     "This imports and runs your code.")
    p.add_argument("target", metavar="MODULE:FACTORY",
                   help="e.g. mypkg.models:resnet18 (a class or function called with no "
                        "arguments, or an nn.Module instance)")
    p.add_argument("--input", action="append", metavar="NAME=D0,D1,...[:DTYPE]",
                   required=True, help="an example input of forward(), e.g. x=1,3,224,224 "
                                       "or tokens=2,16:int64")
    p.add_argument("-o", "--output", metavar="OUT.yaml", type=output_or_stdout,
                   help="write here (default, or -: stdout); an existing file only with "
                        "--force")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.add_argument("--name", help="the spec's name (default: from the class name)")
    p.set_defaults(func=run_import)


def _parse_input(text: str):
    name, sep, rest = text.partition("=")
    if not sep or not name.isidentifier():
        raise _Usage(f"--input expects NAME=D0,D1,...[:DTYPE], got {text!r}")
    dims, _, dtype = rest.partition(":")
    dtype = dtype or "float32"
    if dtype not in _DTYPES:
        raise _Usage(f"--input {name}: unknown dtype {dtype!r} (one of {', '.join(_DTYPES)})")
    try:
        shape = [whole_number(d) for d in dims.split(",") if d.strip()]
    except ValueError:
        raise _Usage(f"--input {name}: sizes must be integers (digits 0-9), got {dims!r}"
                     ) from None
    if any(d < 0 for d in shape) or len(shape) > 8:
        raise _Usage(f"--input {name}: a shape is up to 8 non-negative sizes")
    return name, shape, dtype


def _load_target(target: str):
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise _Usage(f"expected MODULE:FACTORY (e.g. mypkg.models:resnet18), got {target!r}")
    if os.getcwd() not in sys.path:  # as `python -m` would: the user's project is importable
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module failed to import: say so, no traceback
        raise _Usage(f"cannot import {module_name}: {type(exc).__name__}: {exc}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise _Usage(f"{module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def run_import(args) -> int:
    if args.output:  # before importing and tracing the user's code
        check_new_source_target(args.output, args.force)
    try:
        inputs = [_parse_input(t) for t in args.input]
        factory = _load_target(args.target)
    except _Usage as exc:
        print(f"specc import: {exc}", file=sys.stderr)
        return EXIT_USAGE
    import torch
    from torch import nn

    from specc.importer import ImportFailed, from_module

    enable_project_plugins()  # plugin ops' module classes stay leaves, mapped to their ops
    if isinstance(factory, nn.Module):
        model = factory
    else:
        try:
            model = factory()
        except Exception as exc:
            print(f"specc import: {args.target}() failed: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            return EXIT_USAGE
    if not isinstance(model, nn.Module):
        print(f"specc import: {args.target} gave a {type(model).__name__}, not an nn.Module",
              file=sys.stderr)
        return EXIT_USAGE
    examples = {}
    for name, shape, dtype in inputs:
        dt = getattr(torch, dtype)
        # zeros for integer inputs: a valid index for any Embedding
        examples[name] = torch.randn(shape, dtype=dt) if dt.is_floating_point else \
            torch.zeros(shape, dtype=dt)
    try:
        text = from_module(model, examples, name=args.name)
    except ImportFailed as exc:
        print(f"specc import: {args.target} cannot be written as a spec:", file=sys.stderr)
        for problem in exc.problems:
            print("  " + problem.format().replace("\n", "\n  "), file=sys.stderr)
        return EXIT_USAGE
    if args.output:
        def write(path: str) -> None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)

        atomic_write(args.output, write)
        report_written(args.output)
    else:
        sys.stdout.write(text)
    return EXIT_OK
