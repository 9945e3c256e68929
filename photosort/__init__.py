"""PhotoSort: sort a folder of photos by visual similarity."""

from importlib import metadata

try:
    __version__ = metadata.version("photosort")
except metadata.PackageNotFoundError:  # running from a source tree or a frozen bundle
    __version__ = "0.1.0"
