"""A scripted analyzer on full-resolution video frames (source "video"): ColorAnalyzer's scores on
frames ffmpeg decoded, so a test drives the video frame source (and its stream fallback) through the
real pipeline without loading OCR models."""
from __future__ import annotations

from tests.helpers.scripted import ColorAnalyzer


class VideoColorAnalyzer(ColorAnalyzer):
    name = "video-color"
    source = "video"

    @property
    def model_id(self) -> str:
        return "scripted:video-color/1"
