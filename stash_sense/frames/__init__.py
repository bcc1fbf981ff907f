"""Frames from a scene: sprite tiles (cheap, 81 per scene, 160 px) or full-resolution video frames."""
from .types import Frame, FrameSource, SceneMedia

__all__ = ["Frame", "FrameSource", "SceneMedia"]
