"""Task build_gallery through the Stash stand-in: performer images fetched via image_path with the
session's auth, real MTCNN, InceptionResnetV1 with random weights (faceWeights=none) — the first
run as Stash runs it (a subprocess with Stash's stdin JSON), reruns in-process to count the
model work they do."""
from __future__ import annotations

import pytest

from tests.e2e import configure
from tests.helpers.faces import astronaut_crop, faceless, jpeg, png

pytest.importorskip("facenet_pytorch")


@pytest.fixture
def stash_options():
    """Stash with authentication on: performer images are fetched with the session cookie."""
    return {"require_auth": True}


def image_gets(stash) -> list[str]:
    return [path.split("?")[0] for method, path, status in stash.http_log
            if method == "GET" and path.startswith("/performer/")]


def run_inprocess(stash, args):
    from stash_sense.app import run
    return run({"server_connection": stash.server_connection(), "args": args})


def count_embeddings(monkeypatch) -> list[int]:
    from stash_sense.faces.engine import FaceEngine
    real, embedded = FaceEngine.embed, []

    def counting(self, crops):
        embedded.append(len(crops))
        return real(self, crops)
    monkeypatch.setattr(FaceEngine, "embed", counting)
    return embedded


def test_gallery_from_profile_images_then_only_what_changed(stash, tmp_path, monkeypatch):
    from tests.standin.runner import run_plugin
    ids = {
        "Eileen": stash.add_performer("Eileen", image=jpeg(astronaut_crop())),
        "Gradient": stash.add_performer("Gradient", image=png(faceless("gradient"))),
        "Plain": stash.add_performer("Plain", image=jpeg(faceless("plain"))),
        "No Photo": stash.add_performer("No Photo"),
        "Broken": stash.add_performer("Broken", image=b"\xff\xd8\xff\xe0 not really a jpeg"),
    }
    configure(stash, tmp_path, faceWeights="none")

    run = run_plugin(stash, {"mode": "build_gallery"})
    assert run.error is None, run.log_text()
    out = run.output
    assert out["performers"] == 5 and out["with_face"] == 1
    assert sorted(out["without_face"]) == ["Gradient", "Plain"]
    assert out["no_image"] == 1
    assert [u["name"] for u in out["unreadable"]] == ["Broken"]
    assert out["skipped_unchanged"] == 0 and out["processed"] == 3
    assert out["gallery"] == {"performers": 1, "profile_faces": 1, "scene_faces": 0}
    assert out["model"] == "facenet:InceptionResnetV1/random"
    assert run.progress and run.progress[-1] == 1.0 and run.progress == sorted(run.progress)
    assert sorted(image_gets(stash)) == sorted(f"/performer/{ids[n]}/image"
                                               for n in ("Eileen", "Gradient", "Plain", "Broken"))
    assert any("no usable face in the image of: " in m for m in run.messages("info"))
    assert not any("Cookie" in m or stash.session_cookie_value in m for _, m in run.logs)

    # a rerun touches no unchanged image and runs no model on them (Broken is retried)
    stash.http_log.clear()
    embedded = count_embeddings(monkeypatch)
    out = run_inprocess(stash, {"mode": "build_gallery"})["output"]
    assert out["skipped_unchanged"] == 3 and out["processed"] == 0 and out["with_face"] == 1
    assert sorted(out["without_face"]) == ["Gradient", "Plain"]
    assert image_gets(stash) == [f"/performer/{ids['Broken']}/image"] and sum(embedded) == 0

    # a new image for Plain (Stash bumps updated_at, so image_path's t= changes); a deleted one
    with stash.lock:
        stash.performers[ids["Plain"]]["_image"] = jpeg(astronaut_crop().rotate(5))
        stash.performers[ids["Plain"]]["updated_at"] = "2031-01-01T00:00:00Z"
        del stash.performers[ids["Gradient"]]
    stash.http_log.clear()
    embedded.clear()
    out = run_inprocess(stash, {"mode": "build_gallery"})["output"]
    assert out["performers"] == 4 and out["removed"] == 1
    assert out["processed"] == 1 and out["skipped_unchanged"] == 1 and sum(embedded) == 1
    assert out["with_face"] == 2 and out["without_face"] == []
    assert sorted(image_gets(stash)) == sorted(f"/performer/{ids[n]}/image"
                                               for n in ("Plain", "Broken"))
    assert out["gallery"]["performers"] == 2


def test_many_performers_are_paged(stash, tmp_path, monkeypatch):
    """More performers than one page: every one is seen, once."""
    from stash_sense.tasks import gallery
    monkeypatch.setattr(gallery, "PER_PAGE", 3)
    for i in range(7):
        stash.add_performer(f"P{i}")                      # no images: no model work at all
    configure(stash, tmp_path, faceWeights="none")
    out = run_inprocess(stash, {"mode": "build_gallery"})["output"]
    assert out["performers"] == 7 and out["no_image"] == 7
    pages = [r["variables"]["p"]["page"] for r in stash.calls("findPerformers")]
    assert pages == [1, 2, 3]


def test_without_facenet_pytorch_tasks_stop_with_the_install_command(stash, tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "facenet_pytorch", None)     # as if not installed
    stash.add_performer("Eileen", image=jpeg(astronaut_crop()))
    sid = stash.add_scene("a scene")
    configure(stash, tmp_path, analyzers="faces")
    for args in ({"mode": "build_gallery"}, {"mode": "tag_scene", "scene_id": sid}):
        out = run_inprocess(stash, args)
        assert "python -m pip install --no-deps facenet-pytorch==2.6.0" in out["error"]
    assert not [r for r in stash.requests if r["query"].lstrip().startswith("mutation")]


def test_nothing_else_imports_facenet():
    """Without facenet-pytorch everything else keeps working: no other module imports it."""
    import subprocess
    import sys
    from pathlib import Path
    code = ("import sys; import stash_sense.app, stash_sense.pipeline, stash_sense.references, "
            "stash_sense.tasks.tag, stash_sense.analyzers.faces, stash_sense.store.faces, "
            "stash_sense.tasks.gallery; "
            "assert 'facenet_pytorch' not in sys.modules and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_switching_networks_rebuilds_the_gallery_and_never_mixes_them(stash, tmp_path):
    """A gallery built with one network is not used for faces of another: after switching
    faceWeights, the analyzer's gallery is empty (and says why) until the task rebuilds it for
    the new network; the old network's rows stay, tagged with its id."""
    import torch
    from facenet_pytorch import InceptionResnetV1

    from stash_sense.analyzers.base import AnalyzerContext
    from stash_sense.analyzers.faces import FacesAnalyzer
    from stash_sense.references import StaticReferences
    from stash_sense.settings import Settings
    from stash_sense.store import Store
    from stash_sense.store.faces import FaceStore
    from stash_sense.vocabulary import load_vocabulary
    stash.add_performer("Eileen", image=jpeg(astronaut_crop()))
    configure(stash, tmp_path, faceWeights="none")
    first = run_inprocess(stash, {"mode": "build_gallery"})["output"]
    assert first["processed"] == 1 and first["model"] == "facenet:InceptionResnetV1/random"

    torch.manual_seed(5)
    other = tmp_path / "other-net.pt"
    torch.save(InceptionResnetV1(pretrained=None).state_dict(), other)
    configure(stash, tmp_path, faceWeights=str(other))
    store = Store.in_dir(str(tmp_path / "data"))
    settings = Settings(analyzers=("faces",), faceWeights=str(other),
                        modelDir=str(tmp_path / "models"))
    analyzer = FacesAnalyzer(AnalyzerContext(settings, load_vocabulary(""),
                                             references=StaticReferences(store=store)))
    analyzer.load()
    assert analyzer.model_id == "facenet:InceptionResnetV1/other-net"
    assert len(analyzer.gallery) == 0                 # the random network's gallery is not used

    second = run_inprocess(stash, {"mode": "build_gallery"})["output"]
    assert second["model"] == "facenet:InceptionResnetV1/other-net"
    assert second["processed"] == 1 and second["skipped_unchanged"] == 0     # rebuilt
    galleries = FaceStore(store).galleries()
    assert set(galleries) == {"facenet:InceptionResnetV1/random",
                              "facenet:InceptionResnetV1/other-net"}
