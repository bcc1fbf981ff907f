/*
 * Stash Sense reports: a page at /plugin/stash-sense/reports (linked from Settings › Tools) that
 * shows the last quality report (task "Evaluate tags against my library") and the last learned-tag
 * report (task "Learn tags from my library").
 *
 * Why it looks like this:
 * - The reports are files the tasks write in the plugin's data directory; one light operation
 *   (runPluginOperation, mode "reports": standard library only, no model) returns both, so the
 *   page opens in the time a Python process starts.
 * - Same constraints as stash_sense.js: one classic script, React.createElement on
 *   window.PluginApi's React and react-bootstrap, /graphql resolved against <base href>.
 * - Numbers are shown as the tasks computed them; the page explains what each column means,
 *   because "precision 0.62" is only useful next to "of the scenes it tagged, 62 % carry your tag".
 */
(function () {
  "use strict";

  const api = window.PluginApi;
  if (!api || !api.React || !api.libraries || !api.libraries.Bootstrap) {
    console.error("Stash Sense reports: window.PluginApi is missing; the reports page is not installed");
    return;
  }
  const React = api.React;
  const h = React.createElement;
  const { useState, useEffect } = React;
  const { Alert, Badge, Button, Card, Spinner, Table } = api.libraries.Bootstrap;
  const RouterDOM = api.libraries.ReactRouterDOM || {};

  const PLUGIN_ID = "stash_sense";
  const ROUTE = "/plugin/stash-sense/reports";
  const OPERATION_DOC =
    "mutation StashSenseReports($plugin_id: ID!, $args: Map) {" +
    " runPluginOperation(plugin_id: $plugin_id, args: $args) }";

  function graphqlUrl() {
    const base = document.querySelector("base[href]");
    return new URL("graphql", base ? base.href : window.location.origin + "/").toString();
  }

  async function fetchReports() {
    const res = await fetch(graphqlUrl(), {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query: OPERATION_DOC,
        variables: { plugin_id: PLUGIN_ID, args: { mode: "reports" } } }),
    });
    const body = await res.json();
    if (body.errors && body.errors.length) throw new Error(body.errors.map((e) => e.message).join("; "));
    const out = body.data && body.data.runPluginOperation;
    if (out && out.error) throw new Error(out.error);
    return out || {};
  }

  function num(x, digits) {
    return x === null || x === undefined ? "–" : Number(x).toFixed(digits === undefined ? 2 : digits);
  }

  function when(seconds) {
    return seconds ? new Date(seconds * 1000).toLocaleString() : "";
  }

  function QualityReport({ report }) {
    if (!report) {
      return h(Alert, { variant: "info", className: "ss-report-empty" },
        "No quality report yet: run the task Evaluate tags against my library (Settings › Tasks).");
    }
    const rows = report.tags || [];
    return h(Card, { className: "ss-report ss-quality" },
      h(Card.Header, null, "Quality of the plugin's tags on your library",
        h("small", { className: "text-muted ml-2" }, when(report.generated_at))),
      h(Card.Body, null,
        h("p", { className: "text-muted" },
          `Compared with your own tags on ${report.analysed_scenes} analysed scenes ` +
          `(${report.organized_scenes} organized). Precision: of the scenes the plugin finds the tag on, ` +
          "the share you tagged too. Recall: of the scenes you tagged, the share the plugin finds. " +
          `Threshold: the lowest confidence at which the plugin's findings reach precision ${num(report.target_precision)}.`),
        rows.length === 0
          ? h("p", null, report.message || "No tag of yours matches a tag the plugin produces.")
          : h(Table, { size: "sm", striped: true, className: "ss-quality-table" },
            h("thead", null, h("tr", null,
              ["tag", "your tag", "scenes", "tagged by you", "found", "precision", "recall",
                "threshold", "precision there", "recall there", ""].map((c) => h("th", { key: c }, c)))),
            h("tbody", null, rows.map((r) => h("tr", { key: r.name, "data-tag": r.name },
              h("td", null, r.name), h("td", null, r.user_tag), h("td", null, r.evaluated),
              h("td", null, r.positives), h("td", null, r.found), h("td", null, num(r.precision)),
              h("td", null, num(r.recall)), h("td", null, num(r.threshold)),
              h("td", null, num(r.precision_at)), h("td", null, num(r.recall_at)),
              h("td", { className: "text-muted" }, r.note || "")))))));
  }

  function LearnedReport({ report }) {
    if (!report) {
      return h(Alert, { variant: "info", className: "ss-report-empty" },
        "No learned tags yet: run the task Learn tags from my library (Settings › Tasks).");
    }
    const rows = report.tags || [];
    return h(Card, { className: "ss-report ss-learned" },
      h(Card.Header, null, "Tags learned from your library",
        h("small", { className: "text-muted ml-2" }, when(report.generated_at))),
      h(Card.Body, null,
        h("p", { className: "text-muted" },
          `${report.active} of ${rows.length} tags active, learned from ${report.scenes_with_embeddings} ` +
          `scenes (${report.model_id}). A tag is learned from at least ${report.learn_min_scenes} scenes ` +
          `and proposed only when its cross-validated precision reaches ${num(report.learn_precision)}.`),
        h(Table, { size: "sm", striped: true, className: "ss-learned-table" },
          h("thead", null, h("tr", null,
            ["tag", "scenes", "CV precision", "CV recall", "threshold", "status", "why"].map(
              (c) => h("th", { key: c }, c)))),
          h("tbody", null, rows.map((r) => h("tr", { key: r.tag_id, "data-tag": r.name },
            h("td", null, r.name), h("td", null, r.support), h("td", null, num(r.cv_precision)),
            h("td", null, num(r.cv_recall)), h("td", null, num(r.threshold)),
            h("td", null, h(Badge, { variant: r.active ? "success" : "secondary" },
              r.active ? "active" : "inactive")),
            h("td", { className: "text-muted" }, r.reason || "")))))));
  }

  function ReportsPage() {
    const [data, setData] = useState(null);
    const [error, setError] = useState(null);
    const [loading, setLoading] = useState(true);
    const load = () => {
      setLoading(true);
      fetchReports().then((d) => { setData(d); setError(null); })
        .catch((e) => setError(String(e.message || e)))
        .finally(() => setLoading(false));
    };
    useEffect(load, []);
    return h("div", { className: "stash-sense-reports container-fluid" },
      h("h2", null, "Stash Sense reports ",
        h(Button, { size: "sm", variant: "secondary", onClick: load, disabled: loading }, "Refresh")),
      error ? h(Alert, { variant: "danger", className: "ss-error" }, error) : null,
      loading ? h(Spinner, { animation: "border", role: "status" }) : null,
      data ? h(QualityReport, { report: data.quality }) : null,
      data ? h(LearnedReport, { report: data.learned }) : null);
  }

  window.StashSenseReports = { ReportsPage, QualityReport, LearnedReport, ROUTE };

  if (api.register && api.register.route) api.register.route(ROUTE, ReportsPage);

  api.patch.before("SettingsToolsSection", function (props, ...rest) {
    const Link = RouterDOM.Link;
    const link = Link
      ? h(Link, { to: ROUTE, key: "stash-sense-reports" }, h(Button, { variant: "secondary" }, "Stash Sense reports"))
      : h("a", { href: ROUTE, key: "stash-sense-reports" }, "Stash Sense reports");
    const children = h(React.Fragment, null, props.children,
      h("div", { className: "setting-section ss-reports-link" }, link));
    return [Object.assign({}, props, { children }), ...rest];
  });
})();
