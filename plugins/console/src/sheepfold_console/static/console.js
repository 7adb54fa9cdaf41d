"use strict";
// The operator console: renders snapshots of /-/console/api/snapshot, pushed over the realtime WebSocket
// (channel console:<instance>) when the server offers one, else polled. Keeps the last 15 minutes of every
// figure it has seen as sparklines. Plain DOM, no framework, no build step; every text from the server is
// set with textContent (job arguments are anyone's strings).
(() => {
  const API = "/-/console/api";
  const WINDOW_MS = 15 * 60 * 1000;
  // Measured by the kernel on every instance; the others only where their plugin runs (shown once seen).
  const ALWAYS = new Set(["requests_per_second", "error_rate", "latency_p95_ms", "event_loop_lag_ms"]);
  const VITALS = [
    ["requests_per_second", "Requests/s", (v) => v.toFixed(1)],
    ["error_rate", "Errors", (v) => `${(v * 100).toFixed(1)} %`],
    ["latency_p95_ms", "p95 latency", (v) => `${v.toFixed(1)} ms`],
    ["redis_latency_ms", "Redis latency", (v) => `${v.toFixed(2)} ms`],
    ["database_pool_use_percent", "DB pool use", (v) => `${v.toFixed(0)} %`],
    ["websockets", "WebSockets", (v) => v.toFixed(0)],
    ["event_loop_lag_ms", "Loop lag", (v) => `${v.toFixed(1)} ms`],
  ];

  const history = new Map(); // series key -> [[t ms, value], ...], oldest first
  const lastCounter = new Map(); // counter key -> [t ms, value]: rates come from two readings
  const pending = new Map(); // job id -> {action, fn, status}: the console's own actions
  let interval = 2000;
  let transport = "polling"; // or "websocket"
  let lastUpdate = 0;
  let pollTimer = null;
  let socket = null;
  let socketRetry = 2000;
  let failedSignature = null;
  let lost = null;

  const $ = (id) => document.getElementById(id);

  function h(tag, attributes = {}, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") element.className = value;
      else if (name.startsWith("data-")) element.setAttribute(name, String(value));
      else if (name === "onclick") element.addEventListener("click", value);
      else element.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  const clock = (seconds) => (seconds ? new Date(seconds * 1000).toLocaleTimeString() : "never");

  function duration(seconds) {
    const s = Math.floor(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }

  function remember(key, t, value) {
    if (typeof value !== "number" || !Number.isFinite(value)) return;
    let series = history.get(key);
    if (!series) history.set(key, (series = []));
    if (series.length && series[series.length - 1][0] >= t) return; // the same snapshot twice
    series.push([t, value]);
    while (series.length && series[0][0] < t - WINDOW_MS) series.shift();
  }

  function rate(key, t, value) {
    // Per second between this reading of a counter and the last; null on the first one or after a restart.
    const before = lastCounter.get(key);
    lastCounter.set(key, [t, value]);
    if (!before || t <= before[0] || value < before[1]) return null;
    return (value - before[1]) / ((t - before[0]) / 1000);
  }

  function sparkline(key, lines = []) {
    const series = history.get(key) || [];
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", "0 0 100 24");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("aria-hidden", "true");
    if (series.length === 0) return svg;
    // The x axis spans what was seen, up to the window: a chart fills as the page stays open.
    const t1 = series[series.length - 1][0];
    const t0 = Math.min(series[0][0], t1 - 1000 * Math.max(interval / 1000, 1));
    const span = t1 - t0;
    const top = Math.max(...series.map(([, v]) => v), ...lines.map(([v]) => v), 1e-9);
    const y = (v) => (22 - (v / top) * 20).toFixed(2);
    const x = (t) => (((t - t0) / span) * 100).toFixed(2);
    for (const [value, kind] of lines) {
      const line = document.createElementNS(svg.namespaceURI, "line");
      line.setAttribute("class", kind);
      line.setAttribute("x1", "0");
      line.setAttribute("x2", "100");
      line.setAttribute("y1", y(value));
      line.setAttribute("y2", y(value));
      svg.append(line);
    }
    const polyline = document.createElementNS(svg.namespaceURI, "polyline");
    const points = series.length === 1 ? [[t0, series[0][1]], series[0]] : series;
    polyline.setAttribute("points", points.map(([t, v]) => `${x(t)},${y(v)}`).join(" "));
    svg.append(polyline);
    return svg;
  }

  function figure(label, text, key, { lines = [], level = "" } = {}) {
    return h("div", {}, h("dt", {}, label), h("dd", {}, h("span", { class: `value ${level}` }, text), sparkline(key, lines)));
  }

  // -- the fleet --------------------------------------------------------------------------------------------

  function renderInstance(record, t, lines, unreachable) {
    const phases = Object.fromEntries(
      Object.entries(record.capabilities).map(([name, c]) => [`data-phase-${name}`, c.phase]),
    );
    const capabilities = h(
      "table",
      { class: "capabilities" },
      h("thead", {}, h("tr", {}, ["Capability", "Active", "Phase", "Last switch"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        Object.entries(record.capabilities).map(([name, c]) =>
          h(
            "tr",
            { "data-capability": name },
            h("th", { scope: "row" }, name),
            h("td", {}, c.active),
            h("td", {}, h("span", { class: `phase phase-${c.phase}` }, c.phase)),
            h("td", {}, clock(c.last_switch_at)),
          ),
        ),
      ),
    );
    const figures = h("dl", { class: "figures" });
    for (const [name, label, format] of VITALS) {
      const value = record.vitals[name];
      const key = `vital:${record.instance}:${name}`;
      if (!unreachable) remember(key, t, value);
      if ((value === null || value === undefined) && !ALWAYS.has(name) && !history.has(key)) continue;
      let level = "";
      let figureLines = [];
      if (name === "database_pool_use_percent") {
        figureLines = [
          [lines.database_pool_warning_percent, "warn"],
          [lines.database_pool_error_percent, "bad"],
        ];
        if (value >= lines.database_pool_error_percent) level = "bad";
        else if (value >= lines.database_pool_warning_percent) level = "warn";
      }
      if (name === "error_rate" && value > 0) level = value >= 0.05 ? "bad" : "warn";
      figures.append(figure(label, value === null || value === undefined ? "–" : format(value), key, { lines: figureLines, level }));
    }
    const meta = unreachable
      ? `${record.address ? "did not answer" : "has no address to be asked at (a worker?)"}; last heard ${clock(record.sent_at)}`
      : `${record.version} · up ${duration(record.uptime_seconds)} · ${record.plugins.length} plugins`;
    return h(
      "article",
      { class: unreachable ? "instance unreachable" : "instance", "data-instance": record.instance, ...phases },
      h("header", {}, h("h3", {}, record.instance), h("p", { class: "meta" }, meta)),
      h("div", { class: "scroll" }, capabilities),
      figures,
      h("details", {}, h("summary", {}, "Plugins"), h("p", { class: "quiet" }, record.plugins.join(", "))),
    );
  }

  function renderFleet(snapshot, t) {
    const fleet = snapshot.fleet;
    const count = fleet.instances.length;
    const plural = count === 1 ? "instance" : "instances";
    $("fleet-summary").textContent = fleet.shared
      ? `${count} live ${plural}, from their heartbeats in the shared state.`
      : `The shared state does not answer: ${count} ${plural} answered directly` +
        (fleet.unreachable.length ? `, ${fleet.unreachable.length} did not.` : ".");
    $("fleet").dataset.shared = String(fleet.shared);
    $("instances").replaceChildren(...fleet.instances.map((record) => renderInstance(record, t, snapshot.lines, false)));
    $("unreachable").replaceChildren(
      ...fleet.unreachable.map((record) => renderInstance(record, t, snapshot.lines, true)),
    );
  }

  // -- jobs ---------------------------------------------------------------------------------------------------

  const seconds = (value) => (value === null || value === undefined ? "–" : `${value.toFixed(value < 10 ? 2 : 0)} s`);

  function renderQueues(jobs, t) {
    $("jobs-error").hidden = !jobs.error;
    $("jobs-error").textContent = jobs.error ? `Job figures unavailable: ${jobs.error}` : "";
    const rows = Object.entries(jobs.queues).map(([name, q]) => {
      remember(`queue:${name}:waiting`, t, q.waiting);
      const completed = rate(`queue:${name}:completed`, t, q.completed);
      const failed = rate(`queue:${name}:failed`, t, q.failed);
      remember(`queue:${name}:completed`, t, completed);
      remember(`queue:${name}:failed`, t, failed);
      const cell = (text, key) =>
        h("td", { class: "number" }, key ? h("span", { class: "with-chart" }, text, sparkline(key)) : text);
      return h(
        "tr",
        { "data-queue": name },
        h("th", { scope: "row" }, name),
        cell(q.waiting, `queue:${name}:waiting`),
        cell(q.active),
        cell(q.delayed),
        cell(completed === null ? "–" : completed.toFixed(2), `queue:${name}:completed`),
        cell(failed === null ? "–" : failed.toFixed(2), `queue:${name}:failed`),
        cell(seconds(q.queue_time_p50)),
        cell(seconds(q.queue_time_p95)),
      );
    });
    $("queues").tBodies[0].replaceChildren(...rows);
  }

  function renderFailed(failed) {
    const signature = JSON.stringify(failed.map((entry) => [entry.job_id, entry.failed_at]));
    if (signature === failedSignature) return; // keep the buttons (and keyboard focus) as they are
    failedSignature = signature;
    $("failed-empty").hidden = failed.length > 0;
    $("failed").hidden = failed.length === 0;
    const rows = failed.map((entry) => {
      const kwargs = Object.entries(entry.kwargs).map(([key, value]) => `${key}=${value}`);
      const buttons = h(
        "td",
        { class: "buttons" },
        h("button", { type: "button", "data-action": "retry", onclick: () => act("retry", entry) }, "Retry"),
        h("button", { type: "button", "data-action": "discard", onclick: () => act("discard", entry) }, "Discard"),
      );
      return h(
        "tr",
        { "data-job": entry.job_id },
        h("td", {}, h("code", {}, entry.job_id)),
        h("td", {}, entry.function),
        h("td", {}, entry.queue),
        h("td", { class: "number" }, entry.tries),
        h("td", { class: "error" }, entry.error),
        h("td", { class: "arguments" }, [...entry.args, ...kwargs].join(", ") || "–"),
        h("td", {}, clock(entry.failed_at)),
        buttons,
      );
    });
    $("failed").tBodies[0].replaceChildren(...rows);
  }

  function renderActions() {
    const items = [...pending.entries()].reverse().map(([jobId, action]) =>
      h(
        "li",
        { "data-job": jobId, "data-action": action.action, "data-status": action.status },
        `${action.action === "retry" ? "Retried" : "Discarded"} ${action.fn} (`,
        h("code", {}, jobId),
        `): ${action.status}`,
      ),
    );
    $("actions").replaceChildren(...(items.length ? items : [h("li", { class: "quiet" }, "None yet.")]));
  }

  async function act(action, entry) {
    for (const button of document.querySelectorAll(`tr[data-job="${CSS.escape(entry.job_id)}"] button`)) {
      button.disabled = true;
    }
    let status;
    try {
      const response = await fetch(`${API}/jobs/failed/${encodeURIComponent(entry.job_id)}/${action}`, {
        method: "POST",
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      status = response.ok ? body.status : `refused: ${body.detail || response.status}`;
    } catch (error) {
      status = "refused: the server did not answer";
    }
    pending.set(entry.job_id, { action, fn: entry.function, status });
    failedSignature = null;
    renderActions();
    refreshSoon();
  }

  async function followActions() {
    // A retried job is followed until it has an outcome: queued, in progress, then complete (or failed).
    const open = [...pending.entries()].filter(
      ([, a]) => a.action === "retry" && ["queued", "deferred", "in_progress"].includes(a.status),
    );
    for (const [jobId, action] of open) {
      try {
        const response = await fetch(`${API}/jobs/${encodeURIComponent(jobId)}`, { credentials: "same-origin" });
        if (response.ok) action.status = (await response.json()).status;
      } catch (error) {
        // the next update asks again
      }
    }
    if (open.length) renderActions();
  }

  // -- statistics -----------------------------------------------------------------------------------------------

  function renderStatistics(snapshot, t) {
    $("statistics-instance").textContent = snapshot.instance;
    const names = Object.keys(snapshot.statistics).sort();
    const sections = names.map((name) => {
      const section = snapshot.statistics[name];
      if (section.error) {
        return h("article", { class: "section", "data-section": name }, h("h3", {}, name), h("p", { class: "problem" }, section.error));
      }
      const figures = h("dl", { class: "figures" });
      for (const [counter, value] of Object.entries(section.counters)) {
        const key = `counter:${name}:${counter}`;
        const perSecond = rate(key, t, value);
        remember(key, t, perSecond);
        figures.append(figure(`${counter} /s`, perSecond === null ? "–" : perSecond.toFixed(2), key));
      }
      for (const [gauge, value] of Object.entries(section.gauges)) {
        const key = `gauge:${name}:${gauge}`;
        remember(key, t, value);
        figures.append(figure(gauge, Number.isInteger(value) ? value : Number(value).toFixed(2), key));
      }
      const tables = Object.entries(section.tables).map(([table, rows]) => {
        const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
        return h(
          "div",
          { class: "scroll" },
          h(
            "table",
            { "data-table": table },
            h("caption", {}, table),
            h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col" }, column)))),
            h(
              "tbody",
              {},
              rows.length
                ? rows.map((row) => h("tr", {}, columns.map((column) => h("td", {}, row[column] ?? ""))))
                : h("tr", {}, h("td", { colspan: Math.max(columns.length, 1), class: "quiet" }, "No rows.")),
            ),
          ),
        );
      });
      return h("article", { class: "section", "data-section": name }, h("h3", {}, name), figures, tables);
    });
    $("sections").replaceChildren(
      ...(sections.length ? sections : [h("p", { class: "quiet" }, "No plugin reports statistics on this instance.")]),
    );
  }

  // -- keeping up to date ---------------------------------------------------------------------------------------

  function update(snapshot) {
    const t = snapshot.at * 1000;
    interval = Math.max(200, (snapshot.live && snapshot.live.interval ? snapshot.live.interval : 2) * 1000);
    renderFleet(snapshot, t);
    renderQueues(snapshot.jobs, t);
    renderFailed(snapshot.jobs.failed);
    renderStatistics(snapshot, t);
    lastUpdate = Date.now();
    lost = null;
    const how = transport === "websocket" ? "Live over WebSocket" : `Polling every ${interval / 1000} s`;
    setConnection(transport === "websocket" ? "live" : "polling", `${how} · updated ${new Date().toLocaleTimeString()}`);
    followActions();
  }

  function setConnection(state, text) {
    document.body.dataset.connection = state;
    document.body.dataset.transport = transport;
    $("connection").textContent = text;
  }

  function connectionLost(reason) {
    lost = lost || new Date();
    const since = lastUpdate ? `no update since ${new Date(lastUpdate).toLocaleTimeString()}` : "no update yet";
    setConnection("lost", `Connection lost (${reason}): ${since}. Retrying…`);
  }

  async function poll() {
    try {
      const response = await fetch(`${API}/snapshot`, { credentials: "same-origin", cache: "no-store" });
      if (response.status === 401) {
        setConnection("lost", "Signed out: sign in again.");
        location.assign(`/console/sign-in?next=${encodeURIComponent("/-/console")}`);
        return false;
      }
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      update(await response.json());
      return true;
    } catch (error) {
      connectionLost(error.message && error.message.startsWith("the server") ? error.message : "the server does not answer");
      return false;
    }
  }

  function schedulePoll(delay) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(async () => {
      if (transport === "websocket") return;
      await poll();
      schedulePoll(interval);
    }, delay);
  }

  function refreshSoon() {
    if (transport === "websocket") poll();
    else schedulePoll(0);
  }

  function listen(path) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + path);
    let channel = null;
    const handle = (frame) => {
      if (frame.type === "welcome") {
        channel = `console:${frame.instance}`;
        socket.send(JSON.stringify({ type: "subscribe", channel }));
      } else if (frame.type === "subscribed" && frame.channel === channel) {
        transport = "websocket";
        socketRetry = 2000;
        clearTimeout(pollTimer);
      } else if (frame.type === "heartbeat") {
        socket.send(JSON.stringify({ type: "pong" }));
      } else if (frame.type === "event" && frame.channel === channel) {
        if (frame.data && frame.data.too_large) poll();
        else update(frame.data);
      } else if (frame.type === "resync") {
        poll();
      }
    };
    socket.addEventListener("message", (message) => {
      const parsed = JSON.parse(message.data);
      for (const frame of Array.isArray(parsed) ? parsed : [parsed]) handle(frame);
    });
    socket.addEventListener("close", (event) => {
      socket = null;
      const wasLive = transport === "websocket";
      transport = "polling";
      if (wasLive) schedulePoll(0);
      if (event.code === 1008) return; // refused: this identity may not listen; polling it is
      setTimeout(() => listen(path), socketRetry);
      socketRetry = Math.min(socketRetry * 2, 30000);
    });
  }

  setInterval(() => {
    if (lastUpdate && Date.now() - lastUpdate > 3 * interval + 1000) {
      connectionLost(transport === "websocket" ? "the WebSocket is silent" : "the server does not answer");
    }
  }, 1000);

  $("sign-out").addEventListener("click", async () => {
    await fetch("/-/console/sign-out", { method: "POST", credentials: "same-origin" }).catch(() => null);
    location.assign("/console/sign-in");
  });

  (async () => {
    const first = await fetch(`${API}/snapshot`, { credentials: "same-origin", cache: "no-store" }).catch(() => null);
    if (first && first.ok) {
      const snapshot = await first.json();
      update(snapshot);
      if (snapshot.live && snapshot.live.websocket) listen(snapshot.live.websocket);
    } else {
      connectionLost("the server does not answer");
    }
    schedulePoll(interval);
  })();
})();
