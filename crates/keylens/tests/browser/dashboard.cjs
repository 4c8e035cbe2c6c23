// The dashboard in headless Chromium, driven by playwright-core: run by tests/dashboard.rs, which
// starts `keylens serve` on generated data and answers this script's CONTROL requests (kill the
// server, start it again on the same port) on stdin. Prints one line per check; exits 1 if any
// check failed. Usage: node dashboard.cjs BASE_URL SCREENSHOT_DIR
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");
const path = require("path");
const readline = require("readline");

const [base, shots] = process.argv.slice(2);
const failures = [];
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
}

// CONTROL requests to the Rust side, one reply line each.
const lines = [];
let waiter = null;
readline.createInterface({ input: process.stdin }).on("line", (l) => {
  if (waiter) {
    const w = waiter;
    waiter = null;
    w(l);
  } else lines.push(l);
});
function control(cmd) {
  process.stdout.write(`CONTROL ${cmd}\n`);
  return new Promise((resolve) => (lines.length ? resolve(lines.shift()) : (waiter = resolve)));
}

// Every view, what it must show, and how many uPlot charts it draws.
const VIEWS = [
  ["activation", "", 1],
  ["renewal", "", 2],
  ["revenue", "", 2],
  ["expiry", "", 1],
  ["misuse", "", 0],
  ["lab", "&metric=renewal_rate&a=tier:pro&b=tier:basic", 0],
];

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.KEYLENS_CHROMIUM || "/usr/bin/chromium",
    chromiumSandbox: false,
    // Without these Chromium keeps reaching for Google's hosts, which a closed network refuses.
    args: ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(`${m.text()} (${m.location().url})`));
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  const ready = () => page.waitForSelector('#main[data-ready="true"]', { timeout: 60000 });
  const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  const panels = () => page.$$eval("#main .panel", (ps) => ps.map((p) => ({
    title: p.querySelector("h2").textContent, state: p.dataset.state, error: p.querySelector(".error")?.textContent || "",
  })));

  // 1. Every view renders with data.
  for (const [view, query, charts] of VIEWS) {
    await page.goto(`${base}/?view=${view}${query}`);
    await ready();
    const ps = await panels();
    check(ps.length > 0, `${view}: has panels`);
    for (const p of ps) check(p.state === "ready", `${view}: "${p.title}" shows data (${p.state}${p.error ? `: ${p.error}` : ""})`);
    const drawn = await page.locator("#main canvas").count();
    check(drawn >= charts, `${view}: ${charts} chart(s) drawn (found ${drawn} canvases)`);
    await shot(view);
  }
  // The expiring list is fetched a page at a time: 200 rows, and how many there are in all.
  await page.goto(`${base}/?view=expiry`);
  await ready();
  const expiring = page.locator(".panel", { hasText: "Expiring soon" });
  const listed = await expiring.locator("tbody tr").count();
  const note = (await expiring.locator(".note").allTextContents()).join(" ");
  const total = Number((/Showing the first 200 of ([\d,]+)/.exec(note) || [, "0"])[1].replace(/,/g, ""));
  check(listed === 200 && total > 200, `expiry: 200 of ${total} expiring licenses listed (${listed} rows; "${note}")`);
  await page.goto(`${base}/?view=lab&metric=renewal_rate&a=tier:pro&b=tier:basic`);
  await ready();
  const verdict = await page.textContent(".verdict");
  check(/difference|beats|trails|Not enough data/.test(verdict), `lab: verdict in words: "${verdict}"`);

  // 2. Misuse links to the license page, which shows the license's state and timeline.
  await page.goto(`${base}/?view=misuse`);
  await ready();
  const flagged = await page.locator(".flagged > li").count();
  check(flagged > 0, `misuse: ${flagged} flagged licenses listed`);
  await page.click(".flagged > li:first-child .who a");
  await page.waitForURL(/view=license/);
  await ready();
  const ps = await panels();
  check(ps.length === 1 && ps[0].state === "ready", "license: the page shows the license");
  const timeline = await page.locator("#main table").last().locator("tbody tr").count();
  check(timeline > 0, `license: timeline of ${timeline} events`);
  await shot("license");

  // 3. A filter change updates the charts and the URL; the link reproduces the view.
  await page.goto(`${base}/`);
  await ready();
  const tierText = () => page.locator(".panel", { hasText: "Activation rate by tier" }).locator(".intervals").innerText();
  const chartPixels = () => page.$eval("#main canvas", (c) => c.toDataURL());
  const [textBefore, pixelsBefore] = [await tierText(), await chartPixels()];
  await page.selectOption('select[name="model"]', "subscription");
  await page.waitForURL(/model=subscription/);
  await ready();
  const [textAfter, pixelsAfter] = [await tierText(), await chartPixels()];
  check(page.url().includes("model=subscription"), `filter: the URL carries it (${page.url()})`);
  check(textAfter !== textBefore, "filter: the activation rates changed");
  check(pixelsAfter !== pixelsBefore, "filter: the activations chart was redrawn with other data");
  await shot("activation-filtered");
  await page.reload();
  await ready();
  check((await page.inputValue('select[name="model"]')) === "subscription", "filter: a shared link restores the filter");
  check((await tierText()) === textAfter, "filter: a shared link shows the same numbers");

  // 4. Keyboard: the view tabs are links reachable and followed with the keyboard.
  await page.focus("#views a:nth-child(2)");
  await page.keyboard.press("Enter");
  await page.waitForURL(/view=renewal/);
  await ready();
  check(page.url().includes("model=subscription"), "keyboard: the next view keeps the filters");

  // 5. The live header follows an event ingested over HTTP within 2 seconds, without reload.
  await page.goto(`${base}/`);
  await ready();
  await page.waitForSelector("#live.live", { timeout: 10000 });
  await page.$eval("#main .grid", (g) => (g.dataset.before = "yes"));
  const kpi = '[data-kpi="first_activations_24h"] dd';
  await page.waitForFunction((sel) => document.querySelector(sel).textContent !== "–", kpi, { timeout: 10000 });
  const kpiBefore = await page.textContent(kpi);
  // Three new licenses, each created and first activated now. The header's 24 h window slides
  // too: an older first activation leaving it while these arrive would cancel one of them, and
  // the figure would stay as it was although the header followed. Three leaving within the same
  // seconds does not happen. (One CI run saw 7 -> 7 with one license; whether the window or a
  // header that lagged, it did not say: on a miss, the check now prints the server's figure.)
  const id = `browser-${Date.now()}`;
  const now = new Date().toISOString();
  const events = [0, 1, 2].flatMap((n) => [
    { id: `${id}-${n}-created`, type: "license.created", timestamp: now, license_id: `${id}-${n}`, product: "studio", model: "subscription", tier: "pro", term: "P1Y" },
    { id: `${id}-${n}-activated`, type: "license.activated", timestamp: now, license_id: `${id}-${n}`, machine_id: `m-browser-${n}` },
  ]);
  const posted = Date.now();
  const answer = await (await fetch(`${base}/v1/events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(events) })).json();
  check(answer.accepted === 6, `live: the events were accepted (${JSON.stringify(answer)})`);
  let changed = true;
  try {
    await page.waitForFunction(([sel, before]) => document.querySelector(sel).textContent !== before, [kpi, kpiBefore], { timeout: 2000, polling: 50 });
  } catch (e) {
    changed = false;
  }
  const kpiAfter = await page.textContent(kpi);
  // On a miss, what the server answers now tells a header that lagged from a figure that did not move.
  const server = changed ? "" : `; the server's overview now says ${JSON.stringify((await (await fetch(`${base}/v1/metrics/overview`)).json()).rows?.[0]?.first_activations_24h)}`;
  check(changed, `live: first activations went ${kpiBefore} -> ${kpiAfter} in ${Date.now() - posted} ms (limit 2000)${server}`);
  await shot("live-header");
  let redrawn = true;
  try {
    await page.waitForFunction(() => {
      const g = document.querySelector("#main .grid:not(.staging)");
      return g && !g.dataset.before && document.querySelector("#main").dataset.ready === "true";
    }, null, { timeout: 15000 });
  } catch (e) {
    redrawn = false;
  }
  check(redrawn, `live: the charts were redrawn with the new data (${Date.now() - posted} ms after the event; at most every 10 s)`);

  // 6. The connection drops and comes back: both are shown.
  const before = errors.length;
  await control("kill");
  let lost = true;
  try {
    await page.waitForSelector("#live.down", { timeout: 15000 });
  } catch (e) {
    lost = false;
  }
  check(lost, `live: a lost connection is shown ("${await page.textContent("#live")}")`);
  await shot("connection-lost");
  await control("start");
  let back = true;
  try {
    await page.waitForFunction(() => document.querySelector("#live").textContent === "live again", null, { timeout: 30000 });
  } catch (e) {
    back = false;
  }
  check(back, `live: the reconnection is shown ("${await page.textContent("#live")}")`);
  // The browser reports its refused reconnection attempts during the outage we caused: expected.
  const outage = errors.splice(before).filter((e) => !/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|net::ERR_/.test(e));
  errors.push(...outage);

  // 7. A phone's width: one column, nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  for (const view of ["activation", "revenue"]) {
    await page.goto(`${base}/?view=${view}`);
    await ready();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `phone: ${view} fits 390 px (overflow ${overflow} px)`);
    await shot(`${view}-phone`);
  }

  check(errors.length === 0, `no console errors${errors.length ? `: ${errors.join(" | ")}` : ""}`);
  await browser.close();
}

main().then(
  () => {
    console.log(failures.length ? `${failures.length} check(s) failed` : "all checks passed");
    process.exit(failures.length ? 1 : 0);
  },
  (e) => {
    console.log(`FAIL ${e.stack || e}`);
    process.exit(1);
  },
);
