"""Tests of the Stash stand-in itself (tests/standin): if these fail, plugin tests
that use it cannot be trusted.  Skips cleanly when ../shared/stash-schema is absent."""
from __future__ import annotations

import io
import os
import textwrap

import pytest

from tests.standin import schema_available  # conftest.py puts the repository root on sys.path

pytestmark = pytest.mark.skipif(not schema_available(),
                                reason="Stash SDL (../shared/stash-schema) not available")

if schema_available():
    import requests
    from graphql import (
        GraphQLEnumType,
        GraphQLInterfaceType,
        GraphQLObjectType,
        GraphQLScalarType,
        GraphQLUnionType,
        get_named_type,
        is_required_argument,
    )
    from PIL import Image

    from tests.standin import (
        FakeStash,
        attach_plugin,
        ffmpeg_available,
        make_video,
        run_plugin,
        sprite_from_video,
        start_plugin,
        synthetic_sprite,
        tile_of,
        vtt_text,
    )
    from tests.standin.media import probe
    from tests.standin.seed import oshash_of


def gql(stash, query, variables=None, **request_kw):
    resp = requests.post(stash.graphql_url, json={"query": query, "variables": variables or {}},
                         timeout=30, **request_kw)
    is_json = resp.headers.get("Content-Type", "").startswith("application/json")
    return resp.status_code, resp.json() if is_json else resp.text


def data(stash, query, variables=None):
    status, body = gql(stash, query, variables)
    assert status == 200 and "errors" not in body, body
    return body["data"]


def error_of(stash, query, variables=None):
    status, body = gql(stash, query, variables)
    assert status == 200 and body.get("errors"), body
    return body["errors"][0]["message"]


FIND_TAGS = "query($f: TagFilterType, $p: FindFilterType) { findTags(tag_filter: $f, filter: $p) { count tags { id name } } }"
FIND_SCENES = "query($f: SceneFilterType, $p: FindFilterType) { findScenes(scene_filter: $f, filter: $p) { count scenes { id title } } }"
TAG_CREATE = "mutation($i: TagCreateInput!) { tagCreate(input: $i) { id name aliases } }"


def tag_names(stash, flt, ff=None):
    return sorted(t["name"] for t in data(stash, FIND_TAGS, {"f": flt, "p": ff or {"per_page": -1}})["findTags"]["tags"])


def scene_ids(stash, flt, ff=None):
    return [s["id"] for s in data(stash, FIND_SCENES, {"f": flt, "p": ff or {"per_page": -1, "sort": "id"}})["findScenes"]["scenes"]]


# ---------------------------------------------------------------- schema validation
@pytest.mark.violates_schema
def test_schema_violations_are_recorded_and_answered_422(stash):
    status, body = gql(stash, "query Bad { findScenes { count scenes { nope } } }")
    assert status == 422 and "nope" in body["errors"][0]["message"]
    status, _ = gql(stash, "query Vars($f: SceneFilterType) { findScenes(scene_filter: $f) { count } }",
                    {"f": {"tags": {"value": ["1"], "modifier": "NOPE"}}})
    assert status == 422
    status, _ = gql(stash, "{ findScenes { count ")
    assert status == 422
    assert [v["operation_name"] for v in stash.schema_violations] == ["Bad", "Vars", None]
    data(stash, "query Good { findScenes { count } }")
    assert len(stash.schema_violations) == 3
    assert stash.calls("findScenes")[-1]["operation_name"] == "Good"


def test_every_field_of_the_main_types_resolves(stash):
    """Ask for (almost) every field two levels deep: no non-null field may resolve to null."""
    t = stash.add_tag("T")
    st = stash.add_studio("S")
    p = stash.add_performer("P", image=b"\x89PNG\r\n\x1a\nxx")
    sid = stash.add_scene("Scene", tag_ids=[t], studio_id=st, performer_ids=[p])
    stash.add_marker(sid, t, 10.0, 20.0)
    schema = stash.schema

    def selection(gtype, depth):
        out = []
        for name, fld in gtype.fields.items():
            if any(is_required_argument(a) for a in fld.args.values()):
                continue
            named = get_named_type(fld.type)
            if isinstance(named, (GraphQLScalarType, GraphQLEnumType)):
                out.append(name)
            elif depth > 0 and isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)):
                out.append(f"{name} {{ {selection(named, depth - 1)} }}")
            elif isinstance(named, GraphQLUnionType):
                out.append(f"{name} {{ __typename }}")
        return " ".join(out) or "__typename"

    q = f"""query {{
      findScene(id: "{sid}") {{ {selection(schema.type_map['Scene'], 2)} }}
      findTags {{ tags {{ {selection(schema.type_map['Tag'], 1)} }} }}
      findStudios {{ studios {{ {selection(schema.type_map['Studio'], 1)} }} }}
      findPerformers {{ performers {{ {selection(schema.type_map['Performer'], 1)} }} }}
      findSceneMarkers {{ scene_markers {{ {selection(schema.type_map['SceneMarker'], 1)} }} }}
      configuration {{ {selection(schema.type_map['ConfigResult'], 2)} }}
      systemStatus {{ status appSchema os workingDir homeDir }}
      version {{ version hash build_time }}
      jobQueue {{ id }} plugins {{ id }}
    }}"""
    d = data(stash, q)
    assert d["findScene"]["files"][0]["fingerprints"][0]["type"] == "oshash"
    assert d["configuration"]["general"]["videoFileNamingAlgorithm"] == "OSHASH"
    assert d["findPerformers"]["performers"][0]["image_path"].startswith(
        f"{stash.base_url}/performer/{p}/image?t=")


def test_map_scalars_accept_variables_and_inline_literals(stash):
    d = data(stash, 'mutation { configurePlugin(plugin_id: "p", input: {a: 1, b: {c: [1, "x", true]}, f: 0.5}) }')
    assert d["configurePlugin"] == {"a": 1, "b": {"c": [1, "x", True]}, "f": 0.5}
    d = data(stash, "mutation($m: Map!) { configurePlugin(plugin_id: \"p\", input: $m) }", {"m": {"z": {"y": None}}})
    assert d["configurePlugin"] == {"z": {"y": None}}


# ---------------------------------------------------------------- tags
def test_tag_name_and_alias_uniqueness_is_case_insensitive(stash):
    assert data(stash, TAG_CREATE, {"i": {"name": "Outdoor", "aliases": ["Outside"]}})["tagCreate"]["id"] == "1"
    assert error_of(stash, TAG_CREATE, {"i": {"name": "outdoor"}}) == "tag with name 'outdoor' already exists"
    assert error_of(stash, TAG_CREATE, {"i": {"name": "OUTSIDE"}}) == "name 'OUTSIDE' is used as alias for 'Outdoor'"
    assert error_of(stash, TAG_CREATE, {"i": {"name": "New", "aliases": ["OUTDOOR"]}}) == \
        "tag with name 'OUTDOOR' already exists"
    assert error_of(stash, TAG_CREATE, {"i": {"name": "  "}}) == "tag name must not be blank"
    # uniqueness is `= COLLATE NOCASE`, not LIKE: an underscore is not a wildcard here
    assert data(stash, TAG_CREATE, {"i": {"name": "Out_oor"}})["tagCreate"]["name"] == "Out_oor"
    tid = data(stash, TAG_CREATE, {"i": {"name": "Beach"}})["tagCreate"]["id"]
    assert error_of(stash, 'mutation($i: TagUpdateInput!) { tagUpdate(input: $i) { id } }',
                    {"i": {"id": tid, "aliases": ["outside"]}}) == "name 'outside' is used as alias for 'Outdoor'"
    assert [r["operation_name"] for r in stash.schema_violations] == []


def test_string_equals_is_sql_like(stash):
    for name in ("A_B", "AxB", "ab", "Outdoor"):
        stash.add_tag(name)
    stash.add_tag("Sea", aliases=["ocean_view"])
    assert tag_names(stash, {"name": {"value": "a_b", "modifier": "EQUALS"}}) == ["A_B", "AxB"]
    assert tag_names(stash, {"name": {"value": "%DOOR", "modifier": "EQUALS"}}) == ["Outdoor"]
    assert tag_names(stash, {"name": {"value": "a_b", "modifier": "NOT_EQUALS"}}) == ["Outdoor", "Sea", "ab"]
    assert tag_names(stash, {"aliases": {"value": "OCEAN_VIEW", "modifier": "EQUALS"}}) == ["Sea"]
    assert tag_names(stash, {"name": {"value": "door xyz", "modifier": "INCLUDES"}}) == ["Outdoor"]
    assert tag_names(stash, {"OR": {"aliases": {"value": "ocean%", "modifier": "EQUALS"}},
                             "name": {"value": "ab", "modifier": "EQUALS"}}) == ["Sea", "ab"]
    assert tag_names(stash, {}, {"q": "OCEAN", "per_page": -1}) == ["Sea"]


def test_tag_parents_filter_and_counts(stash):
    root = stash.add_tag("Root")
    mid = stash.add_tag("Mid", parent_ids=[root])
    stash.add_tag("Leaf", parent_ids=[mid])
    assert tag_names(stash, {"parents": {"value": [root], "modifier": "INCLUDES"}}) == ["Mid"]
    assert tag_names(stash, {"parents": {"value": [root], "modifier": "INCLUDES", "depth": -1}}) == ["Leaf", "Mid"]
    assert tag_names(stash, {"parents": {"modifier": "IS_NULL"}}) == ["Root"]
    d = data(stash, f'{{ findTag(id: "{mid}") {{ parents {{ name }} children {{ name }} parent_count child_count }} }}')
    assert d["findTag"] == {"parents": [{"name": "Root"}], "children": [{"name": "Leaf"}],
                            "parent_count": 1, "child_count": 1}


# ---------------------------------------------------------------- scenes
def test_scene_update_replaces_and_bulk_update_modes(stash):
    a, b, c = (stash.add_tag(n) for n in "abc")
    s1, s2 = stash.add_scene("one", tag_ids=[a]), stash.add_scene("two", tag_ids=[a, b])
    bulk = "mutation($i: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $i) { id tags { name } } }"
    out = data(stash, bulk, {"i": {"ids": [s1, s2], "tag_ids": {"ids": [c], "mode": "ADD"}}})
    assert [sorted(t["name"] for t in s["tags"]) for s in out["bulkSceneUpdate"]] == [["a", "c"], ["a", "b", "c"]]
    data(stash, bulk, {"i": {"ids": [s1, s2], "tag_ids": {"ids": [a], "mode": "REMOVE"}}})
    assert stash.scene_tag_names(s1) == ["c"] and stash.scene_tag_names(s2) == ["b", "c"]
    data(stash, bulk, {"i": {"ids": [s2], "tag_ids": {"ids": [a], "mode": "SET"}}})
    assert stash.scene_tag_names(s2) == ["a"]
    before = stash.scene(s1)["updated_at"]
    data(stash, "mutation($i: SceneUpdateInput!) { sceneUpdate(input: $i) { id } }",
         {"i": {"id": s1, "tag_ids": [b], "title": "renamed"}})
    after = stash.scene(s1)
    assert after["tag_ids"] == [b] and after["title"] == "renamed" and after["updated_at"] > before
    assert error_of(stash, "mutation { sceneUpdate(input: {id: \"1\", tag_ids: [\"99\"]}) { id } }") == \
        "FOREIGN KEY constraint failed"
    assert [e["type"] for e in stash.hook_events] == ["Scene.Update.Post"] * 6
    assert sorted(stash.hook_events[-1]["inputFields"]) == ["id", "tag_ids", "title"]


def test_find_scenes_tag_filters_and_hierarchy(stash):
    parent = stash.add_tag("Animal")
    child = stash.add_tag("Dog", parent_ids=[parent])
    other = stash.add_tag("Car")
    s_child = stash.add_scene("dog", tag_ids=[child])
    s_parent = stash.add_scene("animal", tag_ids=[parent])
    s_other = stash.add_scene("car", tag_ids=[other])
    s_both = stash.add_scene("both", tag_ids=[child, other])
    s_none = stash.add_scene("none")
    crit = lambda mod, vals, **kw: {"tags": {"value": vals, "modifier": mod, **kw}}  # noqa: E731
    assert scene_ids(stash, crit("INCLUDES", [parent])) == [s_parent]
    assert scene_ids(stash, crit("INCLUDES", [parent], depth=-1)) == [s_child, s_parent, s_both]
    assert scene_ids(stash, crit("INCLUDES_ALL", [child, other])) == [s_both]
    assert scene_ids(stash, crit("EXCLUDES", [other])) == [s_child, s_parent, s_none]
    assert scene_ids(stash, crit("EXCLUDES", [parent], depth=-1)) == [s_other, s_none]
    assert scene_ids(stash, crit("INCLUDES", [parent], depth=-1, excludes=[other])) == [s_child, s_parent]
    assert scene_ids(stash, crit("IS_NULL", [])) == [s_none]
    assert scene_ids(stash, {"id": {"value": int(s_other), "modifier": "EQUALS"}}) == [s_other]
    assert scene_ids(stash, {"NOT": crit("INCLUDES", [other]), "title": {"value": "o", "modifier": "INCLUDES"}}) == [s_child, s_none]
    status, body = gql(stash, FIND_SCENES, {"f": {"resolution": {"value": "FULL_HD", "modifier": "EQUALS"}}})
    assert status == 200 and "not supported" in body["errors"][0]["message"]
    stash.internal_errors.clear()      # unsupported criteria are reported there on purpose


def test_pagination_and_sorting(stash):
    ids = [stash.add_scene(f"scene {i:02d}") for i in range(30)]
    page = lambda ff: data(stash, FIND_SCENES, {"p": ff})["findScenes"]  # noqa: E731
    assert page({})["count"] == 30 and len(page({})["scenes"]) == 25
    assert [s["id"] for s in page({"per_page": 4, "page": 2, "sort": "id"})["scenes"]] == ids[4:8]
    assert len(page({"per_page": -1})["scenes"]) == 30
    assert page({"per_page": 0})["scenes"] == [] and page({"per_page": 0})["count"] == 30
    assert page({"per_page": 2, "sort": "title", "direction": "DESC"})["scenes"][0]["title"] == "scene 29"
    assert page({"per_page": 10, "page": 4})["scenes"] == []
    assert "invalid sort" in error_of(stash, FIND_SCENES, {"p": {"sort": "bogus"}})


# ---------------------------------------------------------------- markers
def test_marker_create_rules(stash):
    t1, t2 = stash.add_tag("Kiss"), stash.add_tag("Beach")
    sid = stash.add_scene("s")
    create = "mutation($i: SceneMarkerCreateInput!) { sceneMarkerCreate(input: $i) { id title seconds end_seconds primary_tag { id } tags { id } } }"
    m = data(stash, create, {"i": {"scene_id": sid, "title": "  hi  ", "seconds": 10.5,
                                   "end_seconds": 12.0, "primary_tag_id": t1, "tag_ids": [t1, t2]}})["sceneMarkerCreate"]
    assert m["title"] == "hi" and m["primary_tag"] == {"id": t1} and m["tags"] == [{"id": t2}]
    assert error_of(stash, create, {"i": {"scene_id": sid, "title": "", "seconds": 10.0,
                                          "end_seconds": 9.5, "primary_tag_id": t1}}) == \
        "end_seconds (9.500000) must be greater than or equal to seconds (10.000000)"
    assert [x["id"] for x in stash.markers(sid)] == [m["id"]]
    d = data(stash, f'{{ sceneMarkerTags(scene_id: "{sid}") {{ tag {{ name }} scene_markers {{ id }} }} '
                    f'findSceneMarkers(scene_marker_filter: {{scenes: {{value: ["{sid}"], modifier: INCLUDES}}}}) {{ count }} }}')
    assert d["sceneMarkerTags"] == [{"tag": {"name": "Kiss"}, "scene_markers": [{"id": m["id"]}]}]
    assert d["findSceneMarkers"]["count"] == 1
    assert data(stash, f'mutation {{ sceneMarkerDestroy(id: "{m["id"]}") }}')["sceneMarkerDestroy"] is True
    assert stash.markers(sid) == []


def test_configure_plugin_replaces_the_whole_map(stash):
    stash.set_plugin_config("stash_sense", {"threshold": 0.5, "modelDir": "/m"})
    stash.set_plugin_config("other", {"x": 1})
    data(stash, 'mutation { configurePlugin(plugin_id: "stash_sense", input: {threshold: 0.7}) }')
    assert stash.plugin_settings("stash_sense") == {"threshold": 0.7}
    d = data(stash, '{ configuration { plugins(include: ["stash_sense", "missing"]) } }')
    assert d["configuration"]["plugins"] == {"stash_sense": {"threshold": 0.7}}
    assert set(data(stash, "{ configuration { plugins } }")["configuration"]["plugins"]) == {"stash_sense", "other"}


def test_fail_next_injects_one_graphql_error(stash):
    sid = stash.add_scene("s")
    stash.fail_next("sceneUpdate", "database is locked")
    q = f'mutation {{ sceneUpdate(input: {{id: "{sid}", title: "x"}}) {{ id }} }}'
    assert error_of(stash, q) == "database is locked" and stash.scene(sid)["title"] == "s"
    assert data(stash, q)["sceneUpdate"]["id"] == sid


# ---------------------------------------------------------------- media
def test_vtt_matches_stash_for_600s_1080p():
    text = vtt_text(600, 160, 90, "abc_sprite.jpg")
    assert text.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:07.407\nabc_sprite.jpg#xywh=0,0,160,90\n\n"
                           "00:00:07.407 --> 00:00:14.814\nabc_sprite.jpg#xywh=160,0,160,90\n\n")
    assert text.count(" --> ") == 81
    assert text.endswith("00:09:52.592 --> 00:10:00.000\nabc_sprite.jpg#xywh=1280,720,160,90\n")
    assert not text.endswith("\n\n")
    # Stash's own frame-based step: (18000 // 81) / 30 = 7.4 s
    assert "00:00:07.400 --> 00:00:14.800" in vtt_text(600, 160, 90, "x", frame_rate=30, frame_count=18000)


def test_synthetic_sprite_paints_requested_colours():
    jpeg, vtt = synthetic_sprite(810, lambda t: (255, 0, 0) if 100 <= t < 300 else None)
    sheet = Image.open(io.BytesIO(jpeg))
    assert sheet.size == (1440, 810) and vtt.count("#xywh=") == 81
    red = lambda i: tile_of(jpeg, i).resize((1, 1)).getpixel((0, 0))  # noqa: E731
    assert red(10)[0] > 200 and red(10)[1] < 60          # t = 100 s
    assert abs(red(9)[0] - 128) < 20                      # t = 90 s -> grey


# ---------------------------------------------------------------- HTTP + auth
@pytest.mark.parametrize("auth", [False, True])
def test_sprite_and_vtt_over_http(auth):
    jpeg, _ = synthetic_sprite(600, None)
    with FakeStash(require_auth=auth, api_key="secret-key") as stash:
        sid = stash.add_scene("s", sprite=jpeg, vtt=lambda name: vtt_text(600, 160, 90, name))
        bare = stash.add_scene("no sprite yet")
        cookie = {"session": stash.session_cookie_value}
        q = "query($id: ID) { findScene(id: $id) { paths { sprite vtt stream } } }"
        status, body = gql(stash, q, {"id": sid}, cookies=cookie if auth else None)
        assert status == 200
        paths = body["data"]["findScene"]["paths"]
        h = stash.hash_of(sid)
        assert paths["sprite"] == f"{stash.base_url}/scene/{h}_sprite.jpg"
        assert paths["stream"] == f"{stash.base_url}/scene/{sid}/stream?apikey=secret-key"
        assert os.path.isfile(os.path.join(stash.general["generatedPath"], "vtt", f"{h}_thumbs.vtt"))
        if auth:
            assert requests.get(paths["sprite"], timeout=10).status_code == 401
            assert gql(stash, "{ version { version } }")[0] == 401
            assert requests.get(paths["sprite"], headers={"ApiKey": "wrong"}, cookies=cookie,
                                timeout=10).status_code == 401
            assert requests.get(paths["sprite"] + "?apikey=secret-key", timeout=10).status_code == 200
            assert requests.get(paths["vtt"], headers={"ApiKey": "secret-key"}, timeout=10).status_code == 200
        r = requests.get(paths["sprite"], cookies=cookie, timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg" and r.content == jpeg
        r = requests.get(paths["vtt"], cookies=cookie, timeout=10)
        assert r.headers["Content-Type"].startswith("text/vtt") and f"{h}_sprite.jpg#xywh=0,0,160,90" in r.text
        assert requests.get(f"{stash.base_url}/scene/{sid}/vtt/sprite", cookies=cookie, timeout=10).content == jpeg
        bare_paths = stash.graphql(q, {"id": bare})["data"]["findScene"]["paths"]
        assert requests.get(bare_paths["sprite"], cookies=cookie, timeout=10).status_code == 404
        assert ("GET", f"/scene/{h}_sprite.jpg", 200) in stash.http_log


def test_server_connection_has_go_field_names(stash):
    sc = stash.server_connection("/plugins/stash_sense")
    assert sc["Host"] == "0.0.0.0" and sc["Port"] == stash.port and sc["Scheme"] == "http"
    assert sc["SessionCookie"]["Name"] == "session" and sc["SessionCookie"]["Value"] == stash.session_cookie_value
    assert sc["SessionCookie"]["SameSite"] == 2 and sc["SessionCookie"]["Unparsed"] is None
    assert sc["PluginDir"] == "/plugins/stash_sense" and sc["Dir"] == stash.dir


# ---------------------------------------------------------------- ffmpeg
@pytest.mark.skipif(not schema_available() or not ffmpeg_available(), reason="ffmpeg not installed")
def test_real_ffmpeg_video_sprite_and_stream(tmp_path):
    video = make_video(str(tmp_path / "v.mp4"), 40, size=(320, 180), fps=5,
                       color_segments=[(10, 20, (255, 0, 0))], drawtext="stand-in")
    info = probe(video)
    assert abs(info["duration"] - 40) < 0.5 and info["frame_count"] == 200
    jpeg, vtt = sprite_from_video(video, 40, sprite_name="v_sprite.jpg")
    assert Image.open(io.BytesIO(jpeg)).size == (160 * 9, 90 * 9)
    # Stash's frame-based step: (200 // 81) / 5 fps = 0.4 s, so the cues cover only 32.4 s
    assert vtt.count(" --> ") == 81 and "00:00:00.400 --> 00:00:00.800" in vtt
    colour = lambda i: tile_of(jpeg, i).crop((60, 60, 150, 85)).resize((1, 1)).getpixel((0, 0))  # noqa: E731
    assert colour(30)[0] > 180 and colour(30)[1] < 80                 # t = 14.8 s: red
    assert colour(60)[0] < 120                                       # t = 29.6 s: grey
    with FakeStash() as stash:
        sid = stash.add_scene("v", duration=40, width=320, height=180, video_path=video,
                              sprite=jpeg, vtt=vtt)
        r = requests.get(f"{stash.base_url}/scene/{sid}/stream", headers={"Range": "bytes=0-99"}, timeout=10)
        assert r.status_code == 206 and len(r.content) == 100
        assert r.headers["Content-Range"] == f"bytes 0-99/{os.path.getsize(video)}"
        assert stash.scene(sid)["oshash"] == oshash_of(video)


# ---------------------------------------------------------------- runner
FAKE_PLUGIN = textwrap.dedent('''
    import json, os, sys, time, urllib.request
    inp = json.loads(sys.stdin.read())
    sc, args = inp["server_connection"], inp["args"]
    def log(c, m): print(f"\\x01{c}\\x02{m}", file=sys.stderr, flush=True)
    host = "127.0.0.1" if sc["Host"] == "0.0.0.0" else sc["Host"]
    def gql(q, v=None):
        req = urllib.request.Request(f"{sc['Scheme']}://{host}:{sc['Port']}/graphql",
            json.dumps({"query": q, "variables": v or {}}).encode(),
            {"Content-Type": "application/json", "Cookie": "session=" + sc["SessionCookie"]["Value"]})
        with urllib.request.urlopen(req) as r:
            return json.load(r)
    mode = args.get("mode")
    if mode == "echo":
        log("i", "  hello  "); log("p", "0.5"); print("plain stderr", file=sys.stderr, flush=True)
        count = gql("{ findScenes { count } }")["data"]["findScenes"]["count"]
        log("p", "1")
        print(json.dumps({"output": {"args": args, "count": count, "cwd": os.getcwd(),
                                     "pythonpath": os.environ.get("PYTHONPATH")}}))
    elif mode == "fail":
        print(json.dumps({"output": None, "error": "boom"}))
    elif mode == "raw":
        print("not json")
    elif mode == "exit":
        sys.exit(3)
    elif mode == "slow":
        for i in range(2000):
            log("p", i / 2000); time.sleep(0.01)
    elif mode == "hook":
        sid = str(args["hookContext"]["id"])
        gql("mutation($i: ID!) { sceneUpdate(input: {id: $i, details: \\"x\\"}) { id } }", {"i": sid})
        print(json.dumps({"output": "ok"}))
''')

FAKE_YML = textwrap.dedent('''
    name: Fake Plugin
    exec: [python, "{pluginDir}/fake_plugin.py"]
    interface: raw
    tasks:
      - name: Echo
        description: echo
        defaultArgs:
          mode: echo
          extra: 1
    hooks:
      - name: Loop
        triggeredBy: [Scene.Update.Post]
        defaultArgs:
          mode: hook
''')


@pytest.fixture
def plugin_dir(tmp_path):
    d = tmp_path / "plugins" / "fake_plugin"
    d.mkdir(parents=True)
    (d / "fake_plugin.py").write_text(FAKE_PLUGIN)
    (d / "fake_plugin.yml").write_text(FAKE_YML)
    return d


def test_run_plugin_like_stash(plugin_dir):
    with FakeStash(require_auth=True) as stash:
        stash.add_scene("a")
        run = run_plugin(stash, {"mode": "echo"}, plugin_dir=plugin_dir, script="fake_plugin.py")
        assert run.ok and run.stdout_was_json, run.stderr_raw
        assert run.output["count"] == 1 and run.output["args"] == {"mode": "echo"}
        assert run.output["cwd"] != str(plugin_dir)
        assert run.output["pythonpath"].endswith(str(plugin_dir.parent))
        assert run.messages("i") == ["hello"] and run.progress == [0.5, 1.0]
        assert run.messages("unprefixed") == ["plain stderr"]
        fail = run_plugin(stash, {"mode": "fail"}, plugin_dir=plugin_dir, script="fake_plugin.py")
        assert fail.returncode == 0 and fail.error == "boom"
        raw = run_plugin(stash, {"mode": "raw"}, plugin_dir=plugin_dir, script="fake_plugin.py")
        assert raw.output == "not json\n" and not raw.stdout_was_json and raw.error is None
        ex = run_plugin(stash, {"mode": "exit"}, plugin_dir=plugin_dir, script="fake_plugin.py")
        assert ex.error == "exit status 3"
        proc = start_plugin(stash, {"mode": "slow"}, plugin_dir=plugin_dir, script="fake_plugin.py")
        assert proc.wait_for(lambda p: len(p.progress) >= 3, timeout=30)
        proc.kill()
        killed = proc.wait(30)
        assert killed.killed and killed.error == "signal: killed" and 3 <= len(killed.progress) < 2000


def test_attach_plugin_operation_task_and_hook_loop(plugin_dir):
    pytest.importorskip("yaml")
    with FakeStash() as stash:
        sid = stash.add_scene("a")
        attached = attach_plugin(stash, plugin_dir, script="fake_plugin.py")
        assert attached.plugin_id == "fake_plugin"
        op = 'mutation($a: Map) { runPluginOperation(plugin_id: "fake_plugin", args: $a) }'
        out = data(stash, op, {"a": {"mode": "echo"}})["runPluginOperation"]
        assert out["args"] == {"mode": "echo"}                       # no defaultArgs for operations
        assert error_of(stash, op, {"a": {"mode": "fail"}}) == "boom"
        job_id = data(stash, 'mutation { runPluginTask(plugin_id: "fake_plugin", task_name: "Echo", '
                             'args_map: {mode: "echo", scene_id: "1"}) }')["runPluginTask"]
        job = data(stash, f'{{ findJob(input: {{id: "{job_id}"}}) {{ status progress description error }} }}')["findJob"]
        assert job == {"status": "FINISHED", "progress": 1.0, "error": None,
                       "description": "Running plugin task: Echo"}
        assert attached.runs[-1].args == {"mode": "echo", "scene_id": "1", "extra": "1"}
        data(stash, f'mutation {{ sceneUpdate(input: {{id: "{sid}", title: "t"}}) {{ id }} }}')
        hook_runs = [r for r in attached.runs if "hookContext" in r.args]
        assert len(hook_runs) == 10 and len(attached.skipped_hooks) == 1
        assert sorted(hook_runs[-1].args["hookContext"]["inputFields"]) == ["id", "title"]
        assert hook_runs[-1].args["hookContext"]["id"] == int(sid)
        assert all(r.ok for r in hook_runs)
        assert stash.schema_violations == []
