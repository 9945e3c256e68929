import tomllib

import photosort
from tests.conftest import REPO


def test_version_matches_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert photosort.__version__ == project["version"]
