"""The bundle's executable: the same entry point as the `photosort` command."""

import multiprocessing
import sys

from photosort.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
