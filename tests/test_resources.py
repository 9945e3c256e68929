"""Checks on the packaged resources: icons, launcher entry, AppStream metadata, sample photos."""

from __future__ import annotations

import configparser
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
ICONS = RESOURCES / "icons"
SAMPLES = RESOURCES / "samples"
APP_ID = "io.github.photosort.PhotoSort"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = {16, 24, 32, 48, 64, 128, 256}
ACTIONS = (
    "open-folder",
    "sort-similar",
    "export",
    "map",
    "zoom-in",
    "zoom-out",
    "cancel",
    "arrange",
)
SVG_NS = "{http://www.w3.org/2000/svg}"
ORIENTATION = 0x0112
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="resources/samples/ not present")


@pytest.mark.parametrize("size", PNG_SIZES)
def test_icon_png_exists_with_right_size(size: int) -> None:
    path = ICONS / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
    assert path.is_file(), path
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == (size, size)
        assert im.mode == "RGBA"


def test_ico_holds_all_sizes() -> None:
    with Image.open(ICONS / "photosort.ico") as im:
        assert im.format == "ICO"
        assert {w for w, h in im.info["sizes"] if w == h} >= ICO_SIZES


def _svg_files() -> list[Path]:
    return [ICONS / "photosort.svg"] + [ICONS / "actions" / f"{name}.svg" for name in ACTIONS]


@pytest.mark.parametrize("path", _svg_files(), ids=lambda p: p.name)
def test_svg_parses(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("viewBox")
    if path.parent.name == "actions":
        assert root.get("viewBox") == "0 0 24 24"
        # Qt's SVG renderer does not resolve currentColor reliably: colours are explicit.
        assert "currentColor" not in path.read_text(encoding="utf-8")


def test_desktop_entry_has_required_keys() -> None:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read(RESOURCES / f"{APP_ID}.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "PhotoSort"
    assert entry["GenericName"]
    assert entry["Comment"]
    assert entry["Exec"].split()[0] == "photosort-gui"
    assert entry["Icon"] == APP_ID
    assert entry["Terminal"] == "false"
    assert entry["MimeType"] == "inode/directory;"
    assert entry["Keywords"].endswith(";")
    categories = entry["Categories"].rstrip(";").split(";")
    assert {"Graphics", "Photography", "Viewer"} <= set(categories)


def test_metainfo_parses_and_names_the_app() -> None:
    root = ET.parse(RESOURCES / f"{APP_ID}.metainfo.xml").getroot()
    assert root.tag == "component"
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == "MIT"
    assert root.findtext("name") == "PhotoSort"
    assert root.findtext("summary")
    assert root.findall("description/p")
    launchable = root.find("launchable")
    assert launchable is not None
    assert launchable.get("type") == "desktop-id"
    assert launchable.text == f"{APP_ID}.desktop"
    assert root.find("content_rating") is not None
    releases = root.findall("releases/release")
    assert any(r.get("version") == "0.1.0" and r.get("date") == "2026-11-25" for r in releases)


def _samples() -> list[Path]:
    return sorted(SAMPLES.glob("*.jpg"), key=lambda p: p.name.lower())


@needs_samples
def test_samples_present() -> None:
    # 21: olympus_u1020.jpg was left out, its pixels are stored sideways under an "upright" tag.
    assert len(_samples()) == 21


@needs_samples
def test_every_sample_has_a_credits_entry() -> None:
    credits = (SAMPLES / "CREDITS.md").read_text(encoding="utf-8")
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `([^`]+)` \|(.*)\|\s*$", credits, flags=re.MULTILINE)
    }
    for path in _samples():
        assert path.name in rows, f"{path.name} has no row in CREDITS.md"
        assert re.search(r"CC(0| BY)", rows[path.name]), f"{path.name}: no licence named"
    assert set(rows) == {p.name for p in _samples()}, "CREDITS.md lists a missing file"


@needs_samples
@pytest.mark.parametrize("path", _samples(), ids=lambda p: p.name)
def test_sample_is_small_and_upright(path: Path) -> None:
    with Image.open(path) as im:
        assert im.format == "JPEG"
        assert max(im.size) <= 1100
        assert im.getexif().get(ORIENTATION, 1) == 1


@needs_samples
def test_camera_exif_kept() -> None:
    with Image.open(SAMPLES / "canon_hdr_NO.jpg") as im:
        exif = im.getexif()
        assert im.width < im.height  # stored sideways in the original, turned upright here
    assert exif.get(0x010F) == "Canon"  # Make
    assert exif.get_ifd(0x8769).get(0x9003)  # DateTimeOriginal


@needs_samples
def test_samples_total_size_is_modest() -> None:
    total = sum(p.stat().st_size for p in _samples())
    assert total < 5 * 1024 * 1024
