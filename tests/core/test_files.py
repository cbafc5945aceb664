"""Writing files: a new file holds exactly its bytes, with the mode ``open(path, "xb")`` gives."""

from __future__ import annotations

import os
import stat

import pytest

from hng.core.files import write_new_file


def test_write_new_file_is_open_xb(tmp_path):
    data = bytes(range(256)) * 5000  # past one write's usual size
    write_new_file(tmp_path / "ours", data)
    with open(tmp_path / "pythons", "xb") as fh:
        fh.write(data)
    assert (tmp_path / "ours").read_bytes() == data
    mode = stat.S_IMODE(os.stat(tmp_path / "ours").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "pythons").st_mode)
    write_new_file(tmp_path / "empty", b"")
    assert (tmp_path / "empty").read_bytes() == b""


def test_write_new_file_never_replaces_a_file(tmp_path):
    (tmp_path / "there").write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        write_new_file(tmp_path / "there", b"other")
    assert (tmp_path / "there").read_bytes() == b"mine"
