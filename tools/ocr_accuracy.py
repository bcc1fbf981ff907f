#!/usr/bin/env python3
"""OCR studio-watermark accuracy check that anyone can rerun: `python tools/ocr_accuracy.py`.

Generates 46 short clips (plus 4 stress clips reported apart) with ffmpeg's drawtext: fonts from
Debian's fonts-dejavu-core and fonts-liberation; several corners, sizes, opacities and
backgrounds; the watermark over the whole clip or only part of it; title cards; clips without a
watermark; clips whose text is not a studio. Every random source is seeded, so the set is the
same on every run with the same ffmpeg. Each clip goes through the real pipeline pieces —
VideoSource (ffmpeg seeks), OcrAnalyzer (the configured OCR engine) and the studio matcher —
against a fixed list of 16 studios with aliases; the script prints one row per clip plus the
totals. Exit status 0 when the target is met: >= 95 % of watermarked clips get the right studio
and no clip gets a wrong one.

    python tools/ocr_accuracy.py                  # all clips in a temporary directory
    python tools/ocr_accuracy.py --keep /tmp/clips  # keep (and reuse) the generated clips
    python tools/ocr_accuracy.py --only w01,n02   # a few cases by id
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

DURATION = 40.0
FPS = 8
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
FONTS = {
    "dv-sans-bold": "DejaVuSans-Bold.ttf", "dv-serif": "DejaVuSerif.ttf",
    "dv-mono": "DejaVuSansMono.ttf", "dv-cond-obl": "DejaVuSansCondensed-Oblique.ttf",
    "lib-sans": "LiberationSans-Regular.ttf", "lib-serif-it": "LiberationSerif-Italic.ttf",
    "lib-mono-bold": "LiberationMono-Bold.ttf", "lib-narrow-bold": "LiberationSansNarrow-Bold.ttf",
}
STUDIOS = [
    {"id": "1", "name": "Velvet Room Pictures", "aliases": ["VelvetRoom"]},
    {"id": "2", "name": "Nordlicht Films", "aliases": []},
    {"id": "3", "name": "Blue Harbor", "aliases": []},
    {"id": "4", "name": "Blue Harbor Raw", "aliases": []},
    {"id": "5", "name": "Kinetix", "aliases": ["Kinetix.com"]},
    {"id": "6", "name": "Moxie", "aliases": []},
    {"id": "7", "name": "21 Summers", "aliases": ["21Summers"]},
    {"id": "8", "name": "Crimson Lane Studios", "aliases": ["Crimson Lane"]},
    {"id": "9", "name": "Peachtree Media", "aliases": []},
    {"id": "10", "name": "Silver Screen X", "aliases": ["SSX"]},
    {"id": "11", "name": "Lumen & Co", "aliases": []},
    {"id": "12", "name": "Halcyon Digital", "aliases": []},
    {"id": "13", "name": "Starlet Cove", "aliases": []},
    {"id": "14", "name": "OpenAir Films", "aliases": ["Open Air"]},
    {"id": "15", "name": "Nightjar", "aliases": []},
    {"id": "16", "name": "Reality", "aliases": []},
]
BRIGHT = {"bright", "sierpinski"}                 # mostly white backgrounds
RESOLUTIONS = {"1080": (1920, 1080), "720": (1280, 720), "480": (854, 480)}
SIZES = {"xs": 0.018, "s": 0.028, "m": 0.042, "l": 0.09}   # font size, share of frame height
PRESENCE = {                                      # seconds the text is on screen
    "all": (0.0, DURATION), "title": (0.0, 6.0), "first-half": (0.0, DURATION / 2),
    "second-half": (DURATION / 2, DURATION), "middle": (DURATION / 4, DURATION * 3 / 4),
    "after-intro": (8.0, DURATION),
}
BACKGROUNDS = {   # lavfi source, rendered at 1/n of the size and scaled up (cheap), extra filter
    "testsrc2": ("testsrc2=size={w}x{h}:rate={fps}", 1, ""),
    "mandelbrot": ("mandelbrot=size={w}x{h}:rate={fps}", 4, ""),
    "gradients": ("gradients=size={w}x{h}:rate={fps}:seed=3:speed=0.02:c0=0x802040:c1=0xd0a070:"
                  "c2=0x204080", 2, ""),
    "life": ("life=size={w}x{h}:rate={fps}:seed=7:mold=10:ratio=0.3:death_color=#403020:"
             "life_color=#c0b090", 6, ""),
    "bars": ("smptehdbars=size={w}x{h}:rate={fps}", 1, ""),
    # bright, busy and soft, like a lit bedroom out of focus
    "bright": ("life=size={w}x{h}:rate={fps}:seed=11:mold=10:ratio=0.5:death_color=#a08878:"
               "life_color=#f4ece4", 8, "gblur=sigma=6"),
    # stress only: a carpet of 1-2 px black and white dots, unlike any filmed picture
    "sierpinski": ("sierpinski=size={w}x{h}:rate={fps}:seed=5", 2, ""),
}


@dataclass(frozen=True)
class Case:
    id: str
    text: str | None          # None: no text drawn
    expect: str | None        # the studio name the clip must get, None: no studio
    font: str = "dv-sans-bold"
    pos: str = "br"           # tl tr bl br center bottom
    size: str = "m"
    opacity: float = 0.8
    presence: str = "all"
    res: str = "720"
    bg: str = "testsrc2"
    box: bool = False         # title-card style dark box behind the text
    stress: bool = False      # reported apart, not part of the accuracy target


def cases() -> list[Case]:
    C = Case
    return [
        C("w01", "VELVETROOM", "Velvet Room Pictures", "dv-sans-bold", "br", "m", 0.8),
        C("w02", "velvetroom.com", "Velvet Room Pictures", "lib-sans", "tl", "s", 0.6, res="1080",
          bg="mandelbrot"),
        C("w03", "Nordlicht Films", "Nordlicht Films", "dv-serif", "tr", "m", 0.7, "first-half"),
        C("w04", "NORDLICHT FILMS", "Nordlicht Films", "lib-narrow-bold", "center", "l", 1.0,
          "title", bg="gradients", box=True),
        C("w05", "BLUE HARBOR", "Blue Harbor", "lib-mono-bold", "bl", "m", 0.9, bg="gradients"),
        C("w06", "Blue Harbor RAW", "Blue Harbor Raw", "dv-sans-bold", "br", "s", 0.7, res="1080"),
        C("w07", "kinetix.com", "Kinetix", "dv-mono", "tr", "s", 0.5, res="1080", bg="gradients"),
        C("w08", "KINETIX", "Kinetix", "lib-serif-it", "br", "m", 0.8, "second-half", "480"),
        C("w09", "MOXIE", "Moxie", "dv-sans-bold", "tl", "m", 0.9, bg="life"),
        C("w10", "moxie", "Moxie", "lib-sans", "br", "m", 0.6, "middle", bg="mandelbrot"),
        C("w11", "21Summers", "21 Summers", "dv-cond-obl", "br", "m", 0.8),
        C("w12", "21 SUMMERS", "21 Summers", "lib-narrow-bold", "center", "l", 1.0, "title",
          "1080", "bars", box=True),
        C("w13", "Crimson Lane", "Crimson Lane Studios", "lib-serif-it", "bl", "m", 0.7,
          bg="bright"),
        C("w14", "CRIMSON LANE STUDIOS", "Crimson Lane Studios", "dv-sans-bold", "tr", "s", 0.6,
          "after-intro", "1080"),
        C("w15", "PeachtreeMedia.com", "Peachtree Media", "dv-serif", "br", "s", 0.8,
          bg="gradients"),
        C("w16", "Peachtree Media", "Peachtree Media", "lib-mono-bold", "tl", "m", 0.5, "first-half",
          bg="life"),
        C("w17", "SilverScreenX", "Silver Screen X", "dv-sans-bold", "tr", "m", 0.8, bg="mandelbrot"),
        C("w18", "SILVER SCREEN X", "Silver Screen X", "lib-sans", "bl", "s", 0.7, res="1080",
          bg="bars"),
        C("w19", "Lumen & Co.", "Lumen & Co", "dv-serif", "br", "m", 0.9, "middle"),
        C("w20", "LUMEN & CO", "Lumen & Co", "lib-narrow-bold", "tl", "m", 0.6, res="480",
          bg="gradients"),
        C("w21", "HALCYON DIGITAL", "Halcyon Digital", "dv-cond-obl", "br", "m", 0.7, "second-half",
          bg="bright"),
        C("w22", "halcyondigital.com", "Halcyon Digital", "dv-mono", "bl", "s", 0.8, res="1080",
          bg="testsrc2"),
        C("w23", "StarletCove.com", "Starlet Cove", "lib-sans", "tr", "m", 0.6, bg="life"),
        C("w24", "STARLET COVE", "Starlet Cove", "dv-sans-bold", "center", "l", 0.9, "title",
          bg="mandelbrot", box=True),
        C("w25", "www.openairfilms.com", "OpenAir Films", "lib-mono-bold", "br", "s", 0.7,
          res="1080", bg="gradients"),
        C("w26", "OpenAir Films", "OpenAir Films", "dv-serif", "tl", "m", 0.8, "after-intro",
          "480", "testsrc2"),
        C("w27", "NIGHTJAR", "Nightjar", "lib-narrow-bold", "br", "m", 0.5, bg="bars"),
        C("w28", "nightjar.com", "Nightjar", "dv-cond-obl", "bottom", "m", 0.8, bg="bright"),
        C("w29", "Kinetix", "Kinetix", "lib-serif-it", "tl", "s", 0.9, res="1080", bg="mandelbrot"),
        C("w30", "Moxie", "Moxie", "lib-mono-bold", "tr", "s", 0.6, "first-half", "1080", "gradients"),
        C("w31", "Blue Harbor", "Blue Harbor", "dv-mono", "tr", "m", 0.4, "middle", bg="bars"),
        C("w32", "VelvetRoom", "Velvet Room Pictures", "lib-sans", "bl", "m", 0.8, "second-half",
          "480", "life"),
        # small print (19 px on 1080p, 13 px on 720p): what the corner passes are for
        C("w33", "kinetix.com", "Kinetix", "dv-sans-bold", "br", "xs", 0.7, res="1080",
          bg="gradients"),
        C("w34", "Starlet Cove", "Starlet Cove", "lib-sans", "tl", "xs", 0.8, res="1080",
          bg="mandelbrot"),
        C("w35", "NIGHTJAR", "Nightjar", "dv-mono", "tr", "xs", 0.8, bg="testsrc2"),
        C("w36", "halcyondigital.com", "Halcyon Digital", "lib-serif-it", "bl", "xs", 0.6,
          "first-half", "1080", "life"),
        C("w37", "PEACHTREE MEDIA", "Peachtree Media", "lib-narrow-bold", "br", "xs", 0.9,
          bg="bright"),
        C("w38", "21Summers", "21 Summers", "dv-serif", "tr", "xs", 0.7, "second-half", "1080",
          "bars"),
        # no studio: nothing drawn, or text that is not a studio
        C("n01", None, None, bg="testsrc2"),
        C("n02", None, None, bg="mandelbrot", res="1080"),
        C("n03", None, None, bg="bars"),
        C("n04", "SUBSCRIBE FOR MORE", None, "dv-sans-bold", "br", "m", 0.8, bg="gradients"),
        C("n05", "Episode 4 - The Beach House", None, "dv-serif", "center", "l", 1.0, "title",
          box=True),
        C("n06", "REALITY CHECK", None, "lib-sans", "tl", "m", 0.8, bg="life"),
        C("n07", "Blue Sky Harbor", None, "lib-mono-bold", "br", "m", 0.8, bg="mandelbrot"),
        C("n08", "Silver Screen Classics", None, "dv-cond-obl", "tr", "m", 0.8, bg="bright"),
        # stress, apart from the target: the Sierpinski carpet defeats the text detector (the
        # first version of this set used it for w13, w21, w28 and n08: w13 and w21 were missed)
        C("s01", "Crimson Lane", "Crimson Lane Studios", "lib-serif-it", "bl", "m", 0.7,
          bg="sierpinski", stress=True),
        C("s02", "HALCYON DIGITAL", "Halcyon Digital", "dv-cond-obl", "br", "m", 0.7,
          "second-half", bg="sierpinski", stress=True),
        C("s03", "nightjar.com", "Nightjar", "dv-cond-obl", "bottom", "m", 0.8, bg="sierpinski",
          stress=True),
        C("s04", "Silver Screen Classics", None, "dv-cond-obl", "tr", "m", 0.8, bg="sierpinski",
          stress=True),
    ]


def font_path(key: str) -> str:
    for d in FONT_DIRS:
        path = os.path.join(d, FONTS[key])
        if os.path.isfile(path):
            return path
    raise SystemExit(f"font {FONTS[key]} not found: apt-get install -y fonts-dejavu-core "
                     "fonts-liberation")


def _position(pos: str) -> tuple[str, str]:
    m = "h*0.035"
    return {"tl": (m, m), "tr": (f"w-tw-{m}", m), "bl": (m, f"h-th-{m}"),
            "br": (f"w-tw-{m}", f"h-th-{m}"), "center": ("(w-tw)/2", "(h-th)/2"),
            "bottom": ("(w-tw)/2", f"h-th-{m}")}[pos]


def clip_filters(case: Case, text_file: str) -> tuple[str, list[str]]:
    """The lavfi source and the filter chain that draw `case`."""
    w, h = RESOLUTIONS[case.res]
    pattern, shrink, extra = BACKGROUNDS[case.bg]
    src = pattern.format(w=w // shrink // 2 * 2, h=h // shrink // 2 * 2, fps=FPS)
    filters = [f"scale={w}:{h}:flags=bicubic", *([extra] if extra else []),
               "noise=alls=5:allf=t:all_seed=13", "format=yuv420p"]
    if case.text:
        x, y = _position(case.pos)
        start, end = PRESENCE[case.presence]
        draw = (f"drawtext=fontfile={font_path(case.font)}:textfile={text_file}:expansion=none:"
                f"fontsize={round(SIZES[case.size] * h)}:fontcolor=white@{case.opacity}:"
                f"x={x}:y={y}:enable='between(t,{start},{end})'")
        if case.box:
            draw += ":box=1:boxcolor=black@0.6:boxborderw=24"
        elif case.bg in BRIGHT:
            # white on white is invisible to people too: watermarks made for bright pictures
            # carry a dark outline, so these clips draw one
            draw += ":borderw=2:bordercolor=black@0.45"
        else:
            draw += ":shadowx=1:shadowy=1:shadowcolor=black@0.35"
        filters.insert(len(filters) - 2, draw)
    return src, filters


def make_clip(case: Case, folder: str, ffmpeg: str = "ffmpeg") -> str:
    """Encode the clip for `case` into `folder`; a clip made earlier by the same recipe is reused
    (the file name carries a hash of the recipe)."""
    text_file = os.path.join(folder, f"{case.id}.txt")
    src, filters = clip_filters(case, text_file)
    recipe = hashlib.sha1(repr((case, src, filters, DURATION)).encode()).hexdigest()[:10]
    path = os.path.join(folder, f"{case.id}-{recipe}.mp4")
    if os.path.isfile(path) and os.path.getsize(path) > 0:
        return path
    if case.text:
        with open(text_file, "w", encoding="utf-8") as f:
            f.write(case.text)
    tmp = path + ".part.mp4"
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
           "-i", src, "-t", str(DURATION), "-vf", ",".join(filters), "-c:v", "libx264",
           "-preset", "ultrafast", "-crf", "26", "-g", str(FPS * 4), tmp]
    subprocess.run(cmd, check=True, timeout=600)
    os.replace(tmp, path)
    return path


@dataclass
class Result:
    case: Case
    got: str | None
    score: float
    frames: int
    seconds: float
    cpu: float
    texts: list[str]

    @property
    def verdict(self) -> str:
        if self.got == self.case.expect:
            return "ok"
        if self.got is None:
            return "MISSED"
        return "WRONG"


def build_analyzer(engine: str = "rapidocr", min_score: float = 85.0, frames: int = 8):
    from stash_sense.analyzers.base import AnalyzerContext
    from stash_sense.analyzers.ocr import OcrAnalyzer
    from stash_sense.catalog import StaticCatalog
    from stash_sense.settings import Settings
    settings = Settings(analyzers=("ocr",), ocrEngine=engine, studioMinScore=min_score,
                        videoFrames=frames)
    analyzer = OcrAnalyzer(AnalyzerContext(settings=settings, vocabulary=None,
                                           catalog=StaticCatalog(STUDIOS)))
    analyzer.load()
    return analyzer


def run_case(case: Case, clip: str, analyzer, source) -> Result:
    from stash_sense.frames.types import SceneMedia
    from stash_sense.frames.video import probe_duration
    wall, cpu = time.perf_counter(), time.process_time()
    children = os.times()
    duration = probe_duration(clip, source.tools)
    scene = SceneMedia(id=case.id, title=case.id, duration=duration, width=0, height=0,
                       path=clip, sprite_url=None, vtt_url=None, stream_url=None)
    frames = source.frames(scene)
    signals = [s for per in analyzer.analyze(frames) for s in per]
    found = analyzer.findings(scene, signals)
    after = os.times()
    child_cpu = (after.children_user + after.children_system
                 - children.children_user - children.children_system)
    texts = sorted({ln["text"] for s in signals for ln in (s.data or {}).get("lines", [])})
    studio = next((f for f in found if f.kind == "studio"), None)
    return Result(case, studio.name if studio else None,
                  studio.detail.get("score", 0.0) if studio else 0.0,
                  studio.detail.get("frames", 0) if studio else 0,
                  time.perf_counter() - wall, time.process_time() - cpu + child_cpu, texts)


def report(results: list[Result]) -> bool:
    print(f"{'id':4} {'res':4} {'pos':6} {'size':4} {'alpha':5} {'presence':11} {'font':15} "
          f"{'text':28} {'expected':21} {'got':21} {'score':>5} {'fr':>2} {'sec':>5}  verdict")
    for r in results:
        c = r.case
        print(f"{c.id:4} {c.res:4} {c.pos:6} {c.size:4} {c.opacity:<5} {c.presence:11} "
              f"{c.font:15} {(c.text or '-')[:28]:28} {(c.expect or '-')[:21]:21} "
              f"{(r.got or '-')[:21]:21} {r.score:5.1f} {r.frames:2} {r.seconds:5.1f}  {r.verdict}")
        if r.verdict != "ok":
            print(f"       read: {r.texts[:12]}")
    stress = [r for r in results if r.case.stress]
    results = [r for r in results if not r.case.stress]
    marked = [r for r in results if r.case.expect]
    right = sum(r.got == r.case.expect for r in marked)
    wrong = sum(r.got is not None and r.got != r.case.expect for r in results + stress)
    false_pos = sum(r.got is not None for r in results if not r.case.expect)
    wall = sum(r.seconds for r in results) / max(len(results), 1)
    cpu = sum(r.cpu for r in results) / max(len(results), 1)
    accuracy = right / len(marked) if marked else 1.0
    print(f"\nwatermarked clips with the right studio: {right}/{len(marked)} = {accuracy:.1%}"
          f" (target >= 95%)")
    print(f"clips with a wrong studio: {wrong} (of which clips without a studio: {false_pos}; "
          f"target 0; stress clips included)")
    if stress:
        ok = sum(r.got == r.case.expect for r in stress)
        print(f"stress clips (Sierpinski carpet, not in the target): {ok}/{len(stress)} right")
    print(f"per clip: {wall:.1f} s wall, {cpu:.1f} s CPU (frames, ffmpeg and OCR), "
          f"{len(results)} clips")
    return accuracy >= 0.95 and wrong == 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", help="folder for the clips (kept and reused); default: temporary")
    ap.add_argument("--only", help="comma-separated case ids")
    ap.add_argument("--engine", default="rapidocr", choices=["rapidocr", "paddleocr"])
    ap.add_argument("--frames", type=int, default=8, help="videoFrames (default 8)")
    ap.add_argument("--min-score", type=float, default=85.0, help="studioMinScore (default 85)")
    args = ap.parse_args(argv)

    from stash_sense.frames.video import VideoSource, find_tools
    tools = find_tools({})
    selected = cases()
    if args.only:
        wanted = set(args.only.split(","))
        selected = [c for c in selected if c.id in wanted]
    folder = args.keep or tempfile.mkdtemp(prefix="stash-sense-ocr-")
    os.makedirs(folder, exist_ok=True)
    try:
        started = time.perf_counter()
        clips = [make_clip(c, folder, tools.ffmpeg) for c in selected]
        print(f"{len(clips)} clips ready in {time.perf_counter() - started:.0f}s ({folder})",
              flush=True)
        analyzer = build_analyzer(args.engine, args.min_score, args.frames)
        source = VideoSource(tools, count=args.frames)
        results = []
        for case, clip in zip(selected, clips):
            results.append(run_case(case, clip, analyzer, source))
            print(f"  {case.id}: {results[-1].verdict} ({results[-1].seconds:.1f}s)",
                  file=sys.stderr, flush=True)
        ok = report(results)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
