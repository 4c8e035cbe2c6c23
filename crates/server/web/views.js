// The dashboard's views. Each one lays out panels and fills each from one or two metric queries
// with the global filters (ctx.params); the panel machinery in app.js shows loading, empty and
// error states, so a view only says what to draw.
import * as api from "./api.js";
import * as f from "./format.js";
import { bars, categoryBars, el, heatmap, intervals, survivalChart, table, timeChart } from "./charts.js";

const secs = (iso) => Date.parse(iso) / 1000;
const rowsOf = (answer) => answer.rows || [];

// Sums series rows into one value per bucket (over groups such as currency or model).
function perBucket(rows, field, filter = () => true) {
  const sums = new Map();
  for (const r of rows) {
    if (!filter(r)) continue;
    sums.set(r.bucket, (sums.get(r.bucket) || 0) + (r[field] ?? 0));
  }
  const buckets = [...sums.keys()].sort();
  return { x: buckets.map(secs), values: buckets.map((b) => sums.get(b)) };
}

function rateRows(answer, dim) {
  return rowsOf(answer).map((r) => ({ label: f.label(r[dim]), rate: r.rate, lo: r.ci_low, hi: r.ci_high, num: r.numerator, den: r.denominator }));
}

function licenseLink(ctx, id) {
  return el("a", { href: ctx.href({ view: "license", id }), onclick: (e) => ctx.follow(e, { view: "license", id }) }, id);
}

function rateByPanel(ctx, metric, dim, title, note) {
  ctx.panel(title, { note }, async (body) => {
    const rows = rateRows(await api.metric(metric, ctx.params({ by: dim })), dim);
    if (!rows.length) return false;
    body.append(intervals(rows, { format: f.percent }));
    return true;
  });
}

function activation(ctx) {
  rateByPanel(ctx, "activation_rate", "tier", "Activation rate by tier", "licenses created in the range that activated; 95 % Wilson intervals");
  rateByPanel(ctx, "activation_rate", "model", "Activation rate by model", "licenses created in the range that activated; 95 % Wilson intervals");
  ctx.panel("Activations over time", { wide: true }, async (body) => {
    const rows = rowsOf(await api.metric("activations", ctx.params()));
    if (!rows.some((r) => r.first_activations || r.machine_activations)) return false;
    const first = perBucket(rows, "first_activations");
    const machines = perBucket(rows, "machine_activations");
    timeChart(body, first.x, [
      { label: "first activations", values: first.values },
      { label: "machine activations", values: machines.values },
    ], { format: f.count });
    return true;
  });
  ctx.panel("Time to activate, by model", { note: "from creation to first activation" }, async (body) => {
    const rows = rowsOf(await api.metric("time_to_activate", ctx.params({ by: "model" })));
    if (!rows.some((r) => r.count)) return false;
    body.append(table([
      { title: "model", get: (r) => f.label(r.model) },
      { title: "licenses", get: (r) => f.count(r.count), num: true },
      { title: "median", get: (r) => f.duration(r.p50_s), num: true },
      { title: "90th pct", get: (r) => f.duration(r.p90_s), num: true },
      { title: "mean", get: (r) => f.duration(r.mean_s), num: true },
    ], rows));
    return true;
  });
  ctx.panel("Failed activations by reason", {}, async (body) => {
    const rows = rowsOf(await api.metric("activation_failures", ctx.params({ by: "reason" })));
    const totals = new Map();
    for (const r of rows) totals.set(r.reason, (totals.get(r.reason) || 0) + (r.failed || 0));
    const list = [...totals].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map(([reason, n], i) => ({ label: f.label(reason), value: n, colour: i }));
    if (!list.length) return false;
    body.append(bars(list));
    return true;
  });
}

function renewal(ctx) {
  rateByPanel(ctx, "renewal_rate", "region", "Renewal rate by region", "terms ending in the range renewed within the grace period");
  rateByPanel(ctx, "renewal_rate", "tier", "Renewal rate by tier", "terms ending in the range renewed within the grace period");
  ctx.panel("Churn and its velocity", { wide: true, note: "churned licenses per bucket (left) and churn per day (right, dashed)" }, async (body) => {
    const rows = rowsOf(await api.metric("churn", ctx.params()));
    if (!rows.length) return false;
    const x = rows.map((r) => secs(r.bucket));
    timeChart(body, x, [
      { label: "voluntary", values: rows.map((r) => r.voluntary) },
      { label: "involuntary", values: rows.map((r) => r.involuntary) },
      { label: "per day", values: rows.map((r) => r.per_day), axis: "right", colour: 5 },
    ], { format: f.count, rightFormat: (v) => f.decimal(v, 2) });
    const last = rows[rows.length - 1];
    body.append(el("p", { class: "note" }, `Latest bucket: ${f.count(last.churned)} churned of ${f.count(last.active_at_start)} active at its start (${f.percent(last.churn_rate, 2)}), ${last.change === null ? "no earlier bucket" : `${last.change >= 0 ? "+" : ""}${last.change} on the bucket before`}.`));
    return true;
  });
  ctx.panel("Survival by model", { wide: true, note: "Kaplan–Meier: share of licenses not yet churned, days since creation, with 95 % bands" }, async (body) => {
    const rows = rowsOf(await api.metric("survival", ctx.params({ by: "model" }))).filter((r) => r.n > 0);
    if (!rows.length) return false;
    survivalChart(body, rows.map((r) => ({
      label: f.label(r.model),
      t: r.steps.map((s) => s.t_days),
      s: r.steps.map((s) => s.survival),
      lo: r.steps.map((s) => s.ci_low),
      hi: r.steps.map((s) => s.ci_high),
    })));
    body.append(table([
      { title: "model", get: (r) => f.label(r.model) },
      { title: "licenses", get: (r) => f.count(r.n), num: true },
      { title: "churned", get: (r) => f.count(r.events), num: true },
      { title: "median survival", get: (r) => (r.median_days === null ? "not reached" : f.days(r.median_days)), num: true },
    ], rows));
    return true;
  });
  ctx.panel("Cohort retention", { wide: true, note: "share of each creation cohort still active, by buckets since creation" }, async (body) => {
    const p = ctx.params();
    const rows = rowsOf(await api.metric("cohort_retention", { ...p, bucket: p.bucket === "day" ? "week" : p.bucket }));
    if (!rows.length) return false;
    const cohorts = new Map();
    const offsets = new Set();
    for (const r of rows) {
      if (!cohorts.has(r.cohort)) cohorts.set(r.cohort, { cohort: r.cohort, size: r.size, rates: new Map() });
      cohorts.get(r.cohort).rates.set(r.offset, r.rate);
      offsets.add(r.offset);
    }
    body.append(heatmap([...cohorts.values()], [...offsets].sort((a, b) => a - b), { cohortLabel: f.date, format: (v) => f.percent(v, 0) }));
    return true;
  });
}

function revenue(ctx) {
  const pivot = ctx.state.pivot || "model";
  ctx.panel(`Bookings by kind, per ${pivot}`, {
    wide: true,
    note: "new, renewal and upgrade amounts in the range, per currency",
    tools: el("div", { class: "segmented", role: "group", "aria-label": "Group bookings by" },
      ["model", "tier", "region"].map((d) => el("button", { type: "button", "aria-pressed": String(d === pivot), onclick: () => ctx.navigate({ pivot: d }) }, d))),
  }, async (body) => {
    const rows = rowsOf(await api.metric("revenue", ctx.params({ by: pivot })));
    const sums = new Map();
    for (const r of rows) {
      const key = `${r[pivot]}\u0000${r.currency}`;
      const s = sums.get(key) || { group: r[pivot], currency: r.currency, new: 0, renewal: 0, upgrade: 0, total: 0 };
      for (const k of ["new", "renewal", "upgrade", "total"]) s[k] += r[k] || 0;
      sums.set(key, s);
    }
    const list = [...sums.values()].filter((s) => s.total !== 0).sort((a, b) => (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : b.total - a.total));
    if (!list.length) return false;
    body.append(table([
      { title: pivot, get: (s) => f.label(s.group) },
      { title: "currency", get: (s) => s.currency },
      { title: "new", get: (s) => f.money(s.new, s.currency), num: true },
      { title: "renewal", get: (s) => f.money(s.renewal, s.currency), num: true },
      { title: "upgrade", get: (s) => f.money(s.upgrade, s.currency), num: true },
      { title: "total", get: (s) => f.money(s.total, s.currency), num: true },
    ], list));
    return true;
  });
  ctx.panel("Bookings over time", { wide: true, note: "one line per currency; amounts are never converted" }, async (body) => {
    const rows = rowsOf(await api.metric("revenue", ctx.params({ by: "" })));
    const currencies = [...new Set(rows.map((r) => r.currency).filter(Boolean))].sort();
    if (!currencies.length || !rows.some((r) => r.total)) return false;
    const series = currencies.map((c) => ({ c, ...perBucket(rows, "total", (r) => r.currency === c) }));
    timeChart(body, series[0].x, series.map((s) => ({ label: s.c, values: s.values })), { format: (v) => f.decimal(v, 0) });
    return true;
  });
  ctx.panel("MRR and ARR", { wide: true, note: "recurring revenue of active terms at each bucket's end, per currency" }, async (body) => {
    const rows = rowsOf(await api.metric("mrr", ctx.params({ by: "" })));
    const currencies = [...new Set(rows.map((r) => r.currency).filter(Boolean))].sort();
    if (!currencies.length) return false;
    const tiles = el("dl", { class: "tiles" });
    const series = currencies.map((c) => {
      const mine = rows.filter((r) => r.currency === c).sort((a, b) => (a.bucket < b.bucket ? -1 : 1));
      const last = mine[mine.length - 1];
      tiles.append(el("div", {}, el("dt", { text: `MRR, ${c}` }), el("dd", { text: f.money(last.mrr, c) })),
        el("div", {}, el("dt", { text: `ARR, ${c}` }), el("dd", { text: f.money(last.arr, c) })));
      return { c, x: mine.map((r) => secs(r.bucket)), values: mine.map((r) => r.mrr) };
    });
    body.append(tiles);
    timeChart(body, series[0].x, series.map((s) => ({ label: `MRR ${s.c}`, values: s.values })), { format: (v) => f.decimal(v, 0) });
    return true;
  });
}

const EXPIRY_BINS = [["d0_7", "0–7 d"], ["d7_30", "7–30 d"], ["d30_90", "30–90 d"], ["d90_365", "90–365 d"], ["d365_plus", "365 d +"]];

function expiry(ctx) {
  ctx.panel("Time to expiration", { note: "licenses with a running term, by time left" }, async (body) => {
    const rows = rowsOf(await api.metric("time_to_expiration", ctx.params()));
    const row = rows[0];
    if (!row || !row.count) return false;
    categoryBars(body, EXPIRY_BINS.map(([, l]) => l), EXPIRY_BINS.map(([k]) => row[k]), { format: f.count, name: "licenses" });
    body.append(el("p", { class: "note" }, `${f.count(row.count)} licenses; median time left ${f.days(row.p50_days)}.`));
    return true;
  });
  const win = ctx.state.window || "P30D";
  ctx.panel("Expiring soon", {
    wide: true,
    note: "running terms ending within the window, soonest first",
    tools: el("label", {}, "within ", el("select", { onchange: (e) => ctx.navigate({ window: e.target.value }) },
      [["P7D", "7 days"], ["P30D", "30 days"], ["P90D", "90 days"]].map(([v, l]) => el("option", { value: v, selected: v === win }, l)))),
  }, async (body) => {
    // A page, and how many there are: the whole list can be 100,000s of rows.
    const answer = await api.metric("expiring", { ...ctx.params(), window: win, bucket: undefined, limit: 200 });
    const shown = rowsOf(answer);
    if (!shown.length) return false;
    const total = answer.summary ? answer.summary.total : shown.length;
    body.append(table([
      { title: "license", get: (r) => licenseLink(ctx, r.license_id) },
      { title: "expires", get: (r) => f.dateTime(r.expires_at) },
      { title: "model", get: (r) => f.label(r.model) },
      { title: "tier", get: (r) => r.tier },
      { title: "region", get: (r) => r.region },
      { title: "account", get: (r) => r.account_id },
      { title: "last amount", get: (r) => f.money(r.last_amount, r.currency), num: true },
    ], shown));
    if (total > shown.length) body.append(el("p", { class: "note" }, `Showing the first ${shown.length} of ${f.count(total)}; narrow the filters to see the rest.`));
    return true;
  });
}

// Each misuse signal's evidence in a sentence.
function evidence(s) {
  switch (s.name) {
    case "seat_overuse": return `${s.max_active} machines active at once on ${s.seats} seat(s), at ${f.dateTime(s.at)}`;
    case "machine_cycling": return `${s.machines} distinct machines on ${s.seats} seat(s) (limit ${f.decimal(s.limit, 0)})`;
    case "ip_spread": return `${s.ips} IP addresses within ${f.decimal(s.window_hours, 0)} h (limit ${f.decimal(s.limit, 0)}), ${f.dateTime(s.from)} to ${f.dateTime(s.to)}`;
    case "country_spread": return `used from ${s.countries.length} countries (${s.countries.join(", ")}; limit ${s.limit})`;
    case "impossible_travel": return `${f.decimal(s.km, 0)} km in ${f.decimal(s.hours, 2)} h${s.kmh === null ? "" : ` (${f.decimal(s.kmh, 0)} km/h, limit ${f.decimal(s.limit_kmh, 0)})`}, at ${f.dateTime(s.to.at)}`;
    case "failure_burst": return `${s.failures} failed activations between ${f.dateTime(s.from)} and ${f.dateTime(s.to)} (limit ${s.limit})`;
    case "use_after_end": return `${s.uses} use(s) after ${f.label(s.after)} at ${f.dateTime(s.ended_at)}, first at ${f.dateTime(s.first_use)}`;
    default: return Object.entries(s).filter(([k]) => k !== "name").map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ");
  }
}

function misuse(ctx) {
  ctx.panel("Flagged licenses", { wide: true, note: "ranked by the number of signals; thresholds as in docs/metrics.md" }, async (body) => {
    const rows = rowsOf(await api.metric("misuse", { ...ctx.params(), bucket: undefined }));
    if (!rows.length) return false;
    const list = el("ol", { class: "flagged" });
    for (const r of rows.slice(0, 100)) {
      list.append(el("li", {},
        el("div", { class: "who" }, licenseLink(ctx, r.license_id), el("span", { class: "score", text: `${r.score} signal${r.score === 1 ? "" : "s"}` })),
        el("ul", {}, r.signals.map((s) => el("li", {}, el("strong", { text: f.label(s.name) }), `: ${evidence(s)}`)))));
    }
    body.append(list);
    if (rows.length > 100) body.append(el("p", { class: "note" }, `Showing the first 100 of ${f.count(rows.length)}.`));
    return true;
  });
}

const LAB_METRICS = [["activation_rate", "activation rate"], ["renewal_rate", "renewal rate"], ["trial_conversion_rate", "trial conversion rate"]];
const LAB_DIMS = ["tier", "model", "region", "channel", "product"];

function verdict(answer) {
  const s = answer.summary;
  const [a, b] = answer.rows;
  if (!s.enough_data) {
    return `Not enough data to tell: each segment needs at least 5 successes and 5 failures at the pooled rate (A has ${f.count(a.denominator)} cases, B has ${f.count(b.denominator)}). Widen the range or wait for more licenses.`;
  }
  const points = `${f.decimal(Math.abs(100 * s.diff), 1)} percentage points`;
  if (s.significant) {
    return `B ${s.diff > 0 ? "beats" : "trails"} A by ${points}. A difference this large would arise by chance with probability ${f.pValue(s.p_value)} if the segments performed alike: below ${s.alpha}, so it is unlikely to be noise.`;
  }
  return `No clear difference: B is ${s.diff >= 0 ? "above" : "below"} A by ${points}, but chance alone would give a gap like this with probability ${f.pValue(s.p_value)} (not below ${s.alpha}). Keep collecting data before deciding.`;
}

function lab(ctx) {
  const st = ctx.state;
  const metricName = st.metric || "renewal_rate";
  const seg = (which, fallback) => {
    const [dim, value] = (st[which] || fallback).split(":");
    return { dim, value: value || "" };
  };
  const a = seg("a", "tier:");
  const b = seg("b", "tier:");
  const picker = (which, cur) => {
    const values = ctx.dims[cur.dim] || [];
    return el("fieldset", {}, el("legend", { text: `Segment ${which.toUpperCase()}` }),
      el("label", {}, "dimension ", el("select", { name: `${which}-dim`, onchange: (e) => ctx.navigate({ [which]: `${e.target.value}:` }) },
        LAB_DIMS.map((d) => el("option", { value: d, selected: d === cur.dim }, d)))),
      el("label", {}, " value ", el("select", { name: `${which}-value`, onchange: (e) => ctx.navigate({ [which]: `${cur.dim}:${e.target.value}` }) },
        el("option", { value: "", selected: !cur.value }, "choose…"),
        values.map((v) => el("option", { value: v, selected: v === cur.value }, v)))));
  };
  ctx.panel("Tier lab: compare two segments", {
    wide: true,
    note: "a two-sided test on the difference of two rates (pooled z-test); the global filters apply to both segments",
    tools: el("form", { class: "lab", onsubmit: (e) => e.preventDefault() },
      el("label", {}, "metric ", el("select", { name: "metric", onchange: (e) => ctx.navigate({ metric: e.target.value }) },
        LAB_METRICS.map(([v, l]) => el("option", { value: v, selected: v === metricName }, l)))),
      picker("a", a), picker("b", b)),
  }, async (body) => {
    if (!a.value || !b.value) {
      body.append(el("p", { class: "hint" }, "Pick a value for both segments, e.g. tier pro against tier basic."));
      return "idle";
    }
    const answer = await api.metric("compare", { ...ctx.params(), bucket: undefined, metric: metricName, a: `${a.dim}:${a.value}`, b: `${b.dim}:${b.value}` });
    const rows = answer.rows.map((r) => ({ label: `${r.segment.toUpperCase()}: ${r.where.replace(":", " = ")}`, rate: r.rate, lo: r.ci_low, hi: r.ci_high, num: r.numerator, den: r.denominator }));
    body.append(intervals(rows, { format: f.percent }));
    const s = answer.summary;
    body.append(el("dl", { class: "tiles" },
      el("div", {}, el("dt", { text: "difference (B − A)" }), el("dd", { text: s.diff === null ? f.DASH : `${s.diff >= 0 ? "+" : ""}${f.decimal(100 * s.diff, 1)} pts` })),
      el("div", {}, el("dt", { text: "p-value" }), el("dd", { text: f.pValue(s.p_value) })),
      el("div", {}, el("dt", { text: "significant at" }), el("dd", { text: `${s.alpha}: ${s.significant ? "yes" : "no"}` }))));
    body.append(el("p", { class: "verdict", role: "status" }, verdict(answer)));
    return true;
  });
}

function licensePage(ctx) {
  const id = ctx.state.id || "";
  ctx.panel("License", {
    wide: true,
    tools: el("form", { class: "find", onsubmit: (e) => { e.preventDefault(); ctx.navigate({ id: new FormData(e.target).get("id").trim() }); } },
      el("label", {}, "license id ", el("input", { name: "id", value: id, required: true, placeholder: "e.g. L1-42", autocomplete: "off" })),
      el("button", { type: "submit" }, "Show")),
  }, async (body) => {
    if (!id) {
      body.append(el("p", { class: "hint" }, "Enter a license id, or follow a link from the Expiry or Misuse views."));
      return "idle";
    }
    const lic = await api.license(id);
    const s = lic.state;
    const a = s.attributes || {};
    body.append(el("dl", { class: "tiles" },
      ...[["status", s.status], ["created", f.dateTime(s.created_at)], ["first activation", f.dateTime(s.first_activation_at)],
        ["current term ends", f.dateTime(s.current_end)], ["revoked", f.dateTime(s.revoked_at)],
        ["product", a.product], ["model", f.label(a.model)], ["tier", a.tier], ["region", a.region], ["channel", a.channel], ["account", a.account_id], ["seats", a.seats]]
        .map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", { text: v ?? f.DASH })))));
    body.append(el("h3", { text: "Terms" }), table([
      { title: "start", get: (t) => f.dateTime(t.start) },
      { title: "end", get: (t) => f.dateTime(t.end) },
      { title: "renewal due", get: (t) => (t.opportunity ? "yes" : "no") },
      { title: "renewed in time", get: (t) => (t.decided ? (t.renewed_in_time ? "yes" : "no") : "not decided yet") },
      { title: "amount", get: (t) => f.money(t.amount, t.currency, 2), num: true },
    ], s.terms || []));
    if ((s.churns || []).length) {
      body.append(el("h3", { text: "Churns" }), table([
        { title: "at", get: (c) => f.dateTime(c.at) },
        { title: "kind", get: (c) => f.label(c.kind) },
        { title: "reactivated", get: (c) => f.dateTime(c.reactivated_at) },
      ], s.churns));
    }
    const skip = new Set(["id", "type", "timestamp", "license_id", "source"]);
    body.append(el("h3", { text: `Timeline (${lic.timeline.length} events)` }), table([
      { title: "when", get: (e) => f.dateTime(e.timestamp) },
      { title: "event", get: (e) => e.type },
      { title: "details", get: (e) => Object.entries(e).filter(([k]) => !skip.has(k)).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ") },
    ], lic.timeline.slice().reverse()));
    return true;
  });
}

export const VIEWS = [
  { id: "activation", title: "Activation", render: activation },
  { id: "renewal", title: "Renewal & churn", render: renewal },
  { id: "revenue", title: "Revenue", render: revenue },
  { id: "expiry", title: "Expiry", render: expiry },
  { id: "misuse", title: "Misuse", render: misuse },
  { id: "lab", title: "Tier lab", render: lab },
  { id: "license", title: "License", render: licensePage },
];
