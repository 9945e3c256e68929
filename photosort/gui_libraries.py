"""Before the desktop app starts on Linux: are the system libraries Qt's window plugin needs
there? If not, say which command installs them, instead of Qt's abort.

Qt's own message when `libqxcb.so` cannot load blames `libxcb-cursor0` (only the first library
it could not find, and sometimes one that is installed) and ends in SIGABRT. `ldd` on the
plugin lists every missing library at once; each maps to a distribution package. No Qt import
here: this runs before Qt loads anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

#: Library file (soname) -> package that provides it, per package family. The Debian names are
#: what `dpkg -S` reports on Debian 12 for every library `ldd libqxcb.so` lists beyond libc.
PACKAGES: dict[str, dict[str, str]] = {
    "debian": {
        "libEGL.so.1": "libegl1",
        "libGL.so.1": "libgl1",
        "libGLX.so.0": "libglx0",
        "libGLdispatch.so.0": "libglvnd0",
        "libxkbcommon.so.0": "libxkbcommon0",
        "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
        "libxcb-cursor.so.0": "libxcb-cursor0",
        "libxcb-icccm.so.4": "libxcb-icccm4",
        "libxcb-util.so.1": "libxcb-util1",
        "libxcb-image.so.0": "libxcb-image0",
        "libxcb-keysyms.so.1": "libxcb-keysyms1",
        "libxcb-randr.so.0": "libxcb-randr0",
        "libxcb-render-util.so.0": "libxcb-render-util0",
        "libxcb-shm.so.0": "libxcb-shm0",
        "libxcb-sync.so.1": "libxcb-sync1",
        "libxcb-xfixes.so.0": "libxcb-xfixes0",
        "libxcb-render.so.0": "libxcb-render0",
        "libxcb-shape.so.0": "libxcb-shape0",
        "libxcb-xkb.so.1": "libxcb-xkb1",
        "libxcb.so.1": "libxcb1",
        "libX11-xcb.so.1": "libx11-xcb1",
        "libX11.so.6": "libx11-6",
        "libglib-2.0.so.0": "libglib2.0-0",
        "libgthread-2.0.so.0": "libglib2.0-0",
        "libfreetype.so.6": "libfreetype6",
        "libfontconfig.so.1": "libfontconfig1",
        "libdbus-1.so.3": "libdbus-1-3",
        "libXau.so.6": "libxau6",
        "libXdmcp.so.6": "libxdmcp6",
        "libpng16.so.16": "libpng16-16",
    },
    "fedora": {
        "libEGL.so.1": "libglvnd-egl",
        "libGL.so.1": "libglvnd-glx",
        "libGLX.so.0": "libglvnd-glx",
        "libxkbcommon.so.0": "libxkbcommon",
        "libxkbcommon-x11.so.0": "libxkbcommon-x11",
        "libxcb-cursor.so.0": "xcb-util-cursor",
        "libxcb-icccm.so.4": "xcb-util-wm",
        "libxcb-util.so.1": "xcb-util",
        "libxcb-image.so.0": "xcb-util-image",
        "libxcb-keysyms.so.1": "xcb-util-keysyms",
        "libxcb-render-util.so.0": "xcb-util-renderutil",
        "libX11-xcb.so.1": "libX11-xcb",
        "libfontconfig.so.1": "fontconfig",
        "libdbus-1.so.3": "dbus-libs",
    },
    "arch": {
        "libEGL.so.1": "libglvnd",
        "libGL.so.1": "libglvnd",
        "libxkbcommon.so.0": "libxkbcommon",
        "libxkbcommon-x11.so.0": "libxkbcommon-x11",
        "libxcb-cursor.so.0": "xcb-util-cursor",
        "libxcb-icccm.so.4": "xcb-util-wm",
        "libxcb-util.so.1": "xcb-util",
        "libxcb-image.so.0": "xcb-util-image",
        "libxcb-keysyms.so.1": "xcb-util-keysyms",
        "libxcb-render-util.so.0": "xcb-util-renderutil",
        "libfontconfig.so.1": "fontconfig",
    },
}

INSTALLERS = {
    "debian": "apt-get install -y",
    "fedora": "dnf install -y",
    "arch": "pacman -S --needed",
}

#: The complete Debian/Ubuntu set (the README lists the same): every package above that a
#: minimal server or container may lack.
DEBIAN_SET = (
    "libegl1 libgl1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 "
    "libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 "
    "libxcb-xfixes0 libxcb-xkb1 libx11-xcb1 libfontconfig1 libdbus-1-3 libglib2.0-0"
)


def xcb_plugin() -> Path | None:
    """Qt's X11 platform plugin of the PySide6 in use (also inside the frozen bundle).

    Found without importing PySide6 (200 ms, and it loads Qt's libraries).
    """
    import importlib.util

    roots = [Path(getattr(sys, "_MEIPASS", "")) / "PySide6"] if getattr(sys, "frozen", 0) else []
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        roots += [Path(p) for p in spec.submodule_search_locations]
    for root in roots:
        plugin = root / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.exists():
            return plugin
    return None


def missing_libraries(binary: str | os.PathLike[str]) -> list[str]:
    """Sonames `binary` needs (directly or through another library) that cannot be found."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []  # no way to tell: let Qt try
    try:
        out = subprocess.run(
            [ldd, os.fspath(binary)], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_ldd(out)


def parse_ldd(text: str) -> list[str]:
    missing = []
    for line in text.splitlines():
        name, _, where = line.strip().partition(" => ")
        if where.strip() == "not found" and name not in missing:
            missing.append(name)
    return missing


def os_family(os_release: str | None = None) -> str:
    """debian, fedora, arch or '' from /etc/os-release's ID and ID_LIKE."""
    if os_release is None:
        try:
            os_release = Path("/etc/os-release").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
    ids: list[str] = []
    for line in os_release.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            ids += value.strip().strip('"').split()
    for family, aliases in (
        ("debian", {"debian", "ubuntu"}),
        ("fedora", {"fedora", "rhel", "centos"}),
        ("arch", {"arch"}),
    ):
        if aliases & set(ids):
            return family
    return ""


def install_hint(missing: list[str], family: str) -> str:
    """The message for the user: what is missing and the one command that installs it."""
    table = PACKAGES.get(family, {})
    packages = sorted({table[m] for m in missing if m in table})
    unknown = [m for m in missing if m not in table]
    lines = [
        "photosort: the desktop app cannot start: Qt needs system libraries that are missing "
        f"({', '.join(missing)})."
    ]
    sudo = "" if hasattr(os, "geteuid") and os.geteuid() == 0 else "sudo "
    if packages:
        lines.append("Install them with:")
        lines.append(f"    {sudo}{INSTALLERS[family]} {' '.join(packages)}")
        if family == "debian":
            lines.append(f"(everything the app may need: {sudo}apt-get install -y {DEBIAN_SET})")
    if unknown:
        lines.append(
            "Install the packages of your distribution that provide: " + ", ".join(unknown)
        )
    lines.append("The command line works without them: photosort --help")
    return "\n".join(lines)


def check_gui_libraries() -> str | None:
    """None if the app can start here; otherwise the message to print instead of Qt's abort.

    Only on Linux when Qt would use X11 (QT_QPA_PLATFORM unset or xcb, and no Wayland session).
    """
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return None
    plugin = xcb_plugin()
    if plugin is None:
        return None
    missing = missing_libraries(plugin)
    return install_hint(missing, os_family()) if missing else None
