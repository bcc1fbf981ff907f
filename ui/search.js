/*
 * Stash Sense — find by look:
 * - a "Similar scenes" section at the bottom of the scene page's Stash Sense tab (ui/stash_sense.js
 *   renders every component in window.StashSenseSceneSections with { sceneId, seek });
 * - a search page at /plugins/stash-sense (PluginApi.register.route) with a button in Stash's
 *   navbar (MainNavBar.UtilityItems): a description, optional Stash filters, scenes ranked by their
 *   best moments; a moment opens the scene at that time (/scenes/<id>?t=<seconds>); below, the
 *   last near-duplicate groups (task "Find near-duplicates", read by the operation duplicate_groups).
 *
 * Why it looks like this: the plugin's operations (similar, search) answer with each result's
 * sprite URL and the tile's x/y/w/h from the scene's VTT, so a thumbnail is a div showing that
 * part of the sprite sheet — the browser fetches each sheet once, with Stash's own session. Same
 * constraints as stash_sense.js: one classic script, React.createElement on PluginApi's React and
 * react-bootstrap, /graphql resolved against <base href>.
 */
(function () {
  "use strict";

  const api = window.PluginApi;
  if (!api || !api.React || !api.libraries || !api.libraries.Bootstrap) {
    console.error("Stash Sense search: window.PluginApi is missing; find by look is not installed");
    return;
  }
  const React = api.React;
  const h = React.createElement;
  const { useState, useEffect } = React;
  const { Alert, Badge, Button, Card, Form, Spinner } = api.libraries.Bootstrap;
  const RouterDOM = api.libraries.ReactRouterDOM || {};

  const PLUGIN_ID = "stash_sense";
  const ROUTE = "/plugins/stash-sense";
  const OPERATION_DOC =
    "mutation StashSenseFind($plugin_id: ID!, $args: Map) {" +
    " runPluginOperation(plugin_id: $plugin_id, args: $args) }";
  const NAMES_DOC =
    "query StashSenseFilterNames { findTags(filter: {per_page: -1}) { tags { id name } }" +
    " findPerformers(filter: {per_page: -1}) { performers { id name } }" +
    " findStudios(filter: {per_page: -1}) { studios { id name } } }";

  function baseHref() {
    const base = document.querySelector("base[href]");
    return base ? base.href : window.location.origin + "/";
  }

  async function gql(query, variables) {
    const res = await fetch(new URL("graphql", baseHref()).toString(), {
      method: "POST", credentials: "include",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query, variables: variables || {} }),
    });
    const body = await res.json();
    if (body.errors && body.errors.length) throw new Error(body.errors.map((e) => e.message).join("; "));
    return body.data;
  }

  async function operation(args) {
    const data = await gql(OPERATION_DOC, { plugin_id: PLUGIN_ID, args });
    const out = data && data.runPluginOperation;
    if (!out || typeof out !== "object" || !Array.isArray(out.scenes)) {
      throw new Error("unexpected answer from the plugin: " + JSON.stringify(out));
    }
    return out;
  }

  function clock(seconds) {
    const s = Math.round(seconds || 0);
    const mm = Math.floor((s % 3600) / 60), ss = String(s % 60).padStart(2, "0");
    return s >= 3600 ? Math.floor(s / 3600) + ":" + String(mm).padStart(2, "0") + ":" + ss : mm + ":" + ss;
  }

  function sceneLink(id, time) {
    return "/scenes/" + encodeURIComponent(id) + (time === undefined ? "" : "?t=" + Math.floor(time));
  }

  /** A router link inside Stash; a plain link (resolved against <base>) without a router. */
  function Go({ to, className, title, children, onClick }) {
    if (RouterDOM.Link) return h(RouterDOM.Link, { to, className, title, onClick }, children);
    const href = new URL(to.replace(/^\//, ""), baseHref());
    return h("a", { href: href.pathname + href.search, className, title, onClick }, children);
  }

  /** One sprite tile: the part x,y,w,h of the scene's sprite sheet, at its own size (160 px). */
  function Tile({ thumb }) {
    if (!thumb || !thumb.url) return h("div", { className: "ss-tile ss-tile-empty" });
    return h("div", {
      className: "ss-tile",
      "data-xywh": [thumb.x, thumb.y, thumb.w, thumb.h].join(","),
      style: {
        width: thumb.w + "px", height: thumb.h + "px",
        backgroundImage: "url(" + JSON.stringify(thumb.url) + ")",
        backgroundPosition: -thumb.x + "px " + -thumb.y + "px",
      },
    });
  }

  // ------------------------------------------------------------------ similar scenes (scene tab)

  function SimilarSection({ sceneId }) {
    const [state, setState] = useState({ loading: true });
    useEffect(() => {
      let alive = true;
      setState({ loading: true });
      operation({ mode: "similar", scene_id: sceneId, limit: 12 })
        .then((out) => alive && setState({ out }))
        .catch((e) => alive && setState({ error: String(e.message || e) }));
      return () => { alive = false; };
    }, [sceneId]);
    const out = state.out;
    return h(Card, { className: "ss-similar" },
      h(Card.Header, null, "Similar scenes",
        h("small", { className: "text-muted ml-2" }, "by look, from the stored frame embeddings")),
      h(Card.Body, null,
        state.loading ? h(Spinner, { animation: "border", size: "sm", className: "ss-similar-loading" }) : null,
        state.error ? h(Alert, { variant: "danger", className: "ss-similar-error" }, state.error) : null,
        out && !out.scenes.length
          ? h("p", { className: "text-muted ss-similar-none" }, out.reason || "No other analysed scene yet.")
          : null,
        out && out.scenes.length
          ? h("div", { className: "ss-similar-grid" }, out.scenes.map((s) =>
            h(Go, { key: s.id, to: sceneLink(s.id), className: "ss-similar-item", title: s.title },
              h(Tile, { thumb: s.thumbnail }),
              h("div", { className: "ss-similar-title" }, s.title),
              h(Badge, { variant: "secondary", className: "ss-score" }, s.score.toFixed(2)))))
          : null));
  }

  window.StashSenseSceneSections = (window.StashSenseSceneSections || []).concat([SimilarSection]);

  // ------------------------------------------------------------------ search page

  function useFilterNames() {
    const [names, setNames] = useState({ tags: [], performers: [], studios: [] });
    useEffect(() => {
      gql(NAMES_DOC).then((d) => setNames({
        tags: d.findTags.tags, performers: d.findPerformers.performers, studios: d.findStudios.studios,
      })).catch(() => {});
    }, []);
    return names;
  }

  /** "a, b" -> ids by exact (case-insensitive) name; throws naming what is unknown. */
  function idsOf(text, items, what) {
    const wanted = text.split(",").map((t) => t.trim()).filter(Boolean);
    return wanted.map((name) => {
      const hit = items.find((i) => i.name.toLowerCase() === name.toLowerCase());
      if (!hit) throw new Error("unknown " + what + " " + JSON.stringify(name));
      return hit.id;
    });
  }

  function FilterInput({ id, label, value, onChange, items, placeholder }) {
    return h(Form.Group, { className: "ss-filter mr-2" },
      h(Form.Label, { htmlFor: id, className: "small text-muted mb-0" }, label),
      h(Form.Control, { id, size: "sm", value, placeholder, list: id + "-names",
        onChange: (e) => onChange(e.target.value) }),
      h("datalist", { id: id + "-names" }, items.map((i) => h("option", { key: i.id, value: i.name }))));
  }

  function Result({ scene }) {
    return h(Card, { className: "ss-result", "data-scene-id": scene.id },
      h(Card.Body, null,
        h("div", { className: "ss-result-head" },
          h(Go, { to: sceneLink(scene.id), className: "ss-result-title" }, scene.title),
          h(Badge, { variant: "info", className: "ss-score ml-2" }, scene.score.toFixed(2))),
        h("div", { className: "ss-moments" }, scene.moments.map((m) =>
          h(Go, { key: m.time, to: sceneLink(scene.id, m.time), className: "ss-moment",
            title: "open at " + clock(m.time) },
            h(Tile, { thumb: m.thumbnail }),
            h("span", { className: "ss-moment-time" }, clock(m.time)),
            h("span", { className: "ss-moment-score text-muted" }, m.score.toFixed(2)))))));
  }

  // ------------------------------------------------------------------ near-duplicate groups

  async function duplicateReport() {
    const data = await gql(OPERATION_DOC, { plugin_id: PLUGIN_ID, args: { mode: "duplicate_groups" } });
    return (data && data.runPluginOperation && data.runPluginOperation.report) || null;
  }

  /** The last report of the task "Find near-duplicates" (it only reports; it never merges). */
  function Duplicates() {
    const [state, setState] = useState({});
    const load = () => {
      setState({ loading: true });
      duplicateReport().then((report) => setState({ report }))
        .catch((e) => setState({ error: String(e.message || e) }));
    };
    const report = state.report;
    return h(Card, { className: "ss-duplicates mt-4" },
      h(Card.Header, null, "Near-duplicates ",
        h(Button, { size: "sm", variant: "secondary", className: "ss-duplicates-load ml-2", onClick: load,
          disabled: state.loading }, report ? "Refresh" : "Show the last report")),
      h(Card.Body, null,
        state.error ? h(Alert, { variant: "danger", className: "ss-error" }, state.error) : null,
        state.report === null ? h("p", { className: "text-muted" },
          "No report yet: run the task Find near-duplicates (Settings › Tasks).") : null,
        report ? h("p", { className: "text-muted ss-duplicates-summary" },
          report.groups.length + " group(s) among " + report.scenes + " analysed scenes" +
          (report.generated_at ? ", " + new Date(report.generated_at * 1000).toLocaleString() : "") +
          ". Nothing was deleted or merged; compare them in Stash.") : null,
        report ? report.groups.map((g) => h("div", { key: g.group, className: "ss-duplicate-group",
          "data-group": g.group },
          h(Badge, { variant: "warning", className: "mr-2" }, g.score.toFixed(2)),
          g.scenes.map((sc, i) => h(React.Fragment, { key: sc.id }, i ? ", " : null,
            h(Go, { to: sceneLink(sc.id), className: "ss-duplicate-scene" }, sc.title),
            sc.duration ? h("small", { className: "text-muted" }, " (" + clock(sc.duration) + ")") : null)),
          h("small", { className: "text-muted ml-2" },
            g.pairs.map((p) => p.relation === "contains" ? p.a + " inside " + p.b : p.a + " = " + p.b)
              .join("; ")))) : null));
  }

  function SearchPage() {
    const names = useFilterNames();
    const [query, setQuery] = useState("");
    const [tags, setTags] = useState("");
    const [performers, setPerformers] = useState("");
    const [studio, setStudio] = useState("");
    const [organized, setOrganized] = useState("");
    const [state, setState] = useState({});

    async function submit(e) {
      e.preventDefault();
      if (!query.trim()) return;
      setState({ loading: true });
      try {
        const args = { mode: "search", query, limit: 24 };
        const tagIds = idsOf(tags, names.tags, "tag");
        const performerIds = idsOf(performers, names.performers, "performer");
        const studioIds = idsOf(studio, names.studios, "studio");
        if (tagIds.length) args.tags = tagIds;
        if (performerIds.length) args.performers = performerIds;
        if (studioIds.length) args.studio = studioIds[0];
        if (organized) args.organized = organized === "yes";
        setState({ out: await operation(args) });
      } catch (err) {
        setState({ error: String(err.message || err) });
      }
    }

    const out = state.out;
    return h("div", { className: "stash-sense-search container-fluid" },
      h("h2", null, "Find by look"),
      h(Form, { className: "ss-search-form", onSubmit: submit },
        h("div", { className: "d-flex" },
          h(Form.Control, { className: "ss-search-input", value: query, autoFocus: true,
            placeholder: "Describe what you are looking for, e.g. two people on a beach at sunset",
            onChange: (e) => setQuery(e.target.value) }),
          h(Button, { type: "submit", className: "ss-search-go ml-2", disabled: state.loading },
            "Search")),
        h("div", { className: "d-flex flex-wrap mt-2 ss-filters" },
          h(FilterInput, { id: "ss-f-tags", label: "Tags (all of)", value: tags, onChange: setTags,
            items: names.tags, placeholder: "tag, tag" }),
          h(FilterInput, { id: "ss-f-performers", label: "Performers (all of)", value: performers,
            onChange: setPerformers, items: names.performers, placeholder: "performer" }),
          h(FilterInput, { id: "ss-f-studio", label: "Studio", value: studio, onChange: setStudio,
            items: names.studios, placeholder: "studio" }),
          h(Form.Group, { className: "ss-filter" },
            h(Form.Label, { htmlFor: "ss-f-organized", className: "small text-muted mb-0" }, "Organized"),
            h(Form.Control, { as: "select", id: "ss-f-organized", size: "sm", value: organized,
              onChange: (e) => setOrganized(e.target.value) },
              h("option", { value: "" }, "any"), h("option", { value: "yes" }, "yes"),
              h("option", { value: "no" }, "no"))))),
      state.loading ? h(Spinner, { animation: "border", role: "status", className: "ss-search-loading" }) : null,
      state.error ? h(Alert, { variant: "danger", className: "ss-error" }, state.error) : null,
      out ? h("p", { className: "text-muted ss-search-summary" },
        out.scenes.length ? out.scenes.length + " scenes for " + JSON.stringify(out.query) +
          " (" + out.seconds + " s)" : (out.reason || "No scene matches.")) : null,
      out ? h("div", { className: "ss-search-results" },
        out.scenes.map((s) => h(Result, { key: s.id, scene: s }))) : null,
      h(Duplicates, null));
  }

  window.StashSenseSearch = { SearchPage, SimilarSection, ROUTE };
  if (api.register && api.register.route) api.register.route(ROUTE, SearchPage);

  api.patch.before("MainNavBar.UtilityItems", function (props, ...rest) {
    const button = h(Go, { key: "stash-sense-search", to: ROUTE, className: "ss-nav-search btn btn-secondary",
      title: "Stash Sense: find scenes by what is in them" }, "Find by look");
    const children = h(React.Fragment, null, props.children, button);
    return [Object.assign({}, props, { children }), ...rest];
  });
})();
