"""The app open while the command line indexes the same folder into the same database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import make_photo
from tests.ui.conftest import INDEX_TIMEOUT


def test_app_and_cli_index_the_same_store_at_once(qtbot, make_window, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for i in range(160):
        make_photo(folder / f"d{i % 4}" / f"img{i:03d}.jpg", seed=500 + i, size=(480, 360))
    db = tmp_path / "photosort.sqlite3"  # the database make_window's windows use
    cli = subprocess.Popen(
        [sys.executable, "-m", "photosort", "index", str(folder), "--db", str(db)]
        + ["--model", "pixels-8x8", "--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    window = make_window()
    errors: list[str] = []
    window.errorShown.connect(errors.append)
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT) as done:
        window.open_folder(str(folder))
    out, err = cli.communicate(timeout=120)
    report = done.args[0]

    assert cli.returncode == 0, err
    assert "locked" not in err.lower() and "160 photos" in out
    assert errors == []
    assert not report.skipped and not report.cancelled
    # Together they indexed every photo once: what one encoded, the other found unchanged.
    with qtbot.waitSignal(window.library.indexFinished, timeout=INDEX_TIMEOUT) as again:
        window.library.start_indexing()
    assert (again.args[0].indexed, again.args[0].unchanged) == (0, 160)
    assert window.model.rowCount() == 160
