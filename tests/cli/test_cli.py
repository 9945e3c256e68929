import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from photosort.cli import main
from tests import paused_cli
from tests.conftest import make_photo


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "photosort", *args], capture_output=True, text=True, timeout=300
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_index_prints_a_summary_and_rescan_is_unchanged(photo_folder: Path, db_path: Path):
    (photo_folder / "broken.jpg").write_bytes(b"nope")
    first = run("index", str(photo_folder), "--db", str(db_path))
    assert "13 photos: 12 indexed, 0 unchanged" in first.stdout
    assert "broken.jpg: not a recognised image format" in first.stderr
    second = run("index", str(photo_folder), "--db", str(db_path))
    assert "0 indexed, 12 unchanged" in second.stdout


def test_db_from_environment(photo_folder: Path, tmp_path: Path, monkeypatch) -> None:
    env_db = tmp_path / "env.sqlite3"
    monkeypatch.setenv("PHOTOSORT_DB", str(env_db))
    run("index", str(photo_folder))
    assert env_db.exists()


def test_sort_json_ranks_the_reference_first_and_every_photo_once(
    photo_folder: Path, db_path: Path
) -> None:
    ref = photo_folder / "p03.jpg"
    out = run("sort", str(photo_folder), "--like", str(ref), "--json", "--db", str(db_path))
    ranking = json.loads(out.stdout)
    assert ranking[0] == {"path": str(ref), "distance": 0.0}
    assert len(ranking) == 12 == len({r["path"] for r in ranking})
    dists = [r["distance"] for r in ranking]
    assert dists == sorted(dists)
    limited = run(
        "sort", str(photo_folder), "--like", str(ref), "--limit", "3", "--db", str(db_path)
    )
    assert len(limited.stdout.splitlines()) == 3


def test_sort_with_several_references(photo_folder: Path, db_path: Path) -> None:
    a, b = photo_folder / "p01.jpg", photo_folder / "sub" / "p10.jpg"
    out = run(
        "sort",
        str(photo_folder),
        "--like",
        str(a),
        "--like",
        str(b),
        "--json",
        "--db",
        str(db_path),
    )
    assert [r["path"] for r in json.loads(out.stdout)[:2]] == [str(a), str(b)]


def test_reference_outside_the_folder(photo_folder: Path, tmp_path: Path, db_path: Path):
    outside = make_photo(tmp_path / "elsewhere" / "ref.jpg", seed=3, quality=90)  # same as p03
    out = run("sort", str(photo_folder), "--like", str(outside), "--json", "--db", str(db_path))
    ranking = json.loads(out.stdout)
    assert ranking[0]["path"] == str(photo_folder / "p03.jpg")
    assert ranking[0]["distance"] < 0.01 and len(ranking) == 12


def test_export_dry_run_and_real(photo_folder: Path, tmp_path: Path, db_path: Path) -> None:
    ref = photo_folder / "p05.jpg"
    dest = tmp_path / "dest"
    dry = run(
        "export", str(photo_folder), "--like", str(ref), "--to", str(dest), "--dry-run",
        "--db", str(db_path),
    )  # fmt: skip
    assert dry.stdout.splitlines()[0] == f"0001_p05.jpg\t{ref}"
    assert not dest.exists()
    run(
        "export", str(photo_folder), "--like", str(ref), "--to", str(dest),
        "--pattern", "{rank:02d}-{stem}{ext}", "--db", str(db_path),
    )  # fmt: skip
    assert (dest / "01-p05.jpg").read_bytes() == ref.read_bytes()
    assert len(list(dest.glob("*.jpg"))) == 12


def test_latents_npz(photo_folder: Path, tmp_path: Path, db_path: Path) -> None:
    out = tmp_path / "l.npz"
    run("latents", str(photo_folder), "--out", str(out), "--db", str(db_path))
    data = np.load(out)
    assert data["vectors"].shape == (12, 192) and data["vectors"].dtype == np.float32
    assert str(data["metric"]) == "euclidean" and str(data["model"]) == "pixels-8x8"
    assert all(os.path.isabs(p) for p in data["paths"])


def test_models_json() -> None:
    models = json.loads(run("models", "--json").stdout)
    placeholder = next(m for m in models if m["id"] == "pixels-8x8")
    assert placeholder["latent_size"] == 192 and placeholder["generative"] is False
    assert sum(m["default"] for m in models) == 1
    for key in ("id", "description", "latent_size", "metric", "default", "generative"):
        assert all(key in m for m in models)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["index", "/no/such/folder"], "no such folder"),
        (["sort", "{folder}", "--like", "{folder}/../notes.txt"], "not a photo"),
        (["sort", "{folder}", "--like", "{folder}/missing.jpg"], "no such photo"),
        (["index", "{folder}", "--model", "nope"], "unknown model 'nope'"),
        (["export", "{folder}", "--like", "{folder}/p00.jpg", "--to", "{blocker}/x"], "cannot"),
        (["export", "{folder}", "--like", "{folder}/p00.jpg", "--to", "/tmp/x", "--pattern", "../{{name}}"], "folders or '..'"),
    ],
)  # fmt: skip
def test_user_errors_are_one_line_without_traceback(
    photo_folder: Path, tmp_path: Path, db_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "notes.txt").write_text("text")
    (tmp_path / "blocker").write_text("a file, not a folder")
    argv = [a.format(folder=photo_folder, blocker=tmp_path / "blocker") for a in args]
    proc = run(*argv, "--db", str(db_path), check=False)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_main_in_process_and_version(capsys, photo_folder: Path, db_path: Path) -> None:
    assert main(["index", str(photo_folder), "--db", str(db_path)]) == 0
    assert "12 indexed" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("PhotoSort ")


def _count(db: Path, sql: str) -> int:
    try:
        conn = sqlite3.connect(db, timeout=5)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_index_killed_with_sigkill_resumes_with_nothing_lost_or_doubled(tmp_path: Path):
    folder = tmp_path / "many"
    for i in range(240):
        make_photo(folder / f"d{i % 7}" / f"img{i:03d}.jpg", seed=1000 + i, size=(640, 480))
    db = tmp_path / "kill.sqlite3"
    cmd = [sys.executable, "-m", "photosort", "index", str(folder), "--db", str(db)]
    # Each run is stopped at a point of its work (tests.paused_cli), then killed there: after
    # a batch committed, inside a batch's transaction, before a batch.
    points = [("index-batch", 2, "after"), ("index-latent", 10, "after"),
              ("index-batch", 1, "after"), ("index-batch", 3, "before")]  # fmt: skip
    seen = 0
    for point, nth, when in points:
        ready = tmp_path / "ready"
        ready.unlink(missing_ok=True)
        proc = paused_cli.popen(
            point, nth, when, ready, *cmd[3:], "--threads", "1", stdout=subprocess.DEVNULL
        )
        paused_cli.wait_ready(proc, ready)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = _count(db, "SELECT COUNT(*) FROM latents")
        committed = nth if when == "after" and point == "index-batch" else nth - 1
        assert now == seen + (32 * committed if point == "index-batch" else 0)
        seen = now
    final = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert "240 photos" in final.stdout
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0] == 240
    assert conn.execute("SELECT COUNT(DISTINCT path) FROM photos").fetchone()[0] == 240
    assert conn.execute("SELECT COUNT(*) FROM latents").fetchone()[0] == 240
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert "0 indexed, 240 unchanged" in rerun.stdout


def test_index_starts_decoding_before_numpy_and_onnxruntime_are_imported(
    photo_folder: Path, db_path: Path
) -> None:
    """`photosort index` imports only its own command, and the indexer's decode threads start
    before numpy and onnxruntime are loaded (they load meanwhile, on the main thread)."""
    probe = (
        "import sys, photosort.cli as cli, photosort.core.indexer as ix\n"
        "real = ix.ThreadPoolExecutor\n"
        "def spy(*a, **k):\n"
        "    print('pool:', sorted(m for m in ('numpy', 'onnxruntime', 'photosort.commands.sort',"
        " 'photosort.commands.map') if m in sys.modules))\n"
        "    import os; print('blas timeout:', os.environ.get('OPENBLAS_THREAD_TIMEOUT'))\n"
        "    return real(*a, **k)\n"
        "ix.ThreadPoolExecutor = spy\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    proc = subprocess.run(
        [sys.executable, "-c", probe, "index", str(photo_folder), "--db", str(db_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "pool: []" in proc.stdout
    assert "blas timeout: 4" in proc.stdout  # set before numpy (and its OpenBLAS) loads
    assert "12 photos: 12 indexed" in proc.stdout


def test_blas_helper_threads_are_told_not_to_spin(monkeypatch, capsys) -> None:
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "x")  # so that monkeypatch restores it after
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT")
    assert main(["models"]) == 0
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "4"
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "20")  # a user's own choice is kept
    assert main(["models"]) == 0
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "20"
