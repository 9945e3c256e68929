"""Runtime hook of the PhotoSort bundle: runs before the app's code in the frozen executable."""

import os

# numba caches the compiled UMAP functions; the bundle's folder may be read-only (/opt, Program
# Files), so the cache goes to the user's cache folder, as for the rest of PhotoSort.
if "NUMBA_CACHE_DIR" not in os.environ:
    try:
        import platformdirs

        cache = platformdirs.user_cache_dir("PhotoSort", "PhotoSort")
        os.environ["NUMBA_CACHE_DIR"] = os.path.join(cache, "numba")
    except Exception:  # noqa: BLE001 - numba then falls back to its own choice
        pass
