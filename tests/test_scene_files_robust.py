"""Issue #8 case 7: one bad scene file fails that scene, never the batch.

Run as Stash runs the plugin (a subprocess, Stash's stdin JSON, the stand-in on Stash's schema).
The library holds a good scene before and after every kind of bad file: decompression bombs (PNG and
JPEG headers declaring huge images), a sprite larger than any Stash makes, a corrupt sprite, a
sprite whose transfer stalls, a VTT far larger than any Stash writes and one with a number too long
to be a pixel position. Each bad scene must end with the Errored tag and a log line naming it and
the reason; both good scenes must be tagged; the task itself must succeed.
"""
from __future__ import annotations

import pytest

from tests.e2e import configure, mutations, require_schema, snapshot
from tests.helpers.bad_files import StalledBody, jpeg_bomb, png_bomb
from tests.standin.media import synthetic_sprite, vtt_text
from tests.standin.runner import run_plugin

RED = (230, 20, 20)
COLOR = "tests.helpers.scripted:ColorAnalyzer"


def _vtt(name: str) -> str:
    return vtt_text(600, 160, 90, name)


def test_bad_sprites_and_vtts_fail_their_scene_and_the_batch_goes_on(stash, tmp_path):
    tagme = stash.add_tag("StashSense_TagMe")
    good, _ = synthetic_sprite(600, lambda t: RED)
    first = stash.add_scene("good first", sprite=good, vtt=_vtt, tag_ids=[tagme])
    bad = {
        "png bomb": (png_bomb(100_000, 100_000), _vtt, "too large"),
        "jpeg bomb": (jpeg_bomb(), _vtt, "too large"),
        "pillow warning zone": (png_bomb(10_000, 9_000), _vtt, "too large"),
        "bigger than a sprite": (png_bomb(8_000, 8_000), _vtt, "too large"),
        "corrupt": (good[: len(good) // 3], _vtt, "corrupt"),
        "stalled": (StalledBody(good[:2000]), _vtt, "stalled"),
        "huge vtt": (good, lambda n: _vtt(n) + ("\nNOTE " + "x" * 1000) * 3000, "larger than"),
        "absurd number": (good, lambda n: _vtt(n).replace("#xywh=0,", "#xywh=" + "9" * 5000 + ",", 1),
                          "VTT is broken"),
    }
    ids = {label: stash.add_scene(label, sprite=sprite, vtt=vtt, tag_ids=[tagme])
           for label, (sprite, vtt, _) in bad.items()}
    last = stash.add_scene("good last", sprite=good, vtt=_vtt, tag_ids=[tagme])
    configure(stash, tmp_path, analyzers=COLOR)

    run = run_plugin(stash, {"mode": "tag_tagme"}, env={"STASH_SENSE_FETCH_TIMEOUT": "2"},
                     timeout=300)

    assert run.error is None, run.log_text()
    assert run.output["scenes"] == len(bad) + 2 and run.output["tagged"] == 2
    for sid in (first, last):
        assert snapshot(stash, sid)["tags"] == ["Red", "StashSense_Tagged"]
    errors = run.messages("e")
    for label, (_, _, words) in bad.items():
        assert snapshot(stash, ids[label])["tags"] == ["StashSense_Errored"], label
        line = [m for m in errors if m.startswith(f"scene {ids[label]}:")]
        assert line and words in line[0], (label, errors)
        assert len(line[0]) < 600, "the reason is a sentence, not a dump"
    assert {e["id"] for e in run.output["errored"]} == set(ids.values())
    assert run.messages("unprefixed") == [], "a library warning leaked into Stash's log"


def test_a_bomb_performer_image_skips_that_performer_and_the_gallery_goes_on(tmp_path):
    pytest.importorskip("facenet_pytorch")
    from tests.helpers.faces import astronaut_crop, jpeg
    from tests.standin.server import FakeStash
    require_schema()
    with FakeStash(require_auth=True) as stash:
        stash.add_performer("PNG Bomb", image=png_bomb(100_000, 100_000))
        stash.add_performer("JPEG Bomb", image=jpeg_bomb())
        stash.add_performer("Eileen", image=jpeg(astronaut_crop()))
        configure(stash, tmp_path, faceWeights="none")
        run = run_plugin(stash, {"mode": "build_gallery"})
        assert run.error is None, run.log_text()
        assert run.output["with_face"] == 1
        unreadable = {u["name"]: u["reason"] for u in run.output["unreadable"]}
        assert set(unreadable) == {"PNG Bomb", "JPEG Bomb"}
        assert all("too large" in r for r in unreadable.values()), unreadable
        assert any("PNG Bomb" in m and "too large" in m for m in run.messages("w"))
        assert stash.schema_violations == [] and stash.internal_errors == []
        assert mutations(stash) == []


def _drop_cues(text: str, *indexes: int) -> str:
    head, *blocks = text.rstrip("\n").split("\n\n")
    return "\n\n".join([head] + [b for i, b in enumerate(blocks) if i not in indexes]) + "\n"


def test_a_vtt_with_missing_cues_warns_and_its_other_tiles_are_used(stash, tmp_path):
    """Issue #8 case 11: Stash's sprite generator was interrupted, a cue is missing. The scene is
    tagged from the tiles that have cues, and a warning names it and says to regenerate."""
    tagme = stash.add_tag("StashSense_TagMe")
    red, _ = synthetic_sprite(600, lambda t: RED if 100 <= t < 300 else None)
    gappy = stash.add_scene("gappy", sprite=red, vtt=lambda n: _drop_cues(_vtt(n), 20, 21, 70),
                            tag_ids=[tagme])
    clean = stash.add_scene("clean", sprite=red, vtt=_vtt, tag_ids=[tagme])
    configure(stash, tmp_path, analyzers=COLOR, gapSeconds=20, minSegmentSeconds=10)

    run = run_plugin(stash, {"mode": "tag_tagme"})

    assert run.error is None, run.log_text()
    assert run.output["tagged"] == 2 and run.output["errored"] == []
    assert run.output["frames"] == 81 + 78
    for sid in (gappy, clean):
        snap = snapshot(stash, sid)
        assert snap["tags"] == ["Red", "StashSense_Tagged"]
        [(name, start, end)] = snap["markers"]
        assert name == "Red" and 90 <= start <= 110 and 290 <= end <= 310
    warnings = [m for m in run.messages("w") if "cue" in m]
    assert len(warnings) == 1, run.log_text()
    assert warnings[0].startswith(f"scene {gappy} (gappy):")
    assert "3 of its 81 cues" in warnings[0] and "Tasks > Generate > Sprites" in warnings[0]


def test_download_a_silent_server_is_that_file_s_problem_a_closed_port_stops_the_task():
    """Stash accepted the connection but never answers (a hung disk behind it): FramesUnavailable
    for that file within the deadline. Nothing listening at all: StashUnreachable (the task
    stops before touching anything else)."""
    import socket
    import time

    from stash_sense.errors import FramesUnavailable, StashUnreachable
    from stash_sense.frames.download import download
    from stash_sense.stash.client import StashClient
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    try:
        client = StashClient({"Host": "127.0.0.1", "Port": silent.getsockname()[1]})
        started = time.monotonic()
        with pytest.raises(FramesUnavailable, match="stalled"):
            download(client, "/scene/1/vtt/thumbs", "sprite VTT", max_bytes=1024, deadline=1.0)
        assert time.monotonic() - started < 10
    finally:
        silent.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(StashUnreachable):
        download(StashClient({"Host": "127.0.0.1", "Port": port}), "/scene/1/vtt/thumbs",
                 "sprite VTT", max_bytes=1024, deadline=1.0)


def test_a_frame_of_absurd_size_from_ffmpeg_is_that_scene_s_problem(tmp_path):
    """A video whose frames declare 100 000 x 100 000 px (what ffmpeg then writes as the PPM
    header): the same safe decoder refuses it as a scene error."""
    from stash_sense.errors import FramesUnavailable
    from stash_sense.frames import video
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\nprintf 'P6\\n100000 100000\\n255\\n'; head -c 64 /dev/zero\n")
    fake.chmod(0o755)
    with pytest.raises(FramesUnavailable, match="too large.*plays in Stash"):
        video.grab_frame(str(tmp_path / "clip.mp4"), 1.0, str(fake))
