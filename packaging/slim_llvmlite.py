"""Build llvmlite's libllvmlite.so for x86-64 only: 152 MB in the wheel, 41.5 MB here.

    python packaging/slim_llvmlite.py SDIST WORKDIR      (build_bundle.sh runs it)

The llvmlite wheel links LLVM's code generators for 19 architectures (AMDGPU, NVPTX, ARM,
RISC-V, ...) into one library; numba compiles UMAP's kernels for the host CPU alone. This builds
the same llvmlite version's C bridge (`ffi/`, from its source distribution) against Debian's
static LLVM libraries (`apt-get install llvm-NN-dev libzstd-dev cmake`, NN the version llvmlite's
CMakeLists names) with only the X86 target, `--gc-sections` and stripped symbols. The exported
`LLVMPY_*` functions are the wheel's; the Python half of llvmlite stays the wheel's.
`LLVMPY_InitializeAll*` initialise X86 only (the target lists `llvm-c/Target.h` reads are
replaced for this build).

Plain Python, no PyInstaller: the text patches are tested in tests/test_packaging.py. Prints the
path of the built library on the last line; exits 3 (nothing built) when LLVM's static libraries
are not installed, so that the caller can keep the wheel's library.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

#: SHA-256 of the llvmlite source distributions this was tried with (the version pinned in
#: requirements-bundle.txt); another version is not built until its hash is added here.
SDIST_SHA256 = {
    "llvmlite-0.50.0.tar.gz": "f2a2cd6ec9ffcc1b7147dea0d7a49efebf17a2b434e0c2844fe175999d571eb4",
}
#: The LLVM targets kept. numba's CPU target is the host's; x86-64 is what the bundle runs on.
TARGETS = ("X86",)
#: The generated LLVM headers that list every target of the LLVM build.
TARGET_LISTS = ("Targets", "AsmPrinters", "AsmParsers", "Disassemblers", "TargetMCAs")


def supported_llvm(cmakelists: str) -> int:
    """The LLVM major version llvmlite's ffi/CMakeLists.txt accepts."""
    m = re.search(r"set\(LLVMLITE_SUPPORTED_LLVM_VERSION_DEFAULT (\d+)\)", cmakelists)
    if m is None:
        raise ValueError("no LLVMLITE_SUPPORTED_LLVM_VERSION_DEFAULT in CMakeLists.txt")
    return int(m.group(1))


def patch_cmakelists(text: str, targets: tuple[str, ...] = TARGETS) -> str:
    """llvmlite's CMakeLists linking `targets` only, with our target lists first, gc'd sections."""
    components = "".join(f"\n                        {t}{p}" for t in targets for p in _PARTS)
    new = text.replace(
        "AllTargetsCodeGens\n                        AllTargetsAsmParsers)",
        components.lstrip("\n").lstrip() + ")",
    )
    new = new.replace(
        "include_directories(${LLVM_INCLUDE_DIRS})",
        "include_directories(BEFORE ${CMAKE_CURRENT_SOURCE_DIR}/slim-include)\n"
        "include_directories(${LLVM_INCLUDE_DIRS})",
    )
    new = new.replace(
        '"-Wl,--exclude-libs,ALL -Wl,--no-undefined"',
        '"-Wl,--exclude-libs,ALL -Wl,--no-undefined -Wl,--gc-sections -Wl,--as-needed"',
    )
    if new.count("slim-include") != 1 or "--gc-sections" not in new or "X86CodeGen" not in new:
        raise ValueError("llvmlite's CMakeLists.txt changed: update slim_llvmlite.patch_cmakelists")
    return new


_PARTS = ("CodeGen", "AsmParser", "Desc", "Info")


def filter_target_list(text: str, targets: tuple[str, ...] = TARGETS) -> str:
    """One of LLVM's `llvm/Config/*.def` lists with only `targets` left in it."""
    keep = "|".join(re.escape(t) for t in targets)
    return (
        "\n".join(
            line
            for line in text.splitlines()
            if not re.match(rf"^LLVM_[A-Z_]+\((?!(?:{keep})\))", line)
        )
        + "\n"
    )


def build(sdist: Path, workdir: Path) -> Path | None:
    """Build the slim library from `sdist` under `workdir`; None if LLVM is not installed."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        print(f"slim llvmlite: builds for x86-64 only, not {platform.machine()}")
        return None
    workdir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if SDIST_SHA256.get(sdist.name) != digest:
        print(f"slim llvmlite: {sdist.name} ({digest[:12]}) is not in SDIST_SHA256, not built")
        return None
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        src = workdir / top
        if not src.exists():
            tar.extractall(workdir, filter="data")
    ffi = src / "ffi"
    cmakelists = ffi / "CMakeLists.txt"
    original = ffi / "CMakeLists.txt.orig"
    if not original.exists():
        shutil.copy2(cmakelists, original)
    text = original.read_text()
    major = supported_llvm(text)
    llvm_dir = Path(f"/usr/lib/llvm-{major}/lib/cmake/llvm")
    include = Path(f"/usr/lib/llvm-{major}/include/llvm/Config")
    if not (llvm_dir / "LLVMConfig.cmake").exists() or not list(
        llvm_dir.parent.parent.glob("libLLVMX86CodeGen.a")
    ):
        print(
            f"slim llvmlite: no static LLVM {major} (apt-get install llvm-{major}-dev libzstd-dev)"
        )
        return None
    if shutil.which("cmake") is None or shutil.which("c++") is None:
        print("slim llvmlite: needs cmake and a C++ compiler")
        return None
    cmakelists.write_text(patch_cmakelists(text))
    lists = ffi / "slim-include" / "llvm" / "Config"
    lists.mkdir(parents=True, exist_ok=True)
    for name in TARGET_LISTS:
        source = include / f"{name}.def"
        if source.exists():
            (lists / f"{name}.def").write_text(filter_target_list(source.read_text()))
    build_dir = workdir / "build"
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir()
    nice = ["nice", "-n", "10"]
    subprocess.run(
        [
            *nice,
            "cmake",
            "-G",
            "Unix Makefiles",
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DLLVM_DIR={llvm_dir}",
            "-DLLVMLITE_LTO=OFF",
            "-DLLVMLITE_PACKAGE_FORMAT=wheel",
            str(ffi),
        ],
        cwd=build_dir,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    jobs = os.environ.get("PHOTOSORT_BUNDLE_JOBS", "2")
    log = workdir / "build.log"
    with open(log, "w") as fh:  # LLVM's headers warn a lot: the log keeps it
        made = subprocess.run([*nice, "make", f"-j{jobs}"], cwd=build_dir, stdout=fh, stderr=fh)
    if made.returncode != 0:
        print("".join(log.read_text().splitlines(keepends=True)[-30:]), file=sys.stderr)
        raise subprocess.CalledProcessError(made.returncode, "make")
    target = workdir / "libllvmlite.so"
    shutil.copy2(build_dir / "libllvmlite.so", target)
    subprocess.run(["strip", "--strip-unneeded", str(target)], check=True)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    lib = build(Path(argv[1]), Path(argv[2]))
    if lib is None:
        return 3
    print(f"slim llvmlite: {lib.stat().st_size / 2**20:.1f} MB")
    print(lib)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
