// The fleet page: reads /ui/fleet.json every 2 s and redraws the tables. Every name on the
// page comes from applications (lease names, breaker names), so text goes in through
// textContent only, never as HTML.
"use strict";

const REFRESH_MS = 2000;
// Past this without a good answer the page says that what it shows is old.
const STALE_MS = 6000;
let lastGood = 0;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function ago(ms) {
  if (ms === null || ms === undefined || ms < 0) return "–";
  if (ms < 1000) return ms + " ms";
  const s = ms / 1000;
  if (s < 90) return s.toFixed(1) + " s";
  const m = s / 60;
  if (m < 90) return m.toFixed(0) + " min";
  return (m / 60).toFixed(1) + " h";
}

function stateCell(state) {
  return el("td", state, "state-" + String(state).replace(/[^a-z-]/g, ""));
}

// Replaces a table's rows: `rows` are arrays of cells (a string or a <td>), `key` names each
// row in a data attribute so that tests and people can find it.
function fill(id, items, key, cells, emptyText) {
  const body = document.querySelector("#" + id + " tbody");
  const rows = items.map((item) => {
    const tr = el("tr");
    tr.dataset[key] = item.name !== undefined ? item.name : item.id;
    for (const c of cells(item)) tr.appendChild(c instanceof Node ? c : el("td", c));
    return tr;
  });
  if (rows.length === 0) {
    const tr = el("tr", null, "empty");
    const td = el("td", emptyText);
    td.colSpan = document.querySelectorAll("#" + id + " thead th").length;
    tr.appendChild(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  const count = document.getElementById(id + "-count");
  if (count) count.textContent = items.length ? "(" + items.length + ")" : "";
}

function num(v) { return el("td", v, "num"); }

function renderRedis(r, self) {
  document.getElementById("self-id").textContent = self.id;
  const facts = [
    ["reachable", r.reachable ? "yes" : "no", r.reachable ? "yes" : "no"],
    ["topology", r.topology],
    ["serving", r.endpoint || "–"],
    ["round trip", r.rtt_us === null ? "no answer" : (r.rtt_us / 1000).toFixed(2) + " ms"],
    ["connections", r.ready_connections + " ready of " + r.connections],
    ["link breaker", r.breaker, "state-" + r.breaker],
    ["timeouts", r.timeouts],
    ["reconnects", r.reconnects],
  ];
  if (r.topology === "cluster") facts.push(["primaries", r.primaries]);
  if (r.topology === "sentinel") facts.push(["failovers followed", r.failovers]);
  if (r.last_error) facts.push(["last error", r.last_error, "no"]);
  const dl = document.getElementById("redis");
  dl.replaceChildren(...facts.flatMap(([k, v, cls]) => [el("dt", k), el("dd", v, cls)]));
}

function servedBy(secret) {
  if (!secret.nodes || secret.nodes.length === 0) return "–";
  return secret.nodes
    .map((n) => n.node + " v" + n.version + (n.version !== secret.current ? " (behind)" : ""))
    .join(", ");
}

function render(doc) {
  renderRedis(doc.redis, doc.self);
  fill("nodes", doc.nodes, "node", (n) => [
    el("td", n.id + (n.id === doc.self.id ? " (this one)" : "")), stateCell(n.state),
    num(n.sessions), n.address, n.version, ago(Date.now() - n.started_ms),
    ago(n.heartbeat_age_ms) + " ago",
  ], "no live node");
  fill("leaders", doc.leaders, "group", (l) => [
    l.name, stateCell(l.state), l.candidate, l.node, num(l.token), ago(l.remaining_ms),
  ], "no election has a leader");
  fill("leases", doc.leases, "lease", (l) => [
    l.name, stateCell(l.state), l.node, num(l.uid), num(l.token), ago(l.remaining_ms),
  ], "no lease held");
  fill("secrets", doc.secrets, "secret", (s) => [
    s.name, num(s.current ? "v" + s.current : "none yet"), num(s.pending ? "v" + s.pending : "–"),
    (s.versions || []).map((v) => "v" + v.version + " " + v.state).join(", ") || "–",
    el("td", servedBy(s), (s.nodes || []).some((n) => n.version !== s.current) ? "behind" : ""),
  ], "no secret configured on this node");
  fill("breakers", doc.breakers, "breaker", (b) => [b.name, stateCell(b.state)],
       "no breaker");
  if (doc.leases_truncated)
    document.getElementById("leases-count").textContent += " (first ones only)";

  const errors = Object.entries(doc.errors || {});
  document.getElementById("errors-section").hidden = errors.length === 0;
  document.getElementById("errors")
    .replaceChildren(...errors.map(([part, why]) => el("li", part + ": " + why)));
}

function setStatus(state, text) {
  const s = document.getElementById("status");
  s.dataset.state = state;
  s.textContent = text;
}

async function refresh() {
  try {
    const answer = await fetch("/ui/fleet.json", { cache: "no-store" });
    if (!answer.ok) throw new Error("HTTP " + answer.status);
    const doc = await answer.json();
    render(doc);
    lastGood = Date.now();
    setStatus("live", "node " + doc.self.id + " · updated " +
              new Date(doc.generated_ms).toLocaleTimeString());
  } catch (e) {
    if (Date.now() - lastGood > STALE_MS)
      setStatus(lastGood ? "stale" : "error",
                (lastGood ? "not updated for " + ago(Date.now() - lastGood) + ": " : "") +
                "cannot read /ui/fleet.json (" + e.message + ")");
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

refresh();
