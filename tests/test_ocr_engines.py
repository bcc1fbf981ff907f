"""The two RapidOCR packages as OCR engines: offline, the same interface, the same reading."""
from __future__ import annotations

import socket
import sys

import pytest
from PIL import Image, ImageDraw, ImageFont

from stash_sense.errors import DependencyMissing
from stash_sense.models import ocr as ocr_engines

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _frame(text="Pineapple Studios", dims=(1280, 720)):
    base = Image.effect_mandelbrot(dims, (-2.2, -1.2, 1.0, 1.2), 60).convert("RGB")
    draw = ImageDraw.Draw(base)
    try:
        font = ImageFont.truetype(FONT, 72)
    except OSError:
        pytest.skip("no TrueType font: apt-get install -y fonts-dejavu-core")
    w = draw.textlength(text, font=font)
    draw.rectangle((dims[0] - w - 80, dims[1] - 140, dims[0] - 25, dims[1] - 25), fill=(18, 18, 22))
    draw.text((dims[0] - w - 55, dims[1] - 120), text, font=font, fill=(255, 255, 255))
    return base


@pytest.fixture
def offline(monkeypatch):
    """No network: any connection attempt fails at once, as on a machine without internet."""
    def refuse(*_args, **_kwargs):
        raise OSError("network disabled by the test")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name,module", [("rapidocr", "rapidocr"),
                                         ("rapidocr-onnxruntime", "rapidocr_onnxruntime")])
def test_engine_loads_and_reads_offline(offline, name, module):
    pytest.importorskip(module)
    engine = ocr_engines.make_engine(name)
    assert engine.name == name and "PP-OCR" in engine.model_id
    [(text, conf, box)] = [ln for ln in engine.read(_frame()) if "Studios" in ln[0]]
    assert text.replace(" ", "") == "PineappleStudios" and conf > 0.9
    assert len(box) == 4 and min(p[0] for p in box) > 400         # frame pixels, bottom right
    assert engine.read(Image.new("RGB", (320, 180), (40, 40, 40))) == []   # no text: no line


def test_missing_rapidocr_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr", None)             # import fails like uninstalled
    with pytest.raises(DependencyMissing, match="pip install rapidocr onnxruntime"):
        ocr_engines.make_engine("rapidocr")


def test_default_engine_is_a_known_one():
    from stash_sense.settings import OCR_ENGINES, Settings
    assert Settings().ocrEngine in ocr_engines.ENGINES
    assert set(OCR_ENGINES) == set(ocr_engines.ENGINES)
