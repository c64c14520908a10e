"""Terminal styling: colour only on a terminal, and never when NO_COLOR is set."""
from __future__ import annotations

import os
import sys

# C0 controls but tab and newline, DEL, C1 controls, and the bidi overrides/isolates that can
# reorder what a terminal or a code-review page shows (Trojan Source), each to its escape as
# ascii() writes it (a str.translate table: compiling the same character class as a regular
# expression is ~0.4 ms of every `specc check`)
_ESCAPES = {code: ascii(chr(code))[1:-1]
            for code in (*range(0x00, 0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0),
                         *range(0x202a, 0x202f), *range(0x2066, 0x206a))}


def printable(text) -> str:
    """Text safe to print on a terminal: control characters (ESC, BEL, CR, …) become visible
    escapes like ``\\x1b``, so a name or message in a spec can never drive the terminal
    (OSC 52 clipboard writes, cursor moves, hidden text). Every human-readable format
    passes user-derived text through here; JSON and SARIF escape by their own rules."""
    return str(text).translate(_ESCAPES)


def printable_diagnostic(d):
    """A Diagnostic whose every text field is printable()."""
    return d.replace(message=printable(d.message), file=printable(d.file or ""),
                     node=printable(d.node) if d.node else d.node,
                     hint=printable(d.hint) if d.hint else d.hint)


class Style:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream=None, force: bool | None = None) -> "Style":
        if force is not None:
            return cls(force)
        stream = stream or sys.stdout
        if os.environ.get("NO_COLOR"):
            return cls(False)
        return cls(hasattr(stream, "isatty") and stream.isatty())

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def bold(self, t): return self._wrap("1", t)
    def dim(self, t): return self._wrap("2", t)
    def red(self, t): return self._wrap("31;1", t)
    def yellow(self, t): return self._wrap("33;1", t)
    def blue(self, t): return self._wrap("34", t)
    def green(self, t): return self._wrap("32", t)
