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

function bytes(n) {
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; ++u; }
  return v.toFixed(1) + " " + units[u];
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
  const h = r.health;
  if (h && h.ok) {
    const s = h.server;
    facts.push(["server", "Redis " + s.version + ", " + (s.role === "master" ? "primary" : "replica") +
                ", up " + ago(s.uptime_s * 1000)]);
    facts.push(["memory", bytes(s.used_memory) + (s.maxmemory > 0
      ? " of " + bytes(s.maxmemory) + " (" + (100 * s.used_memory / s.maxmemory).toFixed(0) + "%, " +
        s.maxmemory_policy + ")" : " (no maxmemory)"),
      s.maxmemory > 0 && s.used_memory > 0.9 * s.maxmemory ? "no" : ""]);
    facts.push(["evicted keys", s.evicted_keys, s.evicted_keys > 0 ? "behind" : ""]);
    facts.push(["hit ratio", s.hit_ratio === null ? "no lookups yet"
      : (100 * s.hit_ratio).toFixed(1) + "% of " + (s.keyspace_hits + s.keyspace_misses) + " lookups"]);
    facts.push(["keys", s.keys]);
    facts.push(["clients", s.connected_clients + ", " + s.ops_per_sec + " ops/s"]);
    if (s.replicas.length)
      facts.push(["replicas", s.replicas.map((x) => x.address + " lag " + bytes(x.lag_bytes)).join(", ")]);
    if (s.primary_link_up !== undefined)
      facts.push(["link to primary", s.primary_link_up ? "up" : "down", s.primary_link_up ? "yes" : "no"]);
    facts.push(["slow log", s.slowlog_length < 0 ? "unknown" : s.slowlog_length + " entries"]);
    if (s.latency.length)
      facts.push(["latency spikes", s.latency.map((l) => l.event + " " + l.latest_ms + " ms").join(", ")]);
    facts.push(["sampled", ago(h.age_ms) + " ago"]);
  } else if (h) {
    facts.push(["health", "cannot sample: " + h.error, "no"]);
  }
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
