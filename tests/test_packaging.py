"""Packaging: the PyInstaller spec, what it keeps and leaves out, and `pip install .`'s data files.

The bundle build itself (minutes, ~1 GB of build venv) runs only with PHOTOSORT_TEST_BUNDLE=1.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "photosort.spec"
APP_ID = "io.github.photosort.PhotoSort"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def _packaging_module(name: str) -> ModuleType:
    """packaging/NAME.py, which is a script folder rather than a package."""
    spec = importlib.util.spec_from_file_location(name, REPO / "packaging" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bundle_config() -> ModuleType:
    return _packaging_module("bundle_config")


def _pyproject() -> dict:
    with open(REPO / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def test_spec_parses_and_uses_the_pyproject_version() -> None:
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= calls
    text = SPEC.read_text(encoding="utf-8")
    assert "bundle_config.read_version(ROOT)" in text
    assert "exclude_binaries=True" in text  # one-folder
    assert _bundle_config().read_version(REPO) == _pyproject()["project"]["version"]


def test_spec_ships_models_and_resources_and_excludes_training() -> None:
    text = SPEC.read_text(encoding="utf-8")
    assert 'bundle_config.model_datas(\n    ROOT / "models"' in text
    assert '(str(ROOT / "resources"), "resources")' in text
    excludes = set(_bundle_config().EXCLUDES)
    assert {"torch", "photosort.training", "tests", "tkinter"} <= excludes
    assert {"PySide6.QtWebEngineCore", "PySide6.QtQml", "PySide6.QtQuick"} <= excludes
    assert {"PySide6.QtMultimedia", "PySide6.QtPdf", "PySide6.Qt3DCore"} <= excludes


def test_the_bundle_ships_every_encoder_but_the_reference_models() -> None:
    """The shipped models/ folder: everything the encoders need (manifests, encoder and decoder
    files, the model card), but the reference backbone of `photosort eval` unless asked for."""
    config = _bundle_config()
    models = REPO / "models"
    shipped = {Path(src).name for src, dest in config.model_datas(models)}
    assert {dest for _, dest in config.model_datas(models)} == {"models"}
    references = set()
    for manifest in models.glob("*.json"):
        raw = json.loads(manifest.read_text(encoding="utf-8"))
        files = {manifest.name} | {raw[k] for k in ("encoder", "decoder") if raw.get(k)}
        if raw.get("reference"):
            references |= files
            assert not files & shipped, manifest.name
        else:
            assert files <= shipped, manifest.name
    assert "MODEL_CARD.md" in shipped
    everything = {Path(src).name for src, _ in config.model_datas(models, with_references=True)}
    assert everything == {p.name for p in models.iterdir() if p.is_file()}
    assert everything - shipped == references


def test_read_version_reads_the_given_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "9.8.7"\n')
    assert _bundle_config().read_version(tmp_path) == "9.8.7"


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
        ("PySide6/Qt/plugins/platforms/libqvnc.so", False),
        ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
        ("PySide6/Qt/plugins/imageformats/libqjpeg.so", True),
        ("PySide6/Qt/plugins/imageformats/libqsvg.so", True),
        ("PySide6/Qt/plugins/imageformats/libqpdf.so", False),
        ("PySide6/Qt/plugins/iconengines/libqsvgicon.so", True),
        ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", False),
        ("PySide6/Qt/plugins/qmltooling/libqmldbg_debugger.so", False),
        ("PySide6/Qt/plugins/tls/libqopensslbackend.so", False),
        ("PySide6/Qt/translations/qtbase_de.qm", False),
        ("PySide6/Qt/translations/qtwebengine_de.qm", False),
        ("PySide6/Qt/translations/assistant_de.qm", False),
        ("PySide6/Qt/qml/QtQuick/Controls/qmldir", False),
        ("PySide6/Qt/lib/libQt6Widgets.so.6", True),
        ("PySide6/Qt/lib/libQt6Svg.so.6", True),
        ("PySide6/Qt/lib/libQt6Quick.so.6", False),
        ("PySide6/Qt/lib/libQt6Pdf.so.6", False),
        ("PySide6/Qt/lib/libQt6Network.so.6", False),
        ("numpy/_core/tests/data/umath-validation-set-README.txt", False),
        ("scipy/special/tests/data/boost.npz", False),
        ("llvmlite/binding/libllvmlite.so", True),
        ("onnxruntime/capi/libonnxruntime.so.1", True),
        ("PySide6/plugins/platforms/qwindows.dll", True),
        ("PySide6/plugins/imageformats/qjpeg.dll", True),
        ("PySide6/plugins/imageformats/qpdf.dll", False),
        ("PySide6/designer.exe", False),
        ("PySide6/translations/qtbase_fr.qm", False),
        ("models/pixels-8x8.onnx", True),
        ("resources/icons/photosort.svg", True),
        ("sklearn/datasets/images/china.jpg", False),
        ("sklearn/neighbors/_binary_tree.pxi.tp", False),
        ("sklearn/meson.build", False),
        ("sklearn/neighbors/_kd_tree.cpython-311-x86_64-linux-gnu.so", True),
    ],
)
def test_keep_entry(dest: str, kept: bool) -> None:
    assert _bundle_config().keep_entry(dest) is kept


def test_keep_module_drops_test_suites_only() -> None:
    keep = _bundle_config().keep_module
    assert keep("numpy.testing")
    assert keep("sklearn.utils._testing")
    assert keep("umap.umap_")
    assert not keep("numpy._core.tests.test_umath")
    assert not keep("scipy.sparse.tests")


def test_map_stack_excludes_only_what_umap_never_imports() -> None:
    excludes = set(_bundle_config().EXCLUDES)
    assert {"scipy.cluster", "sklearn.cluster", "sklearn.datasets"} <= excludes
    # umap, pynndescent and the scikit-learn parts they use
    for needed in (
        "scipy.sparse",
        "scipy.optimize",
        "scipy.stats",
        "sklearn.neighbors",
        "sklearn.decomposition",
        "sklearn.manifold",
        "sklearn.metrics",
    ):
        assert not any(needed == e or needed.startswith(e + ".") for e in excludes), needed


def test_dedupe_libs_links_identical_copies_only(tmp_path: Path) -> None:
    def lib(folder: str, name: str, data: bytes) -> str:
        path = tmp_path / folder / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        return str(path)

    binaries = [
        ("scipy.libs/libgfortran-1.so.5", lib("s", "libgfortran-1.so.5", b"same"), "BINARY"),
        ("numpy.libs/libgfortran-1.so.5", lib("n", "libgfortran-1.so.5", b"same"), "BINARY"),
        ("scipy.libs/libopenblas.so", lib("s", "libopenblas.so", b"lp64"), "BINARY"),
        ("numpy.libs/libopenblas.so", lib("n", "libopenblas.so", b"ilp64"), "BINARY"),
        ("libgfortran-1.so.5", "scipy.libs/libgfortran-1.so.5", "SYMLINK"),
    ]
    out, note = _bundle_config().dedupe_libs(binaries)
    by_dest = {d: (s, k) for d, s, k in out}
    assert by_dest["numpy.libs/libgfortran-1.so.5"][1] == "BINARY"
    assert by_dest["scipy.libs/libgfortran-1.so.5"] == (
        "../numpy.libs/libgfortran-1.so.5",
        "SYMLINK",
    )
    assert by_dest["scipy.libs/libopenblas.so"][1] == "BINARY"  # different bytes: both kept
    assert by_dest["numpy.libs/libopenblas.so"][1] == "BINARY"
    assert by_dest["libgfortran-1.so.5"] == ("scipy.libs/libgfortran-1.so.5", "SYMLINK")
    assert len(out) == len(binaries)
    assert "linked" in note


def test_x265_stub_source_defines_what_libheif_imports() -> None:
    source = (REPO / "packaging" / "stubs" / "x265_stub.c").read_text()
    assert "X265_API_GET" in source and "x265_cleanup" in source
    assert _bundle_config().x265_stub([], Path("/nonexistent"))[0] == []


def _data_files() -> dict[str, list[str]]:
    return _pyproject()["tool"]["setuptools"]["data-files"]


def test_data_files_install_the_launcher_icons_and_metainfo() -> None:
    data = _data_files()
    assert data["share/applications"] == [f"resources/{APP_ID}.desktop"]
    assert data["share/metainfo"] == [f"resources/{APP_ID}.metainfo.xml"]
    for size in ICON_SIZES:
        target = f"share/icons/hicolor/{size}x{size}/apps"
        source = f"resources/icons/hicolor/{size}x{size}/apps/{APP_ID}.png"
        assert data[target] == [source]
        assert (REPO / source).is_file()
    desktop = configparser.ConfigParser(interpolation=None)
    desktop.read(REPO / "resources" / f"{APP_ID}.desktop")
    assert desktop["Desktop Entry"]["Icon"] == APP_ID
    assert desktop["Desktop Entry"]["Exec"].split()[0] in _pyproject()["project"]["gui-scripts"]


def test_data_files_cover_every_shipped_model_and_resource() -> None:
    """Every file the app looks up under models/ and resources/ is installed under
    share/photosort with the same relative path (photosort/paths.py looks there)."""
    installed: set[str] = set()
    for target, patterns in _data_files().items():
        if not target.startswith("share/photosort/"):
            continue
        for pattern in patterns:
            for path in REPO.glob(pattern):
                rel = path.relative_to(REPO).as_posix()
                assert target == "share/photosort/" + rel.rsplit("/", 1)[0], (target, rel)
                installed.add(rel)
    expected = {
        p.relative_to(REPO).as_posix()
        for folder in ("models", "resources/icons", "resources/samples")
        for p in (REPO / folder).rglob("*")
        if p.is_file()
    }
    assert expected <= installed, sorted(expected - installed)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("PHOTOSORT_TEST_BUNDLE") != "1",
    reason="builds the PyInstaller bundle (minutes); set PHOTOSORT_TEST_BUNDLE=1",
)
def test_build_the_bundle_and_selftest_it() -> None:
    proc = subprocess.run(
        ["bash", str(REPO / "packaging" / "build_bundle.sh")],
        cwd=REPO,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "self-test passed" in proc.stdout
    assert "bundle OK" in proc.stdout


def test_icu_filter_drops_only_data_qt_never_reads() -> None:
    config = _bundle_config()
    assert set(config.ICU_DATA_DROPPED) == {
        *("brkitr/", "unit/", "curr/", "translit/", "rbnf/", "lang/", "region/")
    }
    # collation, converters, zones and the locale tree are what Qt uses: never dropped
    for kept in ("coll/de.res", "ucadata.icu", "ibm-943_P15A-2003.cnv", "zone/de.res", "root.res"):
        assert not kept.startswith(config.ICU_DATA_DROPPED)
    binaries = [("PySide6/Qt/lib/libQt6Core.so.6", "/x", "BINARY")]
    assert config.filter_icu_data(binaries, Path("/nonexistent"))[0] == binaries


def _slim_llvmlite() -> ModuleType:
    return _packaging_module("slim_llvmlite")


#: The parts of llvmlite 0.50.0's ffi/CMakeLists.txt that slim_llvmlite patches.
_LLVMLITE_CMAKELISTS = """\
set(LLVMLITE_SUPPORTED_LLVM_VERSION_DEFAULT 22)
include_directories(${LLVM_INCLUDE_DIRS})
    set(LLVM_COMPONENTS mcjit
                        orcjit
                        OrcDebugging
                        AsmPrinter
                        AllTargetsCodeGens
                        AllTargetsAsmParsers)
    set(FORCED_LINK_FLAGS "-Wl,--exclude-libs,ALL -Wl,--no-undefined")
"""


def test_slim_llvmlite_links_the_x86_target_only() -> None:
    slim = _slim_llvmlite()
    assert slim.supported_llvm(_LLVMLITE_CMAKELISTS) == 22
    patched = slim.patch_cmakelists(_LLVMLITE_CMAKELISTS)
    assert "AllTargets" not in patched
    for part in ("X86CodeGen", "X86AsmParser", "X86Desc", "X86Info", "orcjit", "mcjit"):
        assert part in patched
    assert patched.index("slim-include") < patched.index("${LLVM_INCLUDE_DIRS}")
    assert "--gc-sections" in patched
    with pytest.raises(ValueError):
        slim.patch_cmakelists("set(LLVMLITE_SUPPORTED_LLVM_VERSION_DEFAULT 23)\n")
    targets = "#ifndef LLVM_TARGET\n#endif\nLLVM_TARGET(AArch64)\nLLVM_TARGET(X86)\n"
    targets += "LLVM_TARGET(X86Foo)\n#undef LLVM_TARGET\n"
    assert slim.filter_target_list(targets) == (
        "#ifndef LLVM_TARGET\n#endif\nLLVM_TARGET(X86)\n#undef LLVM_TARGET\n"
    )
    assert set(slim.SDIST_SHA256) == {"llvmlite-0.50.0.tar.gz"}


def test_slim_llvmlite_replaces_the_library_only_when_built(tmp_path: Path) -> None:
    config = _bundle_config()
    wheel = tmp_path / "wheel.so"
    wheel.write_bytes(b"x" * 1000)
    slim = tmp_path / "slim.so"
    slim.write_bytes(b"x" * 10)
    binaries = [
        ("llvmlite/binding/libllvmlite.so", str(wheel), "BINARY"),
        ("libz.so.1", "/usr/lib/libz.so.1", "BINARY"),
    ]
    assert config.slim_llvmlite(binaries, None)[0] == binaries
    assert config.slim_llvmlite(binaries, str(tmp_path / "missing.so"))[0] == binaries
    out, note = config.slim_llvmlite(binaries, str(slim))
    assert out == [(binaries[0][0], str(slim), "BINARY"), binaries[1]]
    assert "x86-64-only" in note


def test_upx_leaves_qt_plugins_small_files_and_non_libraries_alone(tmp_path: Path) -> None:
    config = _bundle_config()
    big = tmp_path / "big.so"
    big.write_bytes(b"\x7fELF" + bytes(config.UPX_MIN_BYTES))
    small = tmp_path / "small.so"
    small.write_bytes(b"\x7fELF" + bytes(100))
    data = tmp_path / "model.onnx"
    data.write_bytes(bytes(config.UPX_MIN_BYTES * 2))
    assert config.should_upx("llvmlite/binding/libllvmlite.so", str(big))
    assert config.should_upx("PySide6/Qt/lib/libQt6Core.so.6", str(big))
    assert not config.should_upx("PySide6/Qt/plugins/platforms/libqxcb.so", str(big))
    assert not config.should_upx("PySide6/Qt/plugins/imageformats/libqjpeg.so", str(big))
    assert not config.should_upx("numpy/_core/_small.so", str(small))
    assert not config.should_upx("models/x.so", str(data))  # not an ELF file
    assert not config.should_upx("photosort", str(big))  # the executable: PyInstaller's archive
    binaries = [("llvmlite/binding/libllvmlite.so", str(big), "BINARY")]
    assert config.upx_binaries(binaries, tmp_path / "upx", None)[0] == binaries


@pytest.mark.parametrize(
    ("dest", "matches"),
    [
        ("scipy.libs/libgfortran-8f1e9814.so.5.0.0", True),
        ("numpy.libs/libgfortran-040039e1-0352e75f.so.5.0.0", True),
        ("scipy.libs/libquadmath-828275a7.so.0.0.0", True),
        ("scipy.libs/libscipy_openblas-6cdc3b4a.so", False),
        ("libgfortran.so.5", False),
    ],
)
def test_only_gcc_runtime_libraries_are_linked_by_exports(dest: str, matches: bool) -> None:
    assert bool(_bundle_config()._GCC_RUNTIME.match(dest)) is matches
