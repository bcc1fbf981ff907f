/*
 * Stash Sense: the unknown-faces page (/plugin/stash_sense/faces).
 *
 * Lists the groups of faces that matched no performer (task "Group unknown faces"), each with its
 * face crops and the scenes it appears in, and lets the user say who it is — an existing
 * performer (by id) or a new one created only on this click — or ignore the group.
 *
 * Why it looks like this:
 * - Same constraints as stash_sense.js: one classic script, React.createElement on
 *   window.PluginApi, no build step; data only through the plugin's light operations
 *   (face_groups / name_face_group / ignore_face_group), which write through the plugin's one
 *   writer, so naming is undoable per scene.
 * - Creating a performer asks for confirmation: nothing is created without the user's click.
 * - The scene tab shows the groups of one scene with the same controls: SceneFaceGroups joins
 *   window.StashSenseSceneSections, which stash_sense.js renders with { sceneId, seek } (nothing
 *   when the scene has no open group).
 */
(function () {
  "use strict";

  const api = window.PluginApi;
  if (!api || !api.React || !api.register || !api.libraries || !api.libraries.Bootstrap) {
    console.error("Stash Sense: window.PluginApi is missing; the faces page is not installed");
    return;
  }
  const React = api.React;
  const h = React.createElement;
  const { useState, useEffect, useCallback } = React;
  const { Alert, Button, Card, Form, Spinner } = api.libraries.Bootstrap;

  const PLUGIN_ID = "stash_sense";
  const ROUTE = "/plugin/stash_sense/faces";
  const OPERATION_DOC =
    "mutation StashSenseOperation($plugin_id: ID!, $args: Map) {" +
    " runPluginOperation(plugin_id: $plugin_id, args: $args) }";

  function graphqlUrl() {
    const base = document.querySelector("base[href]");
    return new URL("graphql", base ? base.href : window.location.origin + "/").toString();
  }

  function appUrl(path) {
    const base = document.querySelector("base[href]");
    return new URL(path.replace(/^\//, ""), base ? base.href : window.location.origin + "/").toString();
  }

  async function operation(args) {
    let response;
    try {
      response = await fetch(graphqlUrl(), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ query: OPERATION_DOC, variables: { plugin_id: PLUGIN_ID, args } }),
      });
    } catch (err) {
      throw new Error("Stash did not answer (" + err.message + ")");
    }
    const body = await response.json().catch(() => null);
    if (body && body.errors && body.errors.length) {
      throw new Error(body.errors.map((e) => e.message).join("; "));
    }
    if (!response.ok || !body || !body.data) {
      throw new Error("Stash answered HTTP " + response.status);
    }
    return body.data.runPluginOperation;
  }

  function Group({ group, onDone, onError }) {
    const [who, setWho] = useState("");
    const [busy, setBusy] = useState(false);

    async function act(args, confirmText) {
      if (confirmText && !window.confirm(confirmText)) return;
      setBusy(true);
      try {
        onDone(await operation(Object.assign({ group_id: group.group_id }, args)));
      } catch (err) {
        onError(err.message);
      } finally {
        setBusy(false);
      }
    }
    const value = who.trim();
    const isId = /^\d+$/.test(value);
    return h(Card, { className: "ss-face-group", "data-group-id": group.group_id },
      h(Card.Header, null, "Group " + group.group_id + " · " + group.size + " faces in " +
        group.scene_ids.length + " scene(s)"),
      h(Card.Body, null,
        h("div", { className: "ss-face-crops" }, group.faces.map((f, i) =>
          h("img", { key: i, src: f.crop, className: "ss-face-crop",
            alt: "face in scene " + f.scene_id + " at " + f.time.toFixed(1) + " s",
            title: "scene " + f.scene_id + " at " + f.time.toFixed(1) + " s" }))),
        h("div", { className: "ss-face-scenes" }, "Scenes: ", group.scene_ids.map((sid, i) =>
          h(React.Fragment, { key: sid }, i ? ", " : "",
            h("a", { href: appUrl("/scenes/" + sid) }, sid)))),
        h(Form, { inline: true, className: "ss-face-name",
          onSubmit: (e) => { e.preventDefault(); } },
          h(Form.Control, { placeholder: "Performer id, or a new performer's name", value: who,
            disabled: busy, onChange: (e) => setWho(e.target.value), className: "ss-face-who" }),
          h(Button, { variant: "primary", disabled: busy || !value, className: "ss-face-confirm",
            onClick: () => (isId
              ? act({ mode: "name_face_group", performer_id: value })
              : act({ mode: "name_face_group", new_performer: value },
                'Create the performer "' + value + '" and add them to ' +
                group.scene_ids.length + " scene(s)?")) },
            isId ? "This is performer " + value : "Create \u201c" + (value || "…") + "\u201d"),
          h(Button, { variant: "secondary", disabled: busy, className: "ss-face-ignore",
            onClick: () => act({ mode: "ignore_face_group" }) }, "Ignore"))));
  }

  function FacesPage() {
    const [data, setData] = useState(null);
    const [error, setError] = useState(null);
    const [message, setMessage] = useState(null);
    const load = useCallback(async () => {
      try {
        setData(await operation({ mode: "face_groups" }));
      } catch (err) {
        setError(err.message);
      }
    }, []);
    useEffect(() => { load(); }, [load]);

    function done(out) {
      setMessage(out && out.name
        ? out.name + " added to " + out.scenes_added.length + " scene(s); " +
          out.gallery_faces + " faces learned"
        : "Group ignored");
      load();
    }
    return h("div", { className: "stash-sense-faces container" },
      h("h2", null, "Stash Sense: unknown faces"),
      h("p", { className: "text-muted" }, "Faces that matched none of your performers, grouped by " +
        "the task \u201cGroup unknown faces\u201d. Name a group to add that performer to its " +
        "scenes (each scene\u2019s undo takes it back), or ignore it."),
      error ? h(Alert, { variant: "danger", className: "ss-error", dismissible: true,
        onClose: () => setError(null) }, error) : null,
      message ? h(Alert, { variant: "success", className: "ss-message", dismissible: true,
        onClose: () => setMessage(null) }, message) : null,
      !data && !error ? h(Spinner, { animation: "border", role: "status" }) : null,
      data && !data.groups.length ? h("p", { className: "ss-no-groups" },
        "No groups to name. Run the task \u201cGroup unknown faces\u201d after analysing scenes.") : null,
      data ? data.groups.map((g) => h(Group, { key: g.group_id, group: g, onDone: done,
        onError: setError })) : null);
  }

  /** The scene tab's section: the open groups with a face in this scene. */
  function SceneFaceGroups({ sceneId }) {
    const [groups, setGroups] = useState([]);
    const [error, setError] = useState(null);
    const [message, setMessage] = useState(null);
    const load = useCallback(async () => {
      try {
        setGroups((await operation({ mode: "face_groups", scene_id: sceneId })).groups);
      } catch (err) {
        setError(err.message);
      }
    }, [sceneId]);
    useEffect(() => { load(); }, [load]);
    if (!groups.length && !error && !message) return null;
    return h("div", { className: "stash-sense-faces ss-scene-faces" },
      h("h5", null, "Unknown faces in this scene"),
      error ? h(Alert, { variant: "danger", className: "ss-error" }, error) : null,
      message ? h(Alert, { variant: "success", className: "ss-message" }, message) : null,
      groups.map((g) => h(Group, { key: g.group_id, group: g, onError: setError,
        onDone: (out) => { setMessage(out && out.name ? out.name + " added" : "Group ignored"); load(); } })),
      h("a", { href: appUrl(ROUTE) }, "All unknown faces"));
  }

  window.StashSense = Object.assign(window.StashSense || {}, { SceneFaceGroups });
  window.StashSenseSceneSections = (window.StashSenseSceneSections || []).concat([SceneFaceGroups]);
  api.register.route(ROUTE, FacesPage);
})();
