"""The one exception tree of Stash Sense.

    StashSenseError                  anything we raise on purpose; has a user-facing message
    ├── EnvironmentProblem           stops the whole task at once, before any change: {"error": ...}
    │   ├── SettingsError            an unknown analyzer, a bad setting value, bad task arguments
    │   ├── DependencyMissing        a Python package or ffmpeg is not installed (says what to run)
    │   ├── ModelUnavailable         weights cannot be loaded or fetched (says what to put where)
    │   └── StashUnreachable         Stash does not answer, or refuses our credentials
    ├── TransferFailed               a file's transfer stalled or broke off after Stash accepted the
    │                                request: the caller decides (download.py fails that scene)
    └── SceneError                   one scene cannot be processed: it is marked Errored, batch goes on
        ├── FramesUnavailable        no sprite/VTT, a corrupt JPEG, a broken VTT, an unreadable video
        └── StashRequestError        Stash answered a request for this scene with GraphQL errors

Only `stash_sense.app.run` turns these into the plugin's `{"error": ...}` output; the task runner
turns SceneError into the Errored workflow tag plus a log line naming the scene and the reason.
"""
from __future__ import annotations


class StashSenseError(Exception):
    """Base of every error we raise deliberately. `str(err)` is shown to the user."""


class EnvironmentProblem(StashSenseError):
    """Something about the installation or configuration: no scene is touched."""


class SettingsError(EnvironmentProblem):
    pass


class DependencyMissing(EnvironmentProblem):
    def __init__(self, what: str, install: str):
        super().__init__(f"{what} is not installed. In Stash, run the task \"Install or repair "
                         f"dependencies\" (Settings › Tasks › Stash Sense); by hand: {install}")
        self.what = what
        self.install = install


class ModelUnavailable(EnvironmentProblem):
    pass


class StashUnreachable(EnvironmentProblem):
    pass


class TransferFailed(StashSenseError):
    """Stash accepted the request, then its answer stalled or broke off (a read timed out, the
    connection was cut mid-body). A problem of that one file — a hung disk or network share
    behind Stash — not of Stash: callers decide (frames/download.py fails that scene only).
    A Stash that cannot be reached at all is StashUnreachable instead."""

    def __init__(self, message: str, cause: str):
        super().__init__(message)
        self.cause = cause          # what broke, e.g. "TimeoutError", for the log line


class SceneError(StashSenseError):
    """This scene fails; the batch continues."""


class FramesUnavailable(SceneError):
    pass


class StashRequestError(SceneError):
    """GraphQL errors in Stash's answer. Raised as SceneError: a rejected mutation fails one scene."""
