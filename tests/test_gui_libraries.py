"""`make run` / `photosort` on a machine without Qt's system libraries (issue 15, item 3):
the exact install command instead of Qt's abort."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from photosort.gui_libraries import (
    DEBIAN_SET,
    PACKAGES,
    install_hint,
    os_family,
    parse_ldd,
    xcb_plugin,
)
from tests.conftest import REPO

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
"""


def test_missing_libraries_become_one_install_command() -> None:
    missing = parse_ldd(LDD_OUTPUT)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    text = install_hint(missing, "debian")
    assert "apt-get install -y libxcb-icccm4 libxcb-keysyms1\n" in text
    assert "libxcb-cursor0" not in text.splitlines()[2]  # Qt's message blamed it wrongly
    assert "pacman -S --needed xcb-util-keysyms xcb-util-wm" in install_hint(missing, "arch")
    odd = install_hint(["libsomething.so.3"], "debian")
    assert "provide: libsomething.so.3" in odd


def test_the_debian_set_covers_every_library_of_the_plugin() -> None:
    listed = set(DEBIAN_SET.split())
    # Base libraries every Debian has (libc6's friends, X's own) need not be listed.
    base = {"libglx0", "libglvnd0", "libxkbcommon0", "libxcb-util1", "libxcb-render0",
            "libxcb1", "libx11-6", "libfreetype6", "libxau6", "libxdmcp6", "libpng16-16"}  # fmt: skip
    assert set(PACKAGES["debian"].values()) - base <= listed
    readme = (REPO / "README.md").read_text()
    assert f"apt-get install {DEBIAN_SET}" in " ".join(readme.split())


def test_os_family_from_os_release() -> None:
    assert os_family("ID=ubuntu\nID_LIKE=debian\n") == "debian"
    assert os_family('ID="fedora"\n') == "fedora"
    assert os_family("ID=arch\n") == "arch"
    assert os_family("ID=plan9\n") == ""


HIDE_AND_RUN = r"""
set -e
lib=/usr/lib/x86_64-linux-gnu
mount --bind "$lib" "$ORIG"
for f in "$ORIG"/*; do
  b=$(basename "$f")
  case "$b" in libxcb-icccm.so*|libxcb-keysyms.so*) continue;; esac
  ln -s "$ORIG/$b" "$FAKE/$b"
done
mount --bind "$FAKE" "$lib"
exec "$@"
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux")
    or os.geteuid() != 0
    or shutil.which("unshare") is None
    or not Path("/usr/lib/x86_64-linux-gnu").is_dir(),
    reason="needs root, unshare and a Debian-style x86-64 library folder",
)
def test_the_app_names_the_packages_when_libraries_are_missing(tmp_path: Path) -> None:
    """The real thing: in a private mount namespace the system's library folder lacks two of
    the plugin's libraries (as on a fresh Debian server), and `photosort` is started."""
    plugin = xcb_plugin()
    if plugin is None:
        pytest.skip("PySide6 has no xcb plugin here")
    (tmp_path / "orig").mkdir()
    (tmp_path / "fake").mkdir()
    env = {
        **os.environ,
        "ORIG": str(tmp_path / "orig"),
        "FAKE": str(tmp_path / "fake"),
        "QT_QPA_PLATFORM": "",
        "PYTHONPATH": str(REPO),
    }
    env.pop("WAYLAND_DISPLAY", None)
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make a mount namespace here")
    proc = subprocess.run(
        ["unshare", "-m", "bash", "-c", HIDE_AND_RUN, "hide", sys.executable, "-m", "photosort"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "apt-get install -y libxcb-icccm4 libxcb-keysyms1\n" in proc.stderr
    assert "Aborted" not in proc.stderr and "qt.qpa.plugin" not in proc.stderr
