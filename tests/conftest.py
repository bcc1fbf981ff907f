import os
import sys

# Tests never reach a network: ultralytics must not try to pip-install or phone home, whichever
# test imports it first (stash_sense.models.yolo sets the same for the plugin process).
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from collections.abc import Iterator  # noqa: E402 (after the environment above)
from typing import TYPE_CHECKING, Any  # noqa: E402

import pytest  # noqa: E402

from tests.e2e import require_schema  # noqa: E402

if TYPE_CHECKING:
    from tests.helpers.faces import ColourIdentity
    from tests.standin.server import FakeStash


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "violates_schema: the test sends requests Stash's schema rejects on purpose "
                   "(tests of the stand-in), so the `stash` fixture does not fail it for them")


@pytest.fixture
def stash_options() -> dict[str, Any]:
    """FakeStash's keyword arguments for the `stash` fixture. A module that needs another Stash
    (auth required, an API key, static files for the browser) overrides this fixture, so there is
    still one `stash` fixture and one place that checks what the plugin sent."""
    return {}


@pytest.fixture
def stash(request: pytest.FixtureRequest, stash_options: dict[str, Any]) -> Iterator["FakeStash"]:
    """A running Stash stand-in on Stash's real schema (tests/standin). The test fails at teardown
    if a request broke the schema (the real Stash would have refused it) or if the stand-in itself
    raised: a green test must mean the plugin spoke to Stash as Stash expects."""
    require_schema()
    from tests.standin.server import FakeStash
    with FakeStash(**stash_options) as s:
        yield s
        if request.node.get_closest_marker("violates_schema") is None:
            assert s.schema_violations == [], "the plugin sent a request Stash's schema rejects"
        assert s.internal_errors == [], s.internal_errors


@pytest.fixture
def colour_faces(monkeypatch: pytest.MonkeyPatch) -> "ColourIdentity":
    """Face recognition stood in, in this process: FaceEngine.embed answers ColourIdentity's
    vectors (tests/helpers/faces.py), because the VGGFace2 weights cannot be downloaded here and
    random weights give every face the same vector. Everything around it stays real."""
    from stash_sense.faces.engine import FaceEngine
    from tests.helpers.faces import ColourIdentity
    identity = ColourIdentity()
    monkeypatch.setattr(FaceEngine, "embed", lambda self, crops: identity(crops))
    return identity
