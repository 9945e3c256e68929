"""PhotoSort: sort a folder of photos by visual similarity."""

# A constant rather than importlib.metadata: looking the distribution up cost ~0.3 s of every
# start. tests/test_version.py keeps it equal to pyproject.toml's version.
__version__ = "0.1.0"
