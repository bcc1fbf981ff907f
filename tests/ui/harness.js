/*
 * A stand-in for Stash's UI around plugin scripts, enough to run ui/stash_sense.js unchanged:
 * window.PluginApi with the real React and react-bootstrap, patch.before/instead/after with the
 * semantics of Stash's ui/v2.5/src/patch.tsx, and a scene page whose tabs are rendered the way
 * Stash's Scene.tsx renders them (Tab.Container > Nav tabs > ScenePage.Tabs, Tab.Content >
 * ScenePage.TabContent, both patchable container components receiving the page's props).
 *
 * Test hooks: window.__harness.seeks (every seek, by which path), .refetches (Apollo refetch
 * calls), .ready (the page rendered). Query parameters: scene=<id> (default 12), tab=<eventKey>
 * opened first, seek=player to leave setTimestamp out of the props (the plugin must then use
 * PluginApi.utils.InteractiveUtils.getPlayer()); route=<path> renders the component a plugin
 * registered with register.route under a navbar whose MainNavBar.UtilityItems is patchable.
 */
(function () {
  "use strict";

  const React = window.React;
  const ReactDOM = window.ReactDOM;
  const Bootstrap = window.ReactBootstrap;
  const h = React.createElement;
  const { Nav, Tab } = Bootstrap;
  const params = new URLSearchParams(window.location.search);
  const harness = { seeks: [], refetches: [], ready: false, sceneError: null };
  window.__harness = harness;

  // ---------------------------------------------------------- patch.tsx semantics
  const beforeFns = {};
  const insteadFns = {};
  const afterFns = {};
  const components = {};
  const routes = {};          // register.route(path, Component): opened with ?route=<path>

  function register(table, name, fn) {
    (table[name] = table[name] || []).push(fn);
  }

  function runInstead(fns, target, thisArg, args) {
    let i = 1;
    function next() {
      if (i >= fns.length) return target;
      const fn = fns[i++];
      return new Proxy(fn, { apply: (t, ctx, a) => t.apply(ctx, a.concat(next())) });
    }
    return fns[0].apply(thisArg, args.concat(next()));
  }

  function patchFunction(name, fn) {
    return new Proxy(fn, {
      apply(target, ctx, args) {
        for (const before of beforeFns[name] || []) args = before.apply(ctx, args);
        let result = insteadFns[name]
          ? runInstead(insteadFns[name], target, ctx, args)
          : target.apply(ctx, args);
        for (const after of afterFns[name] || []) result = after.apply(ctx, args.concat(result));
        return result;
      },
    });
  }

  function patchContainer(name) {
    const fn = patchFunction(name, (props) => h(React.Fragment, null, props.children));
    components[name] = fn;
    return fn;
  }

  // ---------------------------------------------------------- player and Stash services
  const player = {
    time: 0,
    currentTime(seconds) {
      if (seconds === undefined) return this.time;
      this.time = seconds;
      harness.seeks.push({ via: "player", seconds });
      showTime();
      return this;
    },
  };

  function showTime() {
    const el = document.getElementById("player-time");
    if (el) el.textContent = "Player at " + player.time.toFixed(1) + " s";
  }

  function setTimestamp(seconds) {
    player.time = seconds;
    harness.seeks.push({ via: "setTimestamp", seconds });
    showTime();
  }

  window.PluginApi = {
    React,
    ReactDOM,
    GQL: {},
    libraries: { Bootstrap },
    components,
    register: { route(path, fn) { routes[path] = fn; }, component(name, fn) { components[name] = fn; } },
    patch: {
      before: (name, fn) => register(beforeFns, name, fn),
      instead: (name, fn) => register(insteadFns, name, fn),
      after: (name, fn) => register(afterFns, name, fn),
    },
    hooks: {},
    utils: {
      StashService: {
        getClient: () => ({
          refetchQueries(options) {
            harness.refetches.push(options);
            return Promise.resolve([]);
          },
        }),
      },
      InteractiveUtils: { getPlayer: () => player },
    },
    Event: new EventTarget(),
  };

  // ---------------------------------------------------------- the scene page
  const ScenePageTabs = patchContainer("ScenePage.Tabs");
  const ScenePageTabContent = patchContainer("ScenePage.TabContent");

  function tab(key, label) {
    return h(Nav.Item, { key }, h(Nav.Link, { eventKey: key }, label));
  }

  function pane(key, text) {
    return h(Tab.Pane, { key, eventKey: key }, h("p", { className: "text-muted" }, text));
  }

  function ScenePage(props) {
    const [active, setActive] = React.useState(params.get("tab") || "scene-details-panel");
    return h(Tab.Container, { activeKey: active, onSelect: (k) => k && setActive(k) },
      h("div", null, h(Nav, { variant: "tabs", className: "mr-auto" },
        h(ScenePageTabs, props,
          tab("scene-details-panel", "Details"),
          tab("scene-markers-panel", "Markers"),
          tab("scene-file-info-panel", "File Info"),
          tab("scene-edit-panel", "Edit")))),
      h(Tab.Content, null,
        h(ScenePageTabContent, props,
          pane("scene-details-panel", props.scene.title || "Untitled scene"),
          pane("scene-markers-panel", "Markers"),
          pane("scene-file-info-panel", "File info"),
          pane("scene-edit-panel", "Edit"))));
  }

  function Page({ scene }) {
    const props = { scene, queueScenes: [], onDelete() {}, setTimestamp };
    if (params.get("seek") === "player") delete props.setTimestamp;
    return h("div", { className: "row" },
      h("div", { className: "scene-tabs" },
        h("div", { className: "scene-header-container" },
          h("h3", { className: "scene-header" }, scene.title || "Scene " + scene.id)),
        h(ScenePage, props)),
      h("div", { className: "scene-player-container" },
        h("div", { className: "fake-player" }, h("span", { id: "player-time" }, "Player at 0.0 s"))));
  }

  // ---------------------------------------------------------- plugin routes and the navbar
  const NavUtilityItems = patchContainer("MainNavBar.UtilityItems");

  function RoutePage({ path }) {
    const Page = routes[path];
    return h("div", null,
      h("nav", { className: "navbar navbar-dark bg-dark top-nav" },
        h("span", { className: "navbar-brand" }, "Stash"),
        h("div", { className: "navbar-buttons" }, h(NavUtilityItems, {}))),
      h("div", { className: "main container-fluid" },
        Page ? h(Page, {}) : h("p", null, "no plugin route " + path)));
  }

  async function loadScene(id) {
    const response = await fetch(new URL("graphql", document.baseURI), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        query: "query HarnessScene($id: ID!) { findScene(id: $id) { id title } }",
        variables: { id },
      }),
    });
    const body = await response.json();
    if (!body.data || !body.data.findScene) throw new Error("scene " + id + " not found");
    return body.data.findScene;
  }

  // Stash renders the app once every plugin script has loaded; so do we.
  window.addEventListener("load", async () => {
    const root = document.getElementById("root");
    if (params.get("route")) {
      ReactDOM.render(h(RoutePage, { path: params.get("route") }), root, () => { harness.ready = true; });
      return;
    }
    try {
      const scene = await loadScene(params.get("scene") || "12");
      ReactDOM.render(h(Page, { scene }), root, () => { harness.ready = true; });
    } catch (err) {
      harness.sceneError = String(err);
      root.textContent = "Harness: " + err;
    }
  });
})();
