"""An analyzer that writes to stdout the way careless libraries do, to prove stdout stays Stash's."""
import os
import sys

from tests.helpers.scripted import ColorAnalyzer


class NoisyAnalyzer(ColorAnalyzer):
    def _load(self) -> None:
        print("library banner on sys.stdout")
        sys.stdout.flush()
        os.write(1, b"C library chatter on file descriptor 1\n")
