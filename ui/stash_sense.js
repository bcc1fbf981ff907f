/*
 * Stash Sense: the "Stash Sense" tab on every scene page.
 *
 * Shows what the plugin found for the scene (grouped by category, with confidence and the time
 * ranges where it was seen; a range seeks the player), lets the user accept or reject each
 * suggestion or a whole category, and queues an analysis of the scene ("Analyze now"), polling the
 * job and refreshing when it ends. Errors are shown in the tab, not only in Stash's log.
 *
 * Why it looks like this:
 * - Stash concatenates every plugin's JS into one classic script: no modules, no JSX, no build
 *   step. Everything is React.createElement on window.PluginApi's React and react-bootstrap.
 * - All data comes from the plugin's own operations (runPluginOperation, modes status / accept /
 *   reject / accept_category / reject_category); accepting goes through the same writer the batch
 *   task uses, on the Python side.
 * - Analyze now calls runPluginTask itself with args_map: StashService.mutateRunPluginTask sends
 *   a variable its document does not declare, so the scene id would be silently dropped.
 * - /graphql is resolved against <base href> so Stash behind a reverse-proxy prefix works.
 * - The tab pane mounts on first open (mountOnEnter): each status call starts a Python process,
 *   so nothing runs on scene pages where the tab is never opened.
 */
(function () {
  "use strict";

  const api = window.PluginApi;
  if (!api || !api.React || !api.libraries || !api.libraries.Bootstrap) {
    console.error("Stash Sense: window.PluginApi is missing; the scene tab is not installed");
    return;
  }

  const React = api.React;
  const h = React.createElement;
  const { useState, useEffect, useCallback, useRef } = React;
  const { Alert, Badge, Button, ButtonGroup, Card, Nav, ProgressBar, Spinner, Tab } =
    api.libraries.Bootstrap;

  const PLUGIN_ID = "stash_sense";
  const TAB_KEY = "stash-sense-panel";
  const DEFAULT_TASK = "Tag one scene";
  const POLL_MS = 1500;
  const JOB_DONE = ["FINISHED", "CANCELLED", "FAILED"];
  // scene id -> job id of a queued analysis; survives the tab being unmounted and mounted again
  const pendingJobs = new Map();

  const OPERATION_DOC =
    "mutation StashSenseOperation($plugin_id: ID!, $args: Map) {" +
    " runPluginOperation(plugin_id: $plugin_id, args: $args) }";
  const ANALYZE_DOC =
    "mutation StashSenseAnalyze($plugin_id: ID!, $task_name: String, $description: String," +
    " $args_map: Map) { runPluginTask(plugin_id: $plugin_id, task_name: $task_name," +
    " description: $description, args_map: $args_map) }";
  const JOB_DOC =
    "query StashSenseJob($id: ID!) { findJob(input: {id: $id}) { id status progress error } }";

  // ------------------------------------------------------------------ GraphQL

  function graphqlUrl() {
    const base = document.querySelector("base[href]");
    return new URL("graphql", base ? base.href : window.location.origin + "/").toString();
  }

  async function gql(query, variables) {
    let response;
    try {
      response = await fetch(graphqlUrl(), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ query, variables }),
      });
    } catch (err) {
      throw new Error("Stash did not answer (" + err.message + ")");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (body && body.errors && body.errors.length) {
      throw new Error(body.errors.map((e) => e.message).join("; "));
    }
    if (!response.ok || !body || !body.data) {
      throw new Error("Stash answered HTTP " + response.status + " " + response.statusText);
    }
    return body.data;
  }

  /** One plugin operation; returns the status payload the plugin printed as its output. */
  async function runOperation(args) {
    const data = await gql(OPERATION_DOC, { plugin_id: PLUGIN_ID, args });
    const out = data.runPluginOperation;
    if (!out || typeof out !== "object" || !Array.isArray(out.suggestions)) {
      throw new Error("unexpected answer from the plugin: " + JSON.stringify(out));
    }
    return out;
  }

  async function queueAnalysis(sceneId, taskName, title) {
    const data = await gql(ANALYZE_DOC, {
      plugin_id: PLUGIN_ID,
      task_name: taskName,
      description: "Stash Sense: analyze scene " + (title || sceneId),
      args_map: { mode: "tag_scene", scene_id: sceneId },
    });
    return data.runPluginTask;
  }

  async function fetchJob(id) {
    return (await gql(JOB_DOC, { id })).findJob;
  }

  /** Stash's Apollo cache still holds the scene as it was; refetch what is on screen. */
  function refreshStashQueries() {
    try {
      const client = api.utils.StashService.getClient();
      client.refetchQueries({ include: "active" });
    } catch (err) {
      console.warn("Stash Sense: could not refresh Stash's cached queries", err);
    }
  }

  // ------------------------------------------------------------------ helpers

  function sceneIdOf(props) {
    if (props && props.scene && props.scene.id) return String(props.scene.id);
    const m = window.location.pathname.match(/\/scenes\/(\d+)/);
    return m ? m[1] : null;
  }

  /** Seek the player: the page's setTimestamp, else the video.js player, else a <video>. */
  function makeSeek(setTimestamp) {
    return function seek(seconds) {
      if (typeof setTimestamp === "function") return setTimestamp(seconds);
      const iu = api.utils && api.utils.InteractiveUtils;
      const player = iu && typeof iu.getPlayer === "function" ? iu.getPlayer() : null;
      if (player && typeof player.currentTime === "function") return player.currentTime(seconds);
      const video = document.querySelector("video");
      if (video) video.currentTime = seconds;
    };
  }

  function formatTime(seconds) {
    const s = Math.max(0, Math.round(seconds));
    const pad = (n) => String(n).padStart(2, "0");
    const hh = Math.floor(s / 3600);
    const mm = Math.floor((s % 3600) / 60);
    return (hh ? hh + ":" + pad(mm) : String(mm)) + ":" + pad(s % 60);
  }

  function percent(x) {
    return Math.round((Number(x) || 0) * 100) + "%";
  }

  function capitalize(text) {
    const t = String(text);
    return t.charAt(0).toUpperCase() + t.slice(1);
  }

  function titleCase(text) {
    return capitalize(String(text || "other").replace(/[_-]+/g, " "));
  }

  /** [[category, suggestions sorted by confidence]] sorted by category name. */
  function groupByCategory(suggestions) {
    const groups = new Map();
    for (const s of suggestions) {
      const key = s.category || s.kind || "other";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(s);
    }
    for (const list of groups.values()) list.sort((a, b) => b.confidence - a.confidence);
    return Array.from(groups.entries()).sort((a, b) => a[0].localeCompare(b[0]));
  }

  // ------------------------------------------------------------------ state

  /** Status, job polling and the actions of one scene's tab. */
  function useSceneSense(sceneId, sceneTitle) {
    const [data, setData] = useState(null);
    const [loadError, setLoadError] = useState(null);   // cleared by the next successful load
    const [error, setError] = useState(null);           // an action or the job failed
    const [busy, setBusy] = useState(null);
    const [jobId, setJobId] = useState(() => pendingJobs.get(sceneId) || null);
    const [job, setJob] = useState(null);
    const alive = useRef(true);
    useEffect(() => () => { alive.current = false; }, []);

    const load = useCallback(async () => {
      try {
        const out = await runOperation({ mode: "status", scene_id: sceneId });
        if (alive.current) { setData(out); setLoadError(null); }
      } catch (err) {
        if (alive.current) setLoadError("Could not load the Stash Sense status: " + err.message);
      }
    }, [sceneId]);

    useEffect(() => { load(); }, [load]);
    usePollJob(jobId, sceneId, setJob, (finished) => {
      setJobId(null);
      if (finished.status === "FAILED") {
        setError("The analysis failed: " + (finished.error || "see Stash's log"));
      } else if (finished.status === "CANCELLED") {
        setError("The analysis was cancelled.");
      }
      refreshStashQueries();
      load();
    }, alive);

    const act = useCallback(async (key, args) => {
      setBusy(key);
      try {
        const out = await runOperation(Object.assign({ scene_id: sceneId }, args));
        if (alive.current) { setData(out); setError(null); }
        refreshStashQueries();
      } catch (err) {
        if (alive.current) setError("Stash Sense could not " + args.mode.replace("_", " ") + ": " + err.message);
      } finally {
        if (alive.current) setBusy(null);
      }
    }, [sceneId]);

    const analyze = useCallback(async () => {
      setBusy("analyze");
      try {
        const taskName = (data && data.task_name) || DEFAULT_TASK;
        const id = await queueAnalysis(sceneId, taskName, sceneTitle);
        pendingJobs.set(sceneId, id);
        if (alive.current) { setJob({ id, status: "READY", progress: null }); setJobId(id); setError(null); }
      } catch (err) {
        if (alive.current) setError("Could not queue the analysis: " + err.message);
      } finally {
        if (alive.current) setBusy(null);
      }
    }, [sceneId, sceneTitle, data]);

    const shownJob = jobId ? (job && job.id === jobId ? job : { id: jobId, status: "READY" }) : null;
    return { data, loadError, error, busy, job: shownJob, act, analyze, reload: load,
      dismissError: () => setError(null) };
  }

  /** Poll findJob every POLL_MS until the job ends (or is gone from Stash's job list). */
  function usePollJob(jobId, sceneId, setJob, onDone, alive) {
    const doneRef = useRef(onDone);
    doneRef.current = onDone;
    useEffect(() => {
      if (!jobId) return undefined;
      let timer = null;
      let stopped = false;
      let failures = 0;
      async function tick() {
        let current;
        try {
          // Stash forgets finished jobs after a while: a job that is gone has ended.
          current = (await fetchJob(jobId)) || { id: jobId, status: "FINISHED" };
          failures = 0;
        } catch (err) {
          failures += 1;       // a blip (Stash restarting, network) is retried a few times
          current = failures < 4 ? null
            : { id: jobId, status: "FAILED", error: "could not follow the job: " + err.message };
        }
        if (stopped || !alive.current) return;
        if (current) setJob(current);
        if (current && JOB_DONE.includes(current.status)) {
          pendingJobs.delete(sceneId);
          doneRef.current(current);
        } else {
          timer = setTimeout(tick, POLL_MS);
        }
      }
      tick();
      return () => { stopped = true; clearTimeout(timer); };
    }, [jobId, sceneId]);
  }

  // ------------------------------------------------------------------ view

  function StateBadge({ data, job }) {
    if (job) {
      const running = job.status === "RUNNING" || job.status === "STOPPING";
      return h(Badge, { variant: "info", className: "ss-state" }, running ? "Analyzing" : "Queued");
    }
    if (!data) return null;
    const look = {
      analyzed: ["success", "Analyzed"],
      never: ["secondary", "Not analyzed"],
      error: ["danger", "Error"],
    }[data.state] || ["secondary", data.state];
    return h(Badge, { variant: look[0], className: "ss-state" }, look[1]);
  }

  function Header({ sense }) {
    const { data, job, busy } = sense;
    const working = !!job || busy === "analyze";
    return h("div", { className: "ss-header d-flex align-items-center flex-wrap mb-2" },
      h("h5", { className: "mb-0 mr-2" }, "Stash Sense"),
      h(StateBadge, { data, job }),
      h("div", { className: "ml-auto" },
        h(Button, { variant: "secondary", size: "sm", className: "mr-2", title: "Reload",
          disabled: !!busy, onClick: sense.reload }, "Refresh"),
        h(Button, { variant: "primary", size: "sm", className: "ss-analyze", disabled: working,
          onClick: sense.analyze }, working ? "Analyzing…" : "Analyze now")));
  }

  function JobProgress({ job }) {
    if (!job) return null;
    const waiting = job.status === "READY";
    const value = Math.round((job.progress || 0) * 100);
    const text = waiting
      ? "Queued: waiting for other Stash jobs to finish"
      : "Analyzing this scene" + (job.progress != null ? " (" + value + "%)" : "");
    return h("div", { className: "ss-job mb-3" },
      h("div", { className: "small text-muted mb-1" }, text),
      h(ProgressBar, { now: waiting ? 100 : value, animated: true, striped: true,
        variant: waiting ? "secondary" : "info" }));
  }

  function Summary({ data }) {
    if (data.state === "never") {
      return h("p", { className: "ss-summary text-muted" },
        "This scene has not been analyzed yet. Analyze now queues it in Stash's task queue.");
    }
    const parts = [];
    const when = data.analyzed_at ? new Date(data.analyzed_at * 1000).toLocaleString() : null;
    if (when) parts.push((data.state === "error" ? "Last attempt " : "Analyzed ") + when);
    if (data.models && data.models.length) parts.push("with " + data.models.join(", "));
    return h("div", { className: "ss-summary mb-2" },
      data.state === "error"
        ? h(Alert, { variant: "danger", className: "ss-error-state" },
          h("strong", null, "The last analysis failed. "), data.reason || "See Stash's log.")
        : null,
      parts.length ? h("div", { className: "small text-muted ss-models" }, parts.join(" ")) : null,
      data.review_mode
        ? h("div", { className: "small text-muted" },
          "Review mode is on: nothing is written until you accept it here.")
        : null);
  }

  /** What the last decision could not do (e.g. the scene already has another studio). */
  function Notes({ notes }) {
    if (!notes || !notes.length) return null;
    return h(Alert, { variant: "warning", className: "ss-notes" },
      notes.length === 1 ? capitalize(notes[0]) : h("ul", { className: "mb-0 pl-3" },
        notes.map((n, i) => h("li", { key: i }, capitalize(n)))));
  }

  function Segments({ segments, seek }) {
    if (!segments || !segments.length) return null;
    return h("div", { className: "ss-segments" }, segments.map((seg, i) =>
      h(Button, { key: i, variant: "link", size: "sm", className: "ss-segment p-0 mr-2",
        title: "Seek to " + formatTime(seg.start) + " (score " + percent(seg.score) + ")",
        onClick: () => seek(seg.start) },
      formatTime(seg.start) + "–" + formatTime(seg.end))));
  }

  function StatusOrActions({ s, sense }) {
    const busy = sense.busy === "s:" + s.id;
    const accept = () => sense.act("s:" + s.id, { mode: "accept", suggestion_id: s.id });
    const reject = () => sense.act("s:" + s.id, { mode: "reject", suggestion_id: s.id });
    if (s.status === "accepted" || s.status === "rejected") {
      const accepted = s.status === "accepted";    // a decision can be turned around
      return h("div", { className: "ss-decided d-flex flex-column align-items-end" },
        h(Badge, { variant: accepted ? "success" : "secondary", className: "ss-status" },
          titleCase(s.status)),
        busy ? h(Spinner, { animation: "border", size: "sm" }) : h(Button, {
          variant: "link", size: "sm", disabled: !!sense.busy,
          className: "ss-change p-0 " + (accepted ? "ss-reject" : "ss-accept"),
          onClick: accepted ? reject : accept }, accepted ? "Reject instead" : "Accept instead"));
    }
    const buttons = [];
    if (s.status === "applied") {
      buttons.push(h(Badge, { key: "b", variant: "success", className: "ss-status mr-2" }, "Applied"));
    } else {
      buttons.push(h(Button, { key: "a", variant: "success", size: "sm", disabled: !!sense.busy,
        className: "ss-accept", onClick: accept }, "Accept"));
    }
    buttons.push(h(Button, { key: "r", variant: "secondary", size: "sm", disabled: !!sense.busy,
      className: "ss-reject", title: s.status === "applied" ? "Remove it and remember" : undefined,
      onClick: reject }, "Reject"));
    return h(ButtonGroup, { size: "sm", className: "ss-actions" },
      busy ? h(Spinner, { animation: "border", size: "sm", className: "mr-2" }) : null, buttons);
  }

  /** Key of the feedback map: tags by lower-cased name, studios and performers by Stash id. */
  function feedbackKey(s) {
    if (s.feedback_key) return s.feedback_key;
    return s.kind + ":" + (s.kind === "tag" ? String(s.name).toLowerCase() : s.target_id);
  }

  function feedbackText(fb) {
    const parts = [];
    if (fb.accepted) parts.push("accepted " + fb.accepted + "×");
    if (fb.rejected) parts.push("rejected " + fb.rejected + "×");
    return parts.length ? "Your earlier decisions: " + parts.join(", ") + ". " : "";
  }

  function SuggestionRow({ s, sense, seek, feedback }) {
    const fb = feedback[feedbackKey(s)];
    return h("li", {
      className: "ss-suggestion list-group-item d-flex align-items-start ss-status-" + s.status,
      "data-suggestion-id": s.id,
    },
    h("div", { className: "ss-main flex-grow-1" },
      h("div", { className: "ss-line" },
        h("span", { className: "ss-name" }, s.name), " ",
        s.kind !== "tag" ? h(Badge, { variant: "info" }, s.kind) : null, s.kind !== "tag" ? " " : null,
        h("span", { className: "ss-confidence", title: "Confidence" }, percent(s.confidence)), " ",
        h("span", { className: "ss-analyzer small text-muted" }, s.analyzer)),
      h("div", { className: "ss-bar", "aria-hidden": "true" },
        h("div", { style: { width: percent(s.confidence) } })),
      h(Segments, { segments: s.segments, seek }),
      fb || s.threshold_raised_to != null
        ? h("div", { className: "small text-muted" },
          fb ? feedbackText(fb) : "",
          s.threshold_raised_to != null
            ? "Its threshold was raised to " + percent(s.threshold_raised_to) + "." : "")
        : null),
    h(StatusOrActions, { s, sense }));
  }

  function CategoryCard({ category, items, sense, seek, feedback }) {
    const open = items.filter((s) => s.status === "open").length;
    const undecided = open + items.filter((s) => s.status === "applied").length;
    const key = "c:" + category;
    return h(Card, { className: "ss-category mb-3", "data-category": category },
      h(Card.Header, { className: "d-flex align-items-center py-2" },
        h("span", { className: "ss-category-name" }, titleCase(category)),
        h(Badge, { variant: "secondary", className: "ml-2 ss-count" },
          open ? open + " to review" : String(items.length)),
        undecided
          ? h(ButtonGroup, { size: "sm", className: "ml-auto" },
            open ? h(Button, { variant: "outline-success", disabled: !!sense.busy,
              className: "ss-accept-all", title: "Accept every open suggestion of " + category,
              onClick: () => sense.act(key, { mode: "accept_category", category }) }, "Accept all") : null,
            h(Button, { variant: "outline-danger", disabled: !!sense.busy, className: "ss-reject-all",
              title: "Reject every suggestion of " + category + " not decided yet",
              onClick: () => sense.act(key, { mode: "reject_category", category }) }, "Reject all"))
          : null),
      h("ul", { className: "list-group list-group-flush" }, items.map((s) =>
        h(SuggestionRow, { key: s.id, s, sense, seek, feedback }))));
  }

  function Suggestions({ data, sense, seek }) {
    if (data.state !== "analyzed" && !data.suggestions.length) return null;
    if (!data.suggestions.length) {
      return h("p", { className: "text-muted" }, "Nothing was found above the thresholds.");
    }
    const feedback = data.feedback || {};
    return h("div", { className: "ss-categories" }, groupByCategory(data.suggestions).map(
      ([category, items]) => h(CategoryCard, { key: category, category, items, sense, seek, feedback })));
  }

  function SenseTab(props) {
    const sceneId = sceneIdOf(props);
    const title = props.scene && props.scene.title;
    const sense = useSceneSense(sceneId, title);
    const seek = makeSeek(props.setTimestamp);
    const loading = !sense.data && !sense.loadError;
    return h("div", { className: "stash-sense-tab", "data-scene-id": sceneId },
      h(Header, { sense }),
      sense.loadError ? h(Alert, { variant: "danger", className: "ss-error" }, sense.loadError) : null,
      sense.error
        ? h(Alert, { variant: "danger", className: "ss-error", dismissible: true,
          onClose: sense.dismissError }, sense.error)
        : null,
      h(JobProgress, { job: sense.job }),
      loading ? h(Spinner, { animation: "border", role: "status", className: "ss-loading" }) : null,
      sense.data ? h(Notes, { notes: sense.data.notes }) : null,
      sense.data ? h(Summary, { data: sense.data }) : null,
      sense.data ? h(Suggestions, { data: sense.data, sense, seek }) : null,
      // sections other Stash Sense scripts add (ui/search.js: Similar scenes)
      ...(window.StashSenseSceneSections || []).map((Section, i) =>
        h(Section, { key: "section-" + i, sceneId, seek })));
  }

  // ------------------------------------------------------------------ patches

  function appendChild(props, extra) {
    return Object.assign({}, props, { children: h(React.Fragment, null, props.children, extra) });
  }

  api.patch.before("ScenePage.Tabs", function (props, ...rest) {
    const tab = h(Nav.Item, { key: TAB_KEY },
      h(Nav.Link, { eventKey: TAB_KEY, className: "stash-sense-tab-link" }, "Stash Sense"));
    return [appendChild(props, tab), ...rest];
  });

  api.patch.before("ScenePage.TabContent", function (props, ...rest) {
    const sceneId = sceneIdOf(props);
    const pane = h(Tab.Pane, { key: TAB_KEY, eventKey: TAB_KEY, mountOnEnter: true },
      sceneId ? h(SenseTab, { key: sceneId, scene: props.scene, setTimestamp: props.setTimestamp }) : null);
    return [appendChild(props, pane), ...rest];
  });
})();
