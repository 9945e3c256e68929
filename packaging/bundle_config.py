"""What goes into the PyInstaller bundle and what stays out: used by `photosort.spec`.

Plain Python without PyInstaller imports, so the tests can check it without building anything.
Paths below are a bundle entry's destination name (`PySide6/Qt/plugins/platforms/libqxcb.so`),
always with forward slashes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Python modules never bundled: PyTorch and the training code (the app never imports them),
#: the tests, GUI toolkits and Qt modules the app does not load, and optional extras of the
#: scientific stack that UMAP does not use.
EXCLUDES: list[str] = [
    "photosort.training",
    "photosort.commands.train",
    "tests",
    "torch",
    "torchvision",
    "onnx",
    "efficientnet_lite_pytorch",
    # setuptools/pkg_resources come in through numba's AOT compiler (numba.pycc) and would make
    # PyInstaller import pkg_resources at every start (~0.3 s): neither is used at run time.
    "setuptools",
    "pkg_resources",
    "distutils",
    "_distutils_hack",
    "pip",
    "numba.pycc",
    # TLS and OpenSSL's hashes (libssl + libcrypto, 5.5 MB): the app opens no network
    # connection; asyncio and http.client import ssl only if it is there, and hashlib falls back
    # to Python's own md5/sha1/sha2/sha3/blake2 (the app hashes with blake3, numba with sha256).
    "ssl",
    "_ssl",
    "_hashlib",
    "tkinter",
    "_tkinter",
    "turtle",
    "idlelib",
    "pydoc_data",
    "lib2to3",
    "IPython",
    "matplotlib",
    "pandas",
    "polars",
    "pyarrow",
    "dask",
    "sympy",
    "PIL.ImageTk",
    "PIL.ImageQt",
    "numba.cuda",
    "llvmlite.tests",
    "scipy.io.matlab",
    "sklearn.datasets",
    # Never imported by umap (but umap.plot, which needs the excluded matplotlib), pynndescent or
    # the parts of scikit-learn they use: checked with the full map self-test.
    "scipy.cluster",
    "sklearn.cluster",
    "sklearn.ensemble",
    "sklearn.feature_extraction",
    "PySide6.scripts",
    "PySide6.QtNetwork",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickControls2",
    "PySide6.QtQuickWidgets",
    "PySide6.QtQuick3D",
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.QtWebChannel",
    "PySide6.QtWebSockets",
    "PySide6.Qt3DCore",
    "PySide6.Qt3DRender",
    "PySide6.QtMultimedia",
    "PySide6.QtMultimediaWidgets",
    "PySide6.QtPdf",
    "PySide6.QtPdfWidgets",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtDesigner",
    "PySide6.QtUiTools",
    "PySide6.QtHelp",
    "PySide6.QtPrintSupport",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtXml",
    "PySide6.QtConcurrent",
    "PySide6.QtStateMachine",
    "PySide6.QtCharts",
    "PySide6.QtDataVisualization",
    "PySide6.QtBluetooth",
    "PySide6.QtPositioning",
    "PySide6.QtSerialPort",
    "PySide6.QtRemoteObjects",
    "PySide6.QtScxml",
    "PySide6.QtSensors",
    "PySide6.QtTextToSpeech",
    "PySide6.QtSpatialAudio",
    "PySide6.QtNetworkAuth",
    "PySide6.QtHttpServer",
    "PySide6.QtAxContainer",
]

#: UMAP and what only it needs: left out by PHOTOSORT_BUNDLE_NO_MAP=1 (to measure their cost).
MAP_STACK = ["umap", "pynndescent", "numba", "llvmlite", "scipy", "sklearn", "joblib"]

#: Qt plugins kept, by plugin folder; every other folder and file is left out. `platforms` keeps
#: X11 (xcb, also used under XWayland), Wayland, and offscreen/minimal for the self-test.
QT_PLUGINS: dict[str, set[str] | None] = {
    "platforms": {"libqxcb", "libqwayland", "libqoffscreen", "libqminimal", "qwindows", "qcocoa"},
    "imageformats": {
        *(
            f"{prefix}q{fmt}"
            for prefix in ("lib", "")
            for fmt in ("jpeg", "svg", "gif", "ico", "webp")
        )
    },
    "iconengines": None,  # the SVG icon engine
    # Native file dialogs through xdg-desktop-portal. Not the GTK 3 theme: it would drag in
    # this machine's pango/cairo/glib next to the user's own GTK.
    "platformthemes": {"libqxdgdesktopportal"},
    "platforminputcontexts": None,  # compose keys, input methods
    "xcbglintegrations": None,
    "wayland-decoration-client": None,
    "wayland-shell-integration": None,
    "wayland-graphics-integration-client": None,
    "styles": None,  # Windows/macOS styles
}

#: Qt translations kept: none. The app is English-only and installs no QTranslator, and Qt
#: loads no .qm file by itself, so even `qtbase_*` (6 MB) was never read. Make this
#: `^qtbase_[a-z_A-Z]+\.qm$` again when the app installs Qt's translator.
QT_TRANSLATIONS_KEPT = re.compile(r"(?!)")

_TEST_DIR = re.compile(r"(^|/)(tests?|testing/tests)/")
_PYSIDE_TOOLS = re.compile(
    r"^PySide6/(assistant|designer|linguist|lrelease|lupdate|qml\w*|balsam\w*|"
    r"svgtoqml|uic|rcc|include|typesystems|glue|examples|doc|metatypes)(\.exe)?(/|$)"
)


def read_version(root: Path = ROOT) -> str:
    """The version in pyproject.toml: the bundle's and the app's."""
    with open(root / "pyproject.toml", "rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


def model_datas(models: Path, with_references: bool = False) -> list[tuple[str, str]]:
    """The spec's (source, "models") entries: every file of `models`, but the reference models.

    A reference model (manifest `"reference": true`, the plain ImageNet backbone) is the
    measuring stick `photosort eval` compares the encoders with: a developer's tool, never used
    to sort, and 6.6 MB. Left out unless `with_references` (PHOTOSORT_BUNDLE_REFERENCE=1); a
    bundle user who wants it drops its .json and .onnx into the user's models folder.
    """
    skip: set[str] = set()
    if not with_references:
        for manifest in sorted(models.glob("*.json")):
            try:
                raw = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a broken manifest is shipped as it is: the registry reports it
            if isinstance(raw, dict) and raw.get("reference"):
                skip.add(manifest.name)
                skip.update(str(raw[k]) for k in ("encoder", "decoder") if raw.get(k))
    return [
        (str(p), "models") for p in sorted(models.iterdir()) if p.is_file() and p.name not in skip
    ]


def keep_entry(dest: str) -> bool:
    """Whether a collected file (binary or data) belongs in the bundle."""
    dest = dest.replace("\\", "/")
    if _TEST_DIR.search(dest):
        return False
    if dest.endswith((".pyi", ".pyx", ".pxd", ".pxi", ".tp", ".c", ".cpp", ".h", ".hpp")):
        return False
    if dest.endswith("/meson.build") or dest.startswith("sklearn/datasets/"):
        return False  # build files; the data of the excluded sklearn.datasets
    if _PYSIDE_TOOLS.match(dest):
        return False
    qt = re.match(r"^PySide6/(?:Qt/|Qt6/)?(plugins|translations|qml|lib)/(.*)$", dest)
    if qt is None:
        return True
    kind, rest = qt.groups()
    if kind == "qml":
        return False
    if kind == "translations":
        return bool(QT_TRANSLATIONS_KEPT.match(rest.rsplit("/", 1)[-1]))
    if kind == "plugins":
        folder, _, name = rest.partition("/")
        if folder not in QT_PLUGINS:
            return False
        allowed = QT_PLUGINS[folder]
        stem = name.rsplit("/", 1)[-1].split(".", 1)[0]
        return allowed is None or stem in allowed
    return not _unused_qt_library(rest)


#: Qt shared libraries no kept module or plugin needs (pulled in only by excluded parts).
_UNUSED_QT_LIBS = re.compile(
    r"^libQt6(Qml|Quick|WebEngine|3D|Multimedia|Pdf|Designer|Help|Sql|Test|Network|"
    r"Charts|DataVis|Bluetooth|Positioning|SerialPort|RemoteObjects|Scxml|Sensors|"
    r"TextToSpeech|SpatialAudio|HttpServer|LabsStyleKit|ShaderTools|VirtualKeyboard|"
    r"Concurrent|StateMachine|Xml|PrintSupport|UiTools|OpenGLWidgets)"
)


def _unused_qt_library(name: str) -> bool:
    return bool(_UNUSED_QT_LIBS.match(name))


def keep_jit_module(name: str) -> bool:
    """numba & co. are bundled whole (they import lazily), but for tests, CUDA and examples."""
    parts = name.split(".")
    return keep_module(name) and not {"cuda", "testing", "examples"} & set(parts[1:])


def keep_module(name: str) -> bool:
    """Whether a pure-Python module belongs in the bundle (test suites do not)."""
    parts = name.split(".")
    return not any(p in ("tests", "test", "conftest") for p in parts[1:])


def should_strip(dest: str, src: str) -> bool:
    """Strip a binary's symbol table only where it is safe.

    PyInstaller's own `strip=True` strips everything and breaks the libraries that auditwheel
    relocated with patchelf (`numpy.libs/libscipy_openblas64_...so: ELF load command
    address/offset not page-aligned`), so those, and modules whose RPATH points at them, are
    left alone. In practice this strips libllvmlite.so (170 -> 152 MB) and a few others.
    """
    dest = dest.replace("\\", "/")
    if re.search(r"\.libs/", dest) or not os.path.isfile(src):
        return False
    with open(src, "rb") as fh:
        if fh.read(4) != b"\x7fELF":
            return False
    try:
        sections = subprocess.run(
            ["readelf", "-S", "-d", src], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    if ".symtab" not in sections:
        return False  # already stripped
    return not re.search(r"\((?:RPATH|RUNPATH)\)[^\n]*\.libs", sections)


def strip_binaries(
    binaries: list[tuple[str, str, str]], workdir: Path
) -> list[tuple[str, str, str]]:
    """`binaries` with stripped copies (made under `workdir`) of what `should_strip` allows."""
    if shutil.which("strip") is None or shutil.which("readelf") is None:
        return list(binaries)
    out = []
    for dest, src, kind in binaries:
        if should_strip(dest, src):
            target = workdir / dest
            if not target.exists() or target.stat().st_mtime < os.stat(src).st_mtime:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)
                subprocess.run(["strip", "--strip-unneeded", str(target)], check=True)
            src = str(target)
        out.append((dest, src, kind))
    return out


def _needed(path: str) -> set[str]:
    try:
        out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    except OSError:
        return set()
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))


def filter_binaries(binaries: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """`keep_entry` for binaries, and also the libraries that only the left-out ones needed.

    PyInstaller collects a plugin's dependencies before the spec can leave the plugin out (the
    GTK theme's pango, cairo, ... or the QML libraries), so those are dropped here: a library
    is dropped when something left out needs it (directly or not) and nothing kept does.
    """
    kept = [e for e in binaries if keep_entry(e[0])]
    dropped = [e for e in binaries if not keep_entry(e[0])]
    if not dropped or shutil.which("readelf") is None:
        return kept
    by_name: dict[str, list[tuple[str, str, str]]] = {}
    for entry in kept:
        by_name.setdefault(entry[0].replace("\\", "/").rsplit("/", 1)[-1], []).append(entry)

    def closure(entries: list[tuple[str, str, str]]) -> set[str]:
        seen: set[str] = set()
        todo = [e[1] for e in entries]
        while todo:
            for name in _needed(todo.pop()):
                if name not in seen:
                    seen.add(name)
                    todo += [e[1] for e in by_name.get(name, [])]
        return seen

    candidates = {n for n in by_name if n.startswith("lib") and ".so" in n}
    orphans = (closure(dropped) & candidates) - closure(
        [e for e in kept if e[0].rsplit("/", 1)[-1] not in candidates or "/" in e[0]]
    )
    orphans = {n for n in orphans if not n.startswith("libpython")}
    return [e for e in kept if e[0].replace("\\", "/").rsplit("/", 1)[-1] not in orphans]


#: pillow-heif's HEVC encoder library, replaced by a stub (`x265_stub`).
_X265 = re.compile(r"^pillow_heif\.libs/(libx265[^/]*\.so[^/]*)$")
_X265_SYMBOL = re.compile(r"^x265_api_get_\d+$")


def x265_stub(
    binaries: list[tuple[str, str, str]], workdir: Path
) -> tuple[list[tuple[str, str, str]], str]:
    """`binaries` with pillow-heif's libx265 (the HEVC encoder, 22 MB) replaced by a 14 kB stub.

    PhotoSort only reads HEIC (libheif decodes with libde265); libx265 is needed by libheif's
    encoder plugin alone. The stub (packaging/stubs/x265_stub.c) has the wheel's soname and
    defines what libheif imports from it, `x265_api_get_NNN` returning NULL (libheif then
    reports HEVC encoding as unavailable) and `x265_cleanup`. Done only when libheif imports
    nothing else from x265 and a C compiler is there; otherwise the real library is kept.
    Returns the new list and a one-line note of what was done.
    """
    x265 = [e for e in binaries if _X265.match(e[0].replace("\\", "/"))]
    heif = [e for e in binaries if re.match(r"^pillow_heif\.libs/libheif", e[0].replace("\\", "/"))]
    if len(x265) != 1 or len(heif) != 1:
        return list(binaries), "x265: not found, nothing replaced"
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or shutil.which("nm") is None:
        return list(binaries), "x265: kept (no C compiler or nm)"
    out = subprocess.run(
        ["nm", "-D", "--undefined-only", heif[0][1]], capture_output=True, text=True, check=True
    ).stdout
    wanted = {line.split()[-1].split("@")[0] for line in out.splitlines() if "x265" in line}
    api = sorted(n for n in wanted if _X265_SYMBOL.match(n))
    if len(api) != 1 or wanted - {api[0], "x265_cleanup"}:
        return list(binaries), f"x265: kept (libheif imports {sorted(wanted)})"
    dest, src, kind = x265[0]
    soname = Path(dest).name
    target = workdir / "x265-stub" / soname
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            cc,
            "-O2",
            "-shared",
            "-fPIC",
            "-s",
            f"-DX265_API_GET={api[0]}",
            f"-Wl,-soname,{soname}",
            "-o",
            str(target),
            str(ROOT / "packaging" / "stubs" / "x265_stub.c"),
        ],
        check=True,
    )
    new = [(d, str(target), k) if d == dest else (d, s, k) for d, s, k in binaries]
    saved = (os.path.getsize(src) - target.stat().st_size) / 2**20
    return new, f"x265: {soname} replaced by a stub ({api[0]}), {saved:.0f} MB less"


def dedupe_libs(binaries: list[tuple[str, str, str]]) -> tuple[list[tuple[str, str, str]], str]:
    """Byte-identical copies of one library in several wheels' `*.libs/` become symbolic links.

    numpy.libs and scipy.libs both carry the same libgfortran and libquadmath (same name, same
    bytes, same soname: the loader would only ever map one of them anyway). Only files with the
    same name *and* content are linked; the two OpenBLAS builds differ (numpy's is ILP64 with
    suffixed symbols, scipy's LP64) and are left alone.
    """
    import hashlib

    first: dict[tuple[str, str], str] = {}
    out = []
    saved = 0
    for dest, src, kind in sorted(binaries, key=lambda e: e[0]):
        d = dest.replace("\\", "/")
        m = re.match(r"^([^/]+\.libs)/([^/]+)$", d)
        if kind not in ("BINARY", "EXTENSION") or m is None or not os.path.isfile(src):
            out.append((dest, src, kind))
            continue
        with open(src, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        key = (m.group(2), digest)
        if key in first:
            out.append((dest, f"../{first[key]}", "SYMLINK"))
            saved += os.path.getsize(src)
        else:
            first[key] = d
            out.append((dest, src, kind))
    out, note = _link_same_runtime(out)
    return out, f"dedupe: {saved / 2**20:.1f} MB of identical libraries linked; {note}"


#: GCC's Fortran runtime, vendored by numpy and scipy under their own hashed names.
_GCC_RUNTIME = re.compile(
    r"^[^/]+\.libs/(libgfortran|libquadmath)-[0-9a-f]{8}(?:-[0-9a-f]{8})?\.so\.(\d+)[.\d]*$"
)


def _exports(path: str) -> frozenset[str]:
    out = subprocess.run(
        ["nm", "-D", "--defined-only", path], capture_output=True, text=True, check=True
    ).stdout
    return frozenset(line.split()[-1] for line in out.splitlines() if line.strip())


def _link_same_runtime(
    binaries: list[tuple[str, str, str]],
) -> tuple[list[tuple[str, str, str]], str]:
    """Two builds of one GCC runtime library (same name and major version, exactly the same
    exported symbols with versions) become one: the later a symbolic link to the first.

    scipy.libs carries a second libgfortran.so.5 (and its libquadmath) for four of its own
    modules (odr, fitpack, dfitpack, fblas) next to the one numpy's and scipy's OpenBLAS use;
    both export the same 1363 symbols (GFORTRAN_8). Only libgfortran and libquadmath are
    considered, and only with `nm`.
    """
    if shutil.which("nm") is None:
        return list(binaries), "runtime libraries: kept (no nm)"
    first: dict[tuple[str, str, frozenset[str]], str] = {}
    out = []
    saved = 0
    for dest, src, kind in binaries:
        m = _GCC_RUNTIME.match(dest.replace("\\", "/"))
        if kind not in ("BINARY", "EXTENSION") or m is None or not os.path.isfile(src):
            out.append((dest, src, kind))
            continue
        key = (m.group(1), m.group(2), _exports(src))
        if key in first:
            out.append((dest, os.path.relpath(first[key], os.path.dirname(dest)), "SYMLINK"))
            saved += os.path.getsize(src)
        else:
            first[key] = dest.replace("\\", "/")
            out.append((dest, src, kind))
    return out, f"{saved / 2**20:.1f} MB of equivalent GCC runtime libraries linked"


#: ICU data Qt never reads. Qt Core calls ICU only for converters (ucnv_*), collation (ucol_*),
#: time-zone names (ucal_*) and case mapping (u_strToUpper/Lower): check with
#: `nm -D --undefined-only libQt6Core.so.6 | grep _73`. Break iterators, units, currencies,
#: transliterators and rule-based number formats belong to ICU APIs it does not use, and so do
#: the display names of languages and regions (`lang/`, `region/`: Qt has its own; time-zone
#: names come from `zone/`, kept): without these two, the names of all 644 zones in 10 locales,
#: collation, case mapping and the codec list came out identical to the full data's.
ICU_DATA_DROPPED = ("brkitr/", "unit/", "curr/", "translit/", "rbnf/", "lang/", "region/")
_ICU_DATA = re.compile(r"^PySide6/(?:Qt/)?lib/(libicudata\.so\.(\d+))$")


def filter_icu_data(
    binaries: list[tuple[str, str, str]], workdir: Path
) -> tuple[list[tuple[str, str, str]], str]:
    """`binaries` with Qt's libicudata (31 MB) rebuilt without `ICU_DATA_DROPPED` (16 MB).

    libicudata.so.NN holds one symbol, `icudtNN_dat`: ICU's common data package. It is cut out,
    the unused items are removed with ICU's `icupkg` (Debian: icu-devtools), and the rest is
    linked back into a library of the same soname and symbol. Without icupkg or a C compiler
    the original is kept. Collation, codecs, case mapping and time-zone names give the same
    results as with the full data (checked with PySide6 before adopting this).
    """
    entries = [e for e in binaries if _ICU_DATA.match(e[0].replace("\\", "/"))]
    if len(entries) != 1:
        return list(binaries), "icu: libicudata not found, kept as is"
    tools = [shutil.which(t) for t in ("icupkg", "cc", "nm", "readelf")]
    if None in tools:
        return list(binaries), "icu: full data kept (needs icupkg from icu-devtools, cc, binutils)"
    icupkg, cc, nm, readelf = (str(t) for t in tools)
    dest, src, kind = entries[0]
    soname, version = _ICU_DATA.match(dest.replace("\\", "/")).groups()  # type: ignore[union-attr]
    symbol = f"icudt{version}_dat"
    syms = subprocess.run([nm, "-D", "-S", src], capture_output=True, text=True, check=True)
    found = [line.split() for line in syms.stdout.splitlines() if line.endswith(f" {symbol}")]
    sections = subprocess.run(
        [readelf, "-S", "-W", src], capture_output=True, text=True, check=True
    ).stdout
    rodata = re.search(r"\.rodata\s+PROGBITS\s+([0-9a-f]+)\s+([0-9a-f]+)", sections)
    if len(found) != 1 or len(found[0]) != 4 or rodata is None:
        return list(binaries), f"icu: no {symbol} in .rodata, kept as is"
    addr, size = int(found[0][0], 16), int(found[0][1], 16)
    offset = addr - int(rodata.group(1), 16) + int(rodata.group(2), 16)
    folder = workdir / "icu"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    package = folder / f"icudt{version}l.dat"  # icupkg wants the package's own name
    with open(src, "rb") as fh:
        fh.seek(offset)
        package.write_bytes(fh.read(size))
    items = subprocess.run(
        [icupkg, "-l", str(package)], capture_output=True, text=True, check=True
    ).stdout.split()
    dropped = [i for i in items if i.startswith(ICU_DATA_DROPPED)]
    if not items or not dropped:
        return list(binaries), "icu: nothing to drop, kept as is"
    (folder / "dropped.txt").write_text("\n".join(dropped) + "\n")
    subprocess.run(
        [icupkg, "-r", str(folder / "dropped.txt"), str(package)], check=True, cwd=folder
    )
    (folder / "icudata.S").write_text(
        "    .section .rodata\n    .balign 16\n"
        f"    .globl {symbol}\n    .type {symbol}, @object\n{symbol}:\n"
        f'    .incbin "{package.name}"\n    .size {symbol}, . - {symbol}\n'
        '    .section .note.GNU-stack,"",@progbits\n'
    )
    target = folder / soname
    subprocess.run(
        [cc, "-shared", "-s", f"-Wl,-soname,{soname}", "-o", str(target), "icudata.S"],
        check=True,
        cwd=folder,
    )
    new = [(d, str(target), k) if d == dest else (d, s, k) for d, s, k in binaries]
    saved = (os.path.getsize(src) - target.stat().st_size) / 2**20
    return new, f"icu: {len(dropped)} of {len(items)} data items left out, {saved:.0f} MB less"


_LLVMLITE = re.compile(r"^llvmlite/binding/libllvmlite\.so$")


def slim_llvmlite(
    binaries: list[tuple[str, str, str]], lib: str | None
) -> tuple[list[tuple[str, str, str]], str]:
    """`binaries` with llvmlite's library replaced by `lib`, the x86-64-only build.

    `lib` comes from packaging/slim_llvmlite.py (build_bundle.sh passes it in
    PHOTOSORT_BUNDLE_LLVMLITE): the same llvmlite version's C bridge linked against LLVM's X86
    target alone, 41 MB instead of the wheel's 152. Without it the wheel's library is kept.
    """
    entries = [e for e in binaries if _LLVMLITE.match(e[0].replace("\\", "/"))]
    if len(entries) != 1:
        return list(binaries), "llvmlite: libllvmlite.so not found, nothing replaced"
    if not lib or not os.path.isfile(lib):
        return list(binaries), "llvmlite: the wheel's library kept (no slim build)"
    dest, src, _ = entries[0]
    new = [(d, lib, k) if d == dest else (d, s, k) for d, s, k in binaries]
    saved = (os.path.getsize(src) - os.path.getsize(lib)) / 2**20
    return new, f"llvmlite: x86-64-only library, {saved:.0f} MB less"


#: Never compressed with UPX: Qt finds its plugins by reading their `.qtmetadata` section from
#: the file, which UPX compresses ("Could not find the Qt platform plugin").
UPX_EXCLUDE = re.compile(r"^PySide6/(?:Qt/)?plugins/")
#: Smaller files gain little and each costs an unpacking at load time.
UPX_MIN_BYTES = 64 * 1024


def should_upx(dest: str, src: str) -> bool:
    """Whether to try UPX on a collected binary: an ELF shared library, large enough, allowed."""
    dest = dest.replace("\\", "/")
    if UPX_EXCLUDE.match(dest) or not re.search(r"\.so(\.[\d.]+)?$", dest):
        return False
    if not os.path.isfile(src) or os.path.getsize(src) < UPX_MIN_BYTES:
        return False
    with open(src, "rb") as fh:
        return fh.read(4) == b"\x7fELF"


def upx_binaries(
    binaries: list[tuple[str, str, str]], workdir: Path, upx: str | None
) -> tuple[list[tuple[str, str, str]], str]:
    """`binaries` with UPX-compressed copies (under `workdir`) of what `should_upx` allows.

    UPX unpacks a library into memory when it is loaded: the folder on disk is smaller, the
    memory used is not (the unpacked pages are private instead of shared file mappings). UPX
    refuses the libraries that auditwheel edited with patchelf (OpenBLAS, libgfortran, most of
    pillow's: "bad DT_STRSZ", "DT_GNU_HASH above stub"); those are kept as they are. Only the
    default method (NRV) is used: `--lzma` packed libraries crashed on loading.
    """
    if not upx:
        return list(binaries), "upx: not used (no upx 4.2.4)"
    import hashlib

    out = []
    saved = 0
    packed = refused = 0
    for dest, src, kind in binaries:
        if kind in ("BINARY", "EXTENSION") and should_upx(dest, src):
            # Cached by content: rebuilding the bundle does not pack the same library again.
            with open(src, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()[:20]
            target = workdir / digest / Path(dest).name
            refusal = target.with_name(target.name + ".refused")
            if not target.exists() and not refusal.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)
                target.chmod(0o755)  # upx packs executable files only (some wheels ship 0644)
                result = subprocess.run(
                    [upx, "-q", "-q", str(target)], capture_output=True, text=True
                )
                if result.returncode != 0:
                    target.unlink()
                    refusal.write_text(result.stdout + result.stderr)
            if target.exists():
                saved += os.path.getsize(src) - target.stat().st_size
                packed += 1
                src = str(target)
            else:
                refused += 1
        out.append((dest, src, kind))
    return out, f"upx: {packed} libraries packed, {refused} refused, {saved / 2**20:.0f} MB less"
