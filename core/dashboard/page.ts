/**
 * The dashboard's page: one static HTML document (no build step) that
 * subscribes to `/events` (server-sent events, a `View` of Board.ts each
 * time) and draws it with Chart.js, served beside it as `/chart.js`. The
 * token, where the dashboard has one, comes from the page's own URL and goes
 * with every request. Internal to the dashboard.
 */

/** The colour of each activity, on the timeline and the rank badges. */
const COLOURS = {
  compute: "#2e7d32",
  codec: "#9ccc65",
  send: "#f9a825",
  receive: "#c62828",
  collective: "#6a1b9a",
  window: "#00838f",
  io: "#5d4037",
  idle: "#9e9e9e",
  finished: "#cfd8dc",
  stopped: "#78909c",
  failed: "#000000"
} as const

export const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rankflow dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
  header { background: #263238; color: #fff; padding: 10px 16px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  main { padding: 12px 16px; display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
  section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px; min-width: 0; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; }
  .failure { color: #b71c1c; font-weight: 600; }
  .stages { display: flex; flex-wrap: wrap; gap: 10px; align-items: stretch; }
  .stage { border: 2px solid #90a4ae; border-radius: 6px; padding: 6px 10px; min-width: 130px; }
  .stage.bottleneck { border-color: #c62828; background: #ffebee; }
  .edges { margin-top: 8px; font-family: ui-monospace, monospace; font-size: 13px; }
  pre { margin: 0; font-size: 12px; white-space: pre-wrap; word-break: break-all; }
  .logs { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 8px; }
  .logs div { border: 1px solid #eee; padding: 4px 6px; max-height: 160px; overflow: auto; }
  .legend span { margin-right: 10px; font-size: 12px; }
  canvas { max-height: 260px; }
</style>
<script src="chart.js"></script>
</head>
<body>
<header><h1>rankflow</h1><span id="job">connecting…</span><span id="failure" class="failure"></span></header>
<main>
  <section class="wide"><h2>Ranks</h2>
    <table id="ranks"><thead><tr><th>rank</th><th>state</th><th>doing</th><th>messages out / in</th><th>msgs/s out</th><th>msgs/s in</th><th>bytes/s out</th><th>bytes/s in</th><th>heap</th><th>GPU</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide"><h2>Task stream (last minute)</h2><div class="legend" id="legend"></div><canvas id="timeline"></canvas></section>
  <section><h2>Messages sent per second</h2><canvas id="messages"></canvas></section>
  <section><h2>Bytes sent per second</h2><canvas id="bytes"></canvas></section>
  <section><h2>Heap in use (MB)</h2><canvas id="heap"></canvas></section>
  <section id="pipeline"><h2>Pipeline</h2><div id="stages" class="stages">no pipeline is running</div><div id="edges" class="edges"></div></section>
  <section class="wide"><h2>Last output</h2><div id="logs" class="logs"></div></section>
</main>
<script>
"use strict";
const COLOURS = ${JSON.stringify(COLOURS)};
const token = new URLSearchParams(location.search).get("token");
const withToken = (path) => token === null ? path : path + "?token=" + encodeURIComponent(token);
const el = (id) => document.getElementById(id);
const text = (s) => document.createTextNode(String(s));
const palette = ["#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457"];
const human = (n) => n >= 1e9 ? (n / 1e9).toFixed(1) + "G" : n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1e3 ? (n / 1e3).toFixed(1) + "k" : Math.round(n).toString();
el("legend").innerHTML = Object.entries(COLOURS).map(([k, c]) => '<span><span class="badge" style="background:' + c + '">&nbsp;</span> ' + k + '</span>').join("");

const lineChart = (id, label) => new Chart(el(id), {
  type: "line",
  data: { datasets: [] },
  options: { animation: false, parsing: false, normalized: true, plugins: { legend: { position: "bottom" } },
    scales: { x: { type: "linear", min: -60, max: 0, title: { display: true, text: "seconds ago" } }, y: { beginAtZero: true, title: { display: true, text: label } } } }
});
const charts = { messages: lineChart("messages", "messages/s"), bytes: lineChart("bytes", "bytes/s"), heap: lineChart("heap", "MB") };
const timeline = new Chart(el("timeline"), {
  type: "bar",
  data: { labels: [], datasets: [{ data: [], backgroundColor: [], barPercentage: 0.9, categoryPercentage: 1, grouped: false }] },
  options: { indexAxis: "y", animation: false, plugins: { legend: { display: false },
      tooltip: { callbacks: { label: (c) => c.raw.activity + " (" + (c.raw.x[1] - c.raw.x[0]).toFixed(1) + " s)" } } },
    scales: { x: { type: "linear", min: -60, max: 0, title: { display: true, text: "seconds ago" } }, y: { type: "category" } } }
});

const series = (view, pick) => view.ranks.map((r, i) => ({
  label: "rank " + r.rank, borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length], pointRadius: 0, borderWidth: 1.5,
  data: r.samples.map((s) => ({ x: (s.t - view.now) / 1000, y: pick(s) }))
}));

const draw = (view) => {
  el("job").textContent = "run " + view.run + " · " + view.size + " ranks · " + view.state +
    (view.arena.size > 0 ? " · shared arena " + (view.arena.used / 1048576).toFixed(1) + " of " + (view.arena.size / 1048576).toFixed(0) + " MB in use" : "");
  el("failure").textContent = view.failure === undefined ? "" : view.failure;
  const body = el("ranks").tBodies[0];
  body.replaceChildren(...view.ranks.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.rank = r.rank;
    tr.dataset.activity = r.activity;
    const last = r.samples[r.samples.length - 1];
    const cells = [r.rank, r.activity, r.failure === undefined ? r.doing : "failed: " + r.failure, r.sent + " / " + r.arrived,
      last ? human(last.msgsOut) : "–", last ? human(last.msgsIn) : "–", last ? human(last.bytesOut) : "–", last ? human(last.bytesIn) : "–", (r.heap / 1048576).toFixed(1) + " MB", r.gpu > 0 ? (r.gpu / 1048576).toFixed(1) + " MB" : "–"];
    cells.forEach((c, i) => {
      const td = document.createElement("td");
      if (i === 1) {
        const b = document.createElement("span");
        b.className = "badge";
        b.style.background = COLOURS[r.activity] || "#777";
        b.appendChild(text(c));
        td.appendChild(b);
      } else td.appendChild(text(c));
      if (i === 2) { td.className = r.failure === undefined ? "doing" : "doing failure"; }
      if (i >= 3) td.classList.add("num");
      if (i === 3) { td.classList.add("counts"); td.dataset.sent = r.sent; }
      tr.appendChild(td);
    });
    return tr;
  }));
  charts.messages.data.datasets = series(view, (s) => s.msgsOut);
  charts.bytes.data.datasets = series(view, (s) => s.bytesOut);
  charts.heap.data.datasets = series(view, (s) => s.heap / 1048576);
  for (const c of Object.values(charts)) c.update("none");
  timeline.data.labels = view.ranks.map((r) => "rank " + r.rank);
  const bars = view.ranks.flatMap((r) => r.timeline.map((s) => ({ y: "rank " + r.rank, x: [Math.max(-60, (s.start - view.now) / 1000), Math.max(-60, (s.end - view.now) / 1000 + 0.05)], activity: s.activity })));
  timeline.data.datasets[0].data = bars;
  timeline.data.datasets[0].backgroundColor = bars.map((b) => COLOURS[b.activity] || "#777");
  timeline.update("none");
  if (view.stages.length > 0) {
    el("stages").replaceChildren(...view.stages.map((s) => {
      const d = document.createElement("div");
      d.className = "stage" + (s.bottleneck ? " bottleneck" : "");
      d.dataset.stage = s.name;
      d.innerHTML = "<b></b><br>";
      d.firstChild.appendChild(text(s.name + " ×" + s.replicas));
      d.appendChild(text(human(s.itemsPerSecond) + " items/s · busy " + Math.round(s.busy * 100) + "% · blocked " + Math.round(s.blocked * 100) + "%"));
      d.appendChild(document.createElement("br"));
      d.appendChild(text("mailbox " + s.mailboxDepth + "/" + s.mailboxBound + " · " + human(s.itemsOut) + " out" + (s.bottleneck ? " · holds the others back" : "")));
      return d;
    }));
    el("edges").replaceChildren(...view.edges.map((e) => {
      const d = document.createElement("div");
      d.className = "edge";
      d.appendChild(text(e.from + " → " + e.to + ": " + human(e.itemsPerSecond) + " items/s"));
      return d;
    }));
  }
  el("logs").replaceChildren(...view.ranks.map((r) => {
    const d = document.createElement("div");
    const b = document.createElement("b");
    b.appendChild(text("rank " + r.rank));
    const pre = document.createElement("pre");
    pre.appendChild(text(r.logs.join("\\n")));
    d.append(b, pre);
    return d;
  }));
};

const events = new EventSource(withToken("events"));
events.onmessage = (m) => draw(JSON.parse(m.data));
events.onerror = () => { el("job").textContent = "disconnected (the job has ended?)"; };
</script>
</body>
</html>
`
