"""`python -m photosort` runs the same entry point as the `photosort` command."""

import sys

from photosort.cli import main

sys.exit(main())
