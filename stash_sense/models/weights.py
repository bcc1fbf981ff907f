"""What every model family has in common: the weights it resolves to, and its lifecycle.

Each family (models/clip.py, yolo.py, ocr.py, faces.py) follows one lifecycle, in one module:

    resolve   weights(settings, device) -> [Weight]: which files the settings mean, where they
              are (or go) in modelDir, where they come from — nothing fetched, nothing loaded;
    download  Weight.download(progress): the missing file through the one downloader
              (models/download.py), or the library's own code where it must (CLIP's hub cache);
    load      load(settings, device): the model(s) as the analyzers use them, fetching what is
              missing first, as a first tagging run always did;
    verify    Weight.verify(): load that weight through the family's loading code.

The models catalog (models/catalog.py) is the families' weights put together, so `models list`
shows exactly what a task will load.
"""
from __future__ import annotations

import glob
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ..errors import ModelUnavailable
from ..settings import Settings
from .download import OnProgress

Model_co = TypeVar("Model_co", covariant=True)


@dataclass
class Weight:
    analyzer: str
    name: str                      # what it is, e.g. "YOLO yolo11n.pt"
    source: str                    # URL, or "bundled with <package>", or "random weights"
    path: str = ""                 # where it is (or will be) cached
    bundled: bool = False          # ships inside a Python package: nothing to download
    random: bool = False           # random weights (tests, benchmarks): nothing to download
    enabled: bool = True           # its analyzer is in the `analyzers` setting
    locate: Callable[[], str] = field(default=lambda: "", repr=False)   # present path or ""
    fetcher: Callable[[OnProgress | None], None] | None = field(default=None, repr=False)
    loader: Callable[[], object] | None = field(default=None, repr=False)

    @property
    def found(self) -> str:
        return self.locate()

    @property
    def present(self) -> bool:
        return self.random or bool(self.found)

    @property
    def size(self) -> int | None:
        found = self.found
        if not found:
            return None
        if os.path.isdir(found):
            return sum(os.path.getsize(p) for p in glob.glob(os.path.join(found, "**", "*"),
                                                             recursive=True) if os.path.isfile(p))
        return os.path.getsize(found)

    def as_dict(self) -> dict[str, Any]:
        return {"analyzer": self.analyzer, "name": self.name, "source": self.source,
                "path": self.found or self.path, "present": self.present, "size": self.size,
                "bundled": self.bundled, "random": self.random, "enabled": self.enabled}

    def download(self, progress: OnProgress | None = None) -> None:
        if self.present:
            return
        if self.fetcher is None:
            raise ModelUnavailable(f"{self.name}: {self.path or 'the file'} does not exist and "
                                   "there is nothing to download it from; put the file there or "
                                   "change the setting that names it")
        self.fetcher(progress)

    def verify(self) -> object:
        """Load it the way its analyzer does; raises EnvironmentProblem if it cannot."""
        if self.loader is None:
            raise ModelUnavailable(f"{self.name}: nothing to verify")
        return self.loader()


class ModelFamily(Protocol[Model_co]):
    """One family's lifecycle (see the module docstring). `analyzer` names the analyzer it serves,
    which is also the `analyzers` setting that enables its weights."""

    analyzer: str

    def weights(self, settings: Settings, device: str) -> list[Weight]:
        """Resolve: the weights the settings mean on this device; raises EnvironmentProblem when
        they cannot be resolved (a missing package, a bad setting)."""
        ...

    def load(self, settings: Settings, device: str) -> Model_co:
        """The loaded model(s), missing weights fetched first; raises EnvironmentProblem."""
        ...


def file_or_empty(path: str) -> Callable[[], str]:
    """A `Weight.locate` for one file."""
    return lambda: path if path and os.path.isfile(path) else ""
