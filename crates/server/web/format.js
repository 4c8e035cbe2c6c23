// Numbers as people read them: thousands separators, percentages, currencies, durations, dates
// in UTC (the API's time zone, so a day on screen is the day the metrics count).

const numberFmt = new Intl.NumberFormat("en-US");
const dateFmt = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
const timeFmt = new Intl.DateTimeFormat("en-GB", {
  day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "UTC", timeZoneName: "short",
});

export const DASH = "–";

export function count(n) {
  return n === null || n === undefined ? DASH : numberFmt.format(n);
}

export function decimal(n, digits = 1) {
  return n === null || n === undefined ? DASH : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function percent(r, digits = 1) {
  return r === null || r === undefined ? DASH : `${(100 * r).toFixed(digits)} %`;
}

export function money(amount, currency, digits = 0) {
  if (amount === null || amount === undefined) return DASH;
  if (!currency) return decimal(amount, digits);
  try {
    return new Intl.NumberFormat("en-US", { style: "currency", currency, maximumFractionDigits: digits, minimumFractionDigits: digits }).format(amount);
  } catch (e) {
    return `${decimal(amount, digits)} ${currency}`; // not an ISO 4217 code Intl knows
  }
}

// A duration in seconds, in the largest unit that keeps it readable: "45 s", "12 min", "5.2 h", "3.4 d".
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return DASH;
  const s = Math.abs(seconds);
  if (s < 60) return `${decimal(seconds, 0)} s`;
  if (s < 3600) return `${decimal(seconds / 60, 0)} min`;
  if (s < 86400) return `${decimal(seconds / 3600, 1)} h`;
  return `${decimal(seconds / 86400, 1)} d`;
}

export function days(d) {
  return d === null || d === undefined ? DASH : `${decimal(d, d < 10 ? 1 : 0)} d`;
}

export function date(iso) {
  return iso ? dateFmt.format(new Date(iso)) : DASH;
}

export function dateTime(iso) {
  return iso ? timeFmt.format(new Date(iso)) : DASH;
}

export function pValue(p) {
  if (p === null || p === undefined) return DASH;
  return p < 0.0001 ? "< 0.0001" : p.toFixed(4);
}

// snake_case names from the API, for labels: "node_locked" -> "node locked".
export function label(s) {
  return s === null || s === undefined ? "(none)" : String(s).replaceAll("_", " ");
}
