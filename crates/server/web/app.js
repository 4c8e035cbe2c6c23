// The dashboard: state in the URL, the filter bar, the live header from /v1/stream, and the panel
// machinery every view draws into (loading, empty and error states; quiet refresh on new data).
import * as api from "./api.js";
import * as f from "./format.js";
import { el } from "./charts.js";
import { VIEWS } from "./views.js";

const FILTERS = ["product", "model", "tier", "region", "channel"];
const RANGES = [["7d", "last 7 days"], ["30d", "last 30 days"], ["90d", "last 90 days"], ["180d", "last 180 days"], ["365d", "last 365 days"]];
// Everything the URL may carry; anything else in it is ignored.
const KEYS = ["view", "range", ...FILTERS, "pivot", "window", "metric", "a", "b", "id"];
// Charts follow new data at most this often; the header follows every change.
const REFRESH_MS = 10000;

const $ = (id) => document.getElementById(id);
let state = readUrl();
let dims = {};
let generation = 0;

function readUrl() {
  const q = new URLSearchParams(location.search);
  const s = {};
  for (const k of KEYS) if (q.get(k)) s[k] = q.get(k);
  if (!VIEWS.some((v) => v.id === s.view)) s.view = "activation";
  if (!RANGES.some(([r]) => r === s.range)) s.range = "90d";
  return s;
}

function href(changes) {
  const next = { ...state, ...changes };
  const q = new URLSearchParams();
  for (const k of KEYS) if (next[k] && !(k === "range" && next[k] === "90d") && !(k === "view" && next[k] === "activation")) q.set(k, next[k]);
  const s = q.toString();
  return s ? `?${s}` : location.pathname;
}

function navigate(changes) {
  // Leaving a view drops what only it understood (another view's pivot or segments).
  if (changes.view && changes.view !== state.view) for (const k of ["pivot", "window", "metric", "a", "b", "id"]) if (!(k in changes)) delete state[k];
  state = { ...state, ...changes };
  for (const k of Object.keys(state)) if (!state[k]) delete state[k];
  history.pushState(null, "", href({}));
  render();
}

// A link that navigates inside the page (keeps working with modifier keys and middle clicks).
function follow(e, changes) {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(changes);
}

// The common metric parameters: the time range, its natural bucket, and the filters.
function params(extra = {}) {
  const daysBack = parseInt(state.range, 10);
  const from = new Date(Date.now() - daysBack * 86400000).toISOString();
  const bucket = daysBack <= 31 ? "day" : daysBack <= 180 ? "week" : "month";
  const where = FILTERS.filter((k) => state[k]).map((k) => `${k}:${state[k]}`);
  const p = { from, bucket, where, ...extra };
  if (p.by === "") delete p.by;
  return p;
}

// ---- panels ----

function makeContext(target, quiet) {
  const pending = [];
  return {
    state, dims, navigate, follow, href, params,
    pending,
    // A panel: title, optional note and tools, and a fill function that draws into the body and
    // returns true (drawn), false (nothing to show) or "idle" (waiting for the user).
    panel(title, opts, fill) {
      const body = el("div", { class: "body" });
      const section = el("section", { class: `panel${opts.wide ? " wide" : ""}`, "data-state": "loading", "aria-busy": "true" },
        el("header", {}, el("h2", { text: title }), opts.tools || null),
        opts.note ? el("p", { class: "note", text: opts.note }) : null,
        body);
      if (!quiet) body.append(el("p", { class: "loading", text: "Loading…" }));
      target.append(section);
      const done = (async () => {
        try {
          // Draw into the attached body so charts can measure its width, then drop the placeholder.
          const inner = el("div");
          body.append(inner);
          const drawn = await fill(inner);
          body.querySelector(":scope > .loading")?.remove();
          if (drawn === false) {
            inner.replaceChildren(el("p", { class: "empty", text: "No data for these filters and this time range." }));
            section.dataset.state = "empty";
          } else {
            section.dataset.state = drawn === "idle" ? "idle" : "ready";
          }
        } catch (e) {
          body.replaceChildren(el("p", { class: "error", role: "alert", text: problem(e) }));
          section.dataset.state = "error";
          if (e.status === 401 || e.status === 403) askForKey(e);
        }
        section.removeAttribute("aria-busy");
      })();
      pending.push(done);
    },
  };
}

function problem(e) {
  if (e instanceof api.ApiError) {
    if (e.status === 401) return "This server needs a key with the read scope: enter it above.";
    if (e.status === 403) return "Your key lacks the read scope.";
    return `Could not load this: ${e.message}`;
  }
  return `Something went wrong drawing this panel: ${e.message}`;
}

// Draws the current view. A quiet render (new data arrived) builds the new panels off-screen
// and swaps them in when all are drawn, so charts do not flash through a loading state.
async function render(quiet = false) {
  const mine = ++generation;
  const view = VIEWS.find((v) => v.id === state.view);
  drawNav();
  drawFilters();
  document.title = `keylens · ${view.title}`;
  const main = $("main");
  const grid = el("div", { class: quiet ? "grid staging" : "grid" });
  if (!quiet) main.replaceChildren(grid);
  else main.append(grid);
  main.dataset.view = view.id;
  main.dataset.ready = "false";
  const ctx = makeContext(grid, quiet);
  view.render(ctx);
  await Promise.all(ctx.pending);
  if (mine !== generation) {
    if (quiet) grid.remove();
    return;
  }
  if (quiet) {
    for (const old of [...main.children]) if (old !== grid) old.remove();
    grid.classList.remove("staging");
  }
  main.dataset.ready = "true";
  lastRefresh = Date.now();
}

// ---- navigation and filters ----

function drawNav() {
  const nav = $("views");
  nav.replaceChildren(...VIEWS.map((v) => el("a", {
    href: href({ view: v.id }), "aria-current": v.id === state.view ? "page" : null,
    onclick: (e) => follow(e, { view: v.id }),
  }, v.title)));
}

function select(name, title, options, current, onchange) {
  return el("label", {}, el("span", { text: title }), el("select", { name, onchange },
    options.map(([v, l]) => el("option", { value: v, selected: v === (current || "") }, l))));
}

function drawFilters() {
  const form = $("filters");
  const controls = [select("range", "time range", RANGES, state.range, (e) => navigate({ range: e.target.value }))];
  for (const k of FILTERS) {
    const values = [...(dims[k] || [])];
    if (state[k] && !values.includes(state[k])) values.unshift(state[k]); // a shared link's value
    controls.push(select(k, k, [["", `all ${k === "product" ? "products" : `${k}s`}`], ...values.map((v) => [v, f.label(v)])], state[k], (e) => navigate({ [k]: e.target.value })));
  }
  const any = FILTERS.some((k) => state[k]) || state.range !== "90d";
  controls.push(el("button", { type: "button", disabled: !any, onclick: () => navigate(Object.fromEntries([["range", "90d"], ...FILTERS.map((k) => [k, ""])])) }, "Reset filters"));
  if (state.view === "license") controls.push(el("span", { class: "note", text: "filters do not apply to a single license" }));
  form.replaceChildren(...controls);
}

// ---- the live header ----

const KPIS = [
  ["active_licenses", "Licenses active now", (v) => f.count(v)],
  ["first_activations_24h", "First activations, 24 h", (v) => f.count(v)],
  ["failed_activations_24h", "Failed activations, 24 h", (v) => f.count(v)],
  ["churned_30d", "Churned, 30 days", (v) => f.count(v)],
  ["renewal_rate_90d", "Renewal rate, 90 days", (v, row) => (v == null ? f.DASH : `${f.percent(v)} of ${f.count(row.renewal_opportunities_90d)}`)],
  ["bookings_30d", "Bookings, 30 days", (v) => Object.entries(v || {}).map(([c, a]) => f.money(a, c)).join(" · ") || f.DASH],
];

function drawKpis(row) {
  $("kpis").replaceChildren(...KPIS.map(([key, title, fmt]) => el("div", { "data-kpi": key },
    el("dt", { text: title }), el("dd", { class: key === "bookings_30d" && Object.keys(row[key] || {}).length > 1 ? "several" : null, text: fmt(row[key], row) }))));
}

function liveStatus(kind, text) {
  const s = $("live");
  s.className = `live ${kind}`;
  s.textContent = text;
}

let lastRefresh = Date.now();
let refreshTimer = null;
let seenFirst = false;
let lostAt = null;

function scheduleRefresh() {
  if (refreshTimer) return;
  const wait = Math.max(0, REFRESH_MS - (Date.now() - lastRefresh));
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    if ($("main").dataset.ready === "true" && !document.querySelector("#main :focus")) render(true);
  }, wait);
}

function connect() {
  const source = new EventSource("/v1/stream");
  source.addEventListener("overview", (e) => {
    const answer = JSON.parse(e.data);
    if (answer.rows && answer.rows[0]) drawKpis(answer.rows[0]);
    if (lostAt !== null) {
      liveStatus("live", "live again");
      lostAt = null;
      scheduleRefresh();
    } else {
      liveStatus("live", "live");
    }
    $("updated").textContent = `updated ${new Date().toLocaleTimeString("en-GB")}`;
    if (seenFirst) scheduleRefresh();
    seenFirst = true;
  });
  source.addEventListener("error", () => {
    if (lostAt === null) lostAt = Date.now();
    if (source.readyState === EventSource.CLOSED) {
      // The server refused the stream (a key is needed) or is gone: try again ourselves.
      liveStatus("down", "disconnected: retrying…");
      source.close();
      setTimeout(connect, 3000);
    } else {
      liveStatus("down", "connection lost: reconnecting…");
    }
  });
}

// ---- keys ----

let asked = false;
function askForKey(e) {
  if (asked) return;
  asked = true;
  const form = el("form", { class: "key", onsubmit: (ev) => {
    ev.preventDefault();
    const key = new FormData(form).get("key").trim();
    if (!/^[\x21-\x7e]+$/.test(key) || key.includes(";") || key.includes(",")) {
      form.querySelector(".error").textContent = "A key is printable ASCII without spaces, commas or semicolons.";
      return;
    }
    api.setKey(key);
    location.reload();
  } },
  el("p", { text: e.status === 403 ? "Your key lacks the read scope. Enter a key with the read scope:" : "This keylens server needs a key with the read scope:" }),
  el("label", {}, "key ", el("input", { name: "key", type: "password", required: true, autocomplete: "off" })),
  el("button", { type: "submit" }, "Use key"),
  el("p", { class: "error", role: "alert" }),
  el("p", { class: "note", text: "Kept in a cookie for this site only; sent with reads, never with writes." }));
  $("keybox").replaceChildren(form);
  form.querySelector("input").focus();
}

// ---- start ----

window.addEventListener("popstate", () => {
  state = readUrl();
  render();
});

async function start() {
  drawKpis({});
  try {
    dims = await api.dimensions();
  } catch (e) {
    if (e.status === 401 || e.status === 403) askForKey(e);
    dims = {};
  }
  render();
  connect();
}

start();
