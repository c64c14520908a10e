"""Files in and out: command-line paths → spec files, bounded reads, safe writes.

Reads are bounded before they happen (:func:`read_bounded`): only regular files, and never
more than the byte limit, so a committed symlink to /dev/zero or a FIFO cannot hang or
exhaust memory. Writes go through :func:`atomic_write`, which refuses every target whose
replacement would destroy something else (see :func:`check_output_target`).
"""
from __future__ import annotations

import contextlib
import os
import re
import stat

from specc.cli._common import UsageError


class FileTooLarge(OSError):
    """A file holds more bytes than the limit; ``size`` is at least limit + 1."""

    def __init__(self, path: str, size: int, limit: int):
        super().__init__(f"{path} is over {limit} bytes")
        self.size, self.limit = size, limit


class OutputError(UsageError):
    """An output path specc refuses to write (exit code 2, like any usage error)."""


def read_bounded(path: str, limit: int, truncate: bool = False) -> bytes:
    """The bytes of a regular file, reading at most ``limit`` + 1 of them.

    Opened non-blocking, so a FIFO cannot stall the open; anything that is not a regular
    file after following links (FIFO, device, socket, directory) is refused with an
    OSError, and a file with more than ``limit`` bytes raises FileTooLarge without being
    read further — or, with ``truncate``, gives its first ``limit`` bytes."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                    else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                    else "not a regular file")
            raise OSError(0, f"it is {kind}, not a regular file", path)
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            if truncate:
                return b"".join(chunks)[:limit]
            raise FileTooLarge(path, total, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)

SPEC_SUFFIXES = (".yaml", ".yml")


SNIFF_BYTES = 1_000_000  # what looks_like_spec reads of a file
_SPEC_KEY = re.compile(rb"^(specc|layers)\s*:", re.M)
_TOP_LEVEL_KEY = re.compile(rb"^([A-Za-z_][A-Za-z0-9_-]{0,30})[ \t]*:", re.M)


def looks_like_spec(path: str) -> bool:
    """A cheap test for pre-commit hooks that see every YAML file of a repository: a
    top-level ``specc:`` or ``layers:`` key, or a near miss of both required keys
    (``inputs:`` with ``layer:``), so a spec with a misspelt ``layers`` is checked and its
    mistake reported instead of the file being skipped as a stranger."""
    try:  # a spec names its keys at the top: the first bytes of a big file tell
        # (check reports a big spec, over max_file_bytes, as such)
        text = read_bounded(path, SNIFF_BYTES, truncate=True)
    except OSError:
        return True  # let check report the problem
    if _SPEC_KEY.search(text):
        return True
    keys = {key.lower() for key in _TOP_LEVEL_KEY.findall(text)}
    # near misses need both: one misspelt key alone (Kubernetes's `spec:`, a `player:`)
    # is no evidence of a spec
    return (any(_within(key, b"inputs", 1) for key in keys)
            and any(_within(key, b"layers", 2) for key in keys))


def _within(word: bytes, target: bytes, edits: int) -> bool:
    """Whether ``word`` is at most ``edits`` insertions, deletions or substitutions from
    ``target`` (both short: a top-level key is capped at 31 characters)."""
    if abs(len(word) - len(target)) > edits:
        return False
    previous = list(range(len(target) + 1))
    for i, a in enumerate(word, 1):
        current = [i]
        for j, b in enumerate(target, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1] <= edits


def git_ignored(paths: list[str], folder: str) -> set[str]:
    """The paths git ignores (.gitignore, .git/info/exclude, the global excludes), asked of
    git itself so every rule means what it means to git; nothing outside a repository or
    without git."""
    import subprocess

    if not paths:
        return set()
    try:
        result = subprocess.run(["git", "-C", folder, "check-ignore", "--no-index", "-z",
                                 "--stdin"],
                                # bytes: a file name that is not UTF-8 (b'm\xfe.yaml', read
                                # by os.walk as a surrogate) goes to git as it is on disk
                                input=b"\0".join(os.fsencode(os.path.abspath(p)) for p in paths),
                                capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return set()
    if result.returncode not in (0, 1):  # 128: not a repository
        return set()
    ignored = {os.fsdecode(p) for p in result.stdout.split(b"\0") if p}
    return {p for p in paths if os.path.abspath(p) in ignored}


class SkippedYaml:
    """The YAML files a directory argument held that were not checked, counted."""

    __slots__ = ("folder", "not_specs", "ignored")

    def __init__(self, folder: str, not_specs: int, ignored: int):
        self.folder, self.not_specs, self.ignored = folder, not_specs, ignored

    def describe(self) -> str:
        parts = []
        if self.not_specs:
            parts.append(f"{_files(self.not_specs)} without a top-level `layers:` or `specc:` "
                         "key")
        if self.ignored:
            parts.append(f"{_files(self.ignored)} that git ignores")
        return f"skipped {' and '.join(parts)} in {self.folder} (--all-yaml checks them)"


def _files(count: int) -> str:
    return f"{count} YAML file{'s' if count != 1 else ''}"


def expand_paths(args, all_yaml: bool = False
                 ) -> tuple[list[str], list[str], list[SkippedYaml]]:
    """(spec files in a stable order, arguments that matched nothing, what each directory
    argument skipped).

    A directory yields its YAML files that look like specs (:func:`looks_like_spec`) and
    that git does not ignore; ``all_yaml`` keeps every YAML file. Files named on the command
    line are always kept."""
    found, missing, skipped = [], [], []
    seen: set[str] = set()
    for arg in args:
        if os.path.isdir(arg):
            matches = []
            for root, dirs, files in os.walk(arg):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "node_modules")
                matches += [os.path.join(root, f) for f in sorted(files)
                            if f.endswith(SPEC_SUFFIXES)]
            if not all_yaml:
                ignored = git_ignored(matches, arg)
                kept = [m for m in matches if m not in ignored]
                specs = [m for m in kept if looks_like_spec(m)]
                if len(specs) < len(matches):
                    skipped.append(SkippedYaml(arg, len(kept) - len(specs), len(ignored)))
                matches = specs
                if not matches:
                    continue  # a folder without specs is not a typo
        elif os.path.exists(arg):
            matches = [arg]
        else:
            import glob  # only for a pattern: `specc check FILE` does without

            matches = sorted(glob.glob(arg, recursive=True))
        if not matches:
            missing.append(arg)
        for match in matches:  # a set beside the list: `check **/*.yaml` may name 20,000
            if match not in seen:
                seen.add(match)
                found.append(match)
    return found, missing, skipped


def check_output_target(path: str, inputs=()) -> None:
    """Refuse (OutputError) to write where replacing the file would destroy something else:
    a directory, a missing folder, a symlink (replacing it would silently cut the link), a
    FIFO or device (renaming over it would remove it), a read-only file, or one of the
    ``inputs`` (the spec being built). ``-`` is refused too: it would be a file named `-`
    where the user means standard output, which these outputs do not go to."""
    if path == "-":
        raise OutputError("cannot write '-': this output is not written to standard output; "
                          "give a file name")
    if not path:  # an unset shell variable: `--save "$OUT"`
        raise OutputError("cannot write '': the file name is empty; give a file name")
    if path.endswith(("/", os.sep)) and not os.path.isdir(path):
        # the rename would fail with ENOTDIR naming the temporary file
        raise OutputError(f"cannot write {path}: a name ending with '/' is a folder; "
                          "give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {path}: the folder {folder} does not exist")
    if os.path.islink(path):
        raise OutputError(f"cannot write {path}: it is a symbolic link; write to its target "
                          f"({os.path.realpath(path)}) or remove the link first")
    if not os.path.lexists(path):
        return
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise OutputError(f"cannot write {path}: it is a directory; give a file name")
    if not stat.S_ISREG(mode):
        raise OutputError(f"cannot write {path}: it is not a regular file (a FIFO or device)")
    for source in inputs:
        if source and os.path.exists(source) and os.path.samefile(path, source):
            raise OutputError(f"cannot write {path}: it is the input spec; choose another "
                              "output name")
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK):
        raise OutputError(f"cannot write {path}: the file is read-only")


# Which outputs replace an existing file. What specc generates from a spec (`render -o`,
# build's --save, --onnx, --export and --emit-python) is an artifact, rewritten at every run
# as a compiler's output is; what `new` and `import -o` write is a spec, source the user goes
# on to edit, so an existing one is replaced only with --force.
FORCE_HELP = ("replace an existing file (a spec you may have edited is never replaced "
              "without it)")


def check_new_source_target(path: str, force: bool) -> None:
    """Refuse (OutputError) to write a new spec at ``path``: where no file can be written
    (check_output_target: --force cannot help there), and over an existing file unless
    ``force``."""
    check_output_target(path)
    if not force and os.path.lexists(path):
        raise OutputError(f"{path} exists; use --force to overwrite it")


def _disk_full(folder: str, exc: Exception) -> bool:
    """Whether a failed write failed for want of space: torch.save says only 'unexpected
    pos 1216 vs 1110' and safetensors raises its own error, so ask the file system too
    (before the partial temporary file is removed and frees what it took)."""
    import errno  # only after a failed write: `specc check` never needs it

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    try:
        free = os.statvfs(folder)
    except (OSError, AttributeError):  # AttributeError: no statvfs on Windows
        return False
    return free.f_bavail * free.f_frsize < 1 << 20


class _Terminated(BaseException):
    """SIGTERM during a write, raised so the temporary file is removed on the way out."""


@contextlib.contextmanager
def _sigterm_raises():
    import signal  # writing files only: `specc check` never imports it

    try:
        old = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _raise_terminated(_signum, _frame):  # a signal handler's signature
    raise _Terminated()


def _link_new(tmp: str, path: str) -> None:
    """Move ``tmp`` to ``path`` unless ``path`` exists (then OutputError)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputError(f"{path} exists; use --force to overwrite it") from None
    except OSError:  # a file system without hard links: the narrow check-then-rename
        if os.path.lexists(path):
            raise OutputError(f"{path} exists; use --force to overwrite it") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def atomic_write(path: str, write, inputs=(), replace: bool = True) -> None:
    """Write through a temporary file in the same folder, then rename into place.

    The target is checked first (check_output_target); SIGINT or SIGTERM while writing
    removes the temporary file (and SIGTERM then ends the process as it would have).
    ``replace=False`` (a new spec without --force) never replaces a file that appeared
    while writing (an editor's save during `import`'s trace): the file is linked into
    place, which fails if the name exists."""
    import tempfile

    check_output_target(path, inputs)
    folder = os.path.dirname(os.path.abspath(path))
    terminated = False
    with _sigterm_raises():
        try:
            fd, tmp = tempfile.mkstemp(prefix=".specc-", suffix=os.path.splitext(path)[1],
                                       dir=folder)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        os.close(fd)
        try:
            write(tmp)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
            if replace:
                os.replace(tmp, path)
            else:
                _link_new(tmp, path)
        except BaseException as exc:
            full = isinstance(exc, Exception) and not isinstance(exc, OutputError) and \
                _disk_full(folder, exc)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            kept = f"(the old {os.path.basename(path)}, if any, is kept)"
            if full:
                raise OutputError(f"cannot write {path}: no space left on the device {kept}"
                                  ) from None
            if isinstance(exc, OSError):  # a quota, a file size limit, EIO: named by the
                # target, not by the temporary file the message of exc names
                raise OutputError(f"cannot write {path}: {exc.strerror or exc} {kept}"
                                  ) from None
            if not isinstance(exc, _Terminated):
                raise
            terminated = True
    if terminated:
        import signal

        signal.raise_signal(signal.SIGTERM)  # the handler is restored: end as SIGTERM would
