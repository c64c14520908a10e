"""Red team, session 5: an attack on what landed on 25 Nov (output paths of build/new/
import/render, --device-memory sizes). Each test is a finding that was fixed."""
from __future__ import annotations

import subprocess
import sys

import pytest

from specc.analyses.memory import MAX_DEVICE_BYTES, parse_bytes
from tests.helpers import ROOT, SPECS

MLP = str(SPECS / "mlp.yaml")


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "specc", *args], check=False,
                          capture_output=True, text=True, cwd=cwd,
                          env={"PYTHONPATH": str(ROOT), "PATH": ""})


@pytest.mark.parametrize("command", [
    ["build", MLP, "--save", ""], ["build", MLP, "--emit-python", ""],
    ["build", MLP, "--onnx", ""], ["new", ""]])
def test_an_empty_output_name_is_refused_not_skipped(command, tmp_path):
    """`--save "$OUT"` with OUT unset: build exited 0 having written nothing (the empty
    name was taken as 'no --save'), new failed renaming its temporary file onto ''."""
    result = _cli(*command, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot write '': the file name is empty" in result.stderr
    assert "Traceback" not in result.stderr and ".specc-" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [
    ["build", MLP, "--save", "{d}/w.safetensors/"], ["build", MLP, "--emit-python", "{d}/m/"],
    ["new", "{d}/spec/"], ["render", MLP, "-o", "{d}/out/", "--format", "dot"]])
def test_an_output_name_ending_with_a_slash_is_refused_clearly(command, tmp_path):
    """A name ending with '/' that is no folder failed as '[Errno 20] Not a directory:
    '<dir>/.specc-r3yb8jd7' -> ...', naming the temporary file, after the whole build."""
    result = _cli(*[part.format(d=tmp_path) for part in command])
    assert result.returncode == 2, result.stdout + result.stderr
    assert "a name ending with '/' is a folder; give a file name" in result.stderr
    assert "Errno" not in result.stderr and ".specc-" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_device_memory_reads_the_sizes_its_refusal_names():
    """'give one from 1 B to 1 EiB' — but '1EiB' was 'cannot read as a size'."""
    assert parse_bytes("1EiB") == MAX_DEVICE_BYTES == 2**60
    assert parse_bytes("1 EB") == 10**18
    assert parse_bytes("2PiB") == 2**51 and parse_bytes("3PB") == 3 * 10**15
    assert parse_bytes("1e9") == 10**9  # an exponent is still no unit
    with pytest.raises(ValueError, match="from 1 B to 1 EiB"):
        parse_bytes("2EiB")
    result = _cli("check", MLP, "--memory", "--device-memory", "1EiB")
    assert result.returncode == 0, result.stderr
    assert "fits in 1,073,741,824.0 GiB" in result.stdout


class _FullDisk:
    f_bavail, f_frsize = 3, 4096  # 12 KiB left: what a full disk leaves


@pytest.mark.parametrize("failure", [
    RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1216 vs 1110"),
    OSError(28, "No space left on device")])
def test_a_full_disk_is_an_output_error_and_keeps_the_old_file(failure, tmp_path,
                                                               monkeypatch):
    """`build --save` onto a full disk (a 64 KiB tmpfs) was 'internal error: RuntimeError:
    [enforce fail at inline_container.cc:672] unexpected pos' (torch.save) or 'internal
    error: SafetensorError: ... No space left on device': exit 2 saying the disk is full,
    the previous file untouched, no temporary file left."""
    import os

    from specc.files import OutputError, atomic_write

    target = tmp_path / "w.pt"
    target.write_text("precious")

    def write(path):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise failure

    if not isinstance(failure, OSError):
        monkeypatch.setattr(os, "statvfs", lambda folder: _FullDisk(), raising=False)
    with pytest.raises(OutputError, match="no space left on the device"):
        atomic_write(str(target), write)
    assert target.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pt"]


def test_a_failed_write_on_a_disk_with_room_is_not_called_full(tmp_path):
    from specc.files import atomic_write

    def write(path):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        atomic_write(str(tmp_path / "w.pt"), write)
    assert list(tmp_path.iterdir()) == []
