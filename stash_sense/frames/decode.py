"""Decoding an image that came from Stash's disk, where anything can be: the one safe decoder that
sprites and performer images share.

Why a function of its own: Pillow reads an image's size from its header when the file is opened and
allocates width x height x 3 bytes when it is decoded. A damaged or crafted file (a "decompression
bomb": a few hundred bytes declaring 100 000 x 100 000 pixels) then either raises
DecompressionBombError — not an OSError, so callers that caught "corrupt file" let it through and
one scene stopped every batch — or, between Pillow's warning and error limits, only *warns* (a line
outside Stash's log protocol) and then allocates gigabytes. Here the declared size is checked
against a limit that fits what the caller expects (a Stash sprite is far smaller than a photo)
before anything is decoded, Pillow's warning is turned into an error, and whatever the decoder
raises for bad bytes becomes FramesUnavailable: a reason for this one scene or performer.
"""
from __future__ import annotations

import io
import warnings

from PIL import Image

from ..errors import FramesUnavailable

# Pillow's own bomb check raises instead of warning (a warning would only reach Stash's log as an
# unformatted line, after the memory is gone). Set once, at import, for the whole process.
warnings.simplefilter("error", Image.DecompressionBombWarning)


def decode_image(data: bytes, what: str, fix: str, *, max_pixels: int,
                 draft: tuple[int, int] | None = None) -> Image.Image:
    """`data` -> a fully decoded RGB image, or FramesUnavailable naming `what` and `fix`.

    `max_pixels` bounds the size declared in the header (checked before decoding); `draft` lets a
    JPEG decode at a reduced scale (the check then applies to the reduced size Pillow will
    allocate)."""
    try:
        image = Image.open(io.BytesIO(data))
        if draft is not None:
            image.draft("RGB", draft)
        width, height = image.size
        if width * height > max_pixels:
            raise FramesUnavailable(_too_large(what, fix, width, height, max_pixels))
        image.load()                       # a truncated file fails here, not later
        return image.convert("RGB")
    except FramesUnavailable:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # raised by Image.open itself, before the sides are known to us
        raise FramesUnavailable(_too_large(what, fix, None, None, max_pixels)) from None
    except MemoryError:
        raise FramesUnavailable(f"the {what} is too large to decode: {fix}") from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a property of this file
        raise FramesUnavailable(f"the {what} is corrupt ({type(exc).__name__}): {fix}") from None


def _too_large(what: str, fix: str, width: int | None, height: int | None, limit: int) -> str:
    size = f"{width} x {height} px, " if width and height else ""
    return (f"the {what} is too large ({size}more than {limit / 1e6:.0f} megapixels; "
            f"a damaged or crafted file): {fix}")

