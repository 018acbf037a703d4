// dashboard_test.mjs — open gannet's /dashboard in a real (headless) Chromium
// and report what the page shows.
//
//   node dashboard_test.mjs [--port MPORT] [--path /dashboard] [--polls N]
//                           [--screenshot FILE] [--timeout MS] [--viewport WxH]
//
// MPORT may also come from the environment (MPORT). The script loads
// http://127.0.0.1:MPORT<path>, records console messages of type error,
// uncaught page errors, failed requests, non-2xx responses and every URL the
// page requested; waits until the page has taken N /varz samples (<body
// data-polls>) and no section is still loading; then reads, in one
// evaluation (so one consistent snapshot of the page), the numbers in the
// elements with stable ids (their data-value), each section's state, the
// rows of the shard, connection and subject tables, and whether each chart
// canvas has pixels drawn. Prints one JSON object on stdout; exit 0 when the
// page was read (the caller asserts on the content), 1 otherwise.
// Every wait is bounded; a watchdog ends the whole run after 55 s.
import { chromium } from "playwright-core";

function arg(name, dflt) {
  const i = process.argv.indexOf("--" + name);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  return dflt;
}
const port = arg("port", process.env.MPORT || process.argv[2]);
const path = arg("path", "/dashboard");
const wantPolls = Number(arg("polls", "3"));
const shot = arg("screenshot", null);
const timeoutMs = Number(arg("timeout", "30000"));
const [vw, vh] = String(arg("viewport", "1400x1000")).split("x").map(Number);
if (!port || !/^\d+$/.test(String(port))) {
  console.error("usage: node dashboard_test.mjs --port MPORT [--path /dashboard] [--polls N] [--screenshot FILE]");
  process.exit(2);
}
const url = `http://127.0.0.1:${port}${path}`;
const t0 = Date.now();

const out = {
  url, ok: false, status: null, content_type: null, timed_out: false, error: null,
  console_errors: [], page_errors: [], request_failures: [], bad_responses: [], requests: [],
  values: {}, sections: {}, notes: {}, polls: 0, shard_rows: [], conn_rows: [], topz_rows: [],
  charts: {}, screenshot: null, elapsed_ms: 0,
};
let browser = null;
let printed = false;
function finish(code) {
  if (printed) return;
  printed = true;
  out.elapsed_ms = Date.now() - t0;
  process.stdout.write(JSON.stringify(out) + "\n");
  const done = () => process.exit(code);
  if (browser) browser.close().then(done, done); else done();
  setTimeout(done, 5000).unref();
}
setTimeout(() => {
  out.error = "watchdog: no result after 55 s";
  finish(1);
}, 55000).unref();

const IDS = ["connections", "total_connections", "subscriptions", "slow_consumers", "in_msgs", "out_msgs",
  "in_bytes", "out_bytes", "in_msgs_rate", "out_msgs_rate", "in_bytes_rate", "out_bytes_rate", "mem", "cpu",
  "server_id", "server_name", "version", "uptime", "shard_count"];

try {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    timeout: 20000,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
      "--disable-extensions", "--disable-background-networking"],
  });
  const page = await browser.newPage({ viewport: { width: vw || 1400, height: vh || 1000 } });
  page.setDefaultTimeout(timeoutMs);
  page.on("console", (m) => {
    if (m.type() === "error") out.console_errors.push({ text: m.text(), location: m.location() });
  });
  page.on("pageerror", (e) => out.page_errors.push(String((e && e.stack) || e)));
  page.on("request", (r) => {
    if (!out.requests.includes(r.url())) out.requests.push(r.url());
  });
  page.on("requestfailed", (r) => {
    // A fetch the page aborted itself (its own timeout) is reported here too.
    out.request_failures.push({ url: r.url(), error: r.failure() && r.failure().errorText });
  });
  page.on("response", (r) => {
    if (r.status() >= 400) out.bad_responses.push({ url: r.url(), status: r.status() });
  });

  const resp = await page.goto(url, { waitUntil: "load", timeout: 15000 });
  out.status = resp ? resp.status() : null;
  out.content_type = resp ? resp.headers()["content-type"] || null : null;

  try {
    await page.waitForFunction(
      (n) => {
        const b = document.body;
        if (!b || Number(b.getAttribute("data-polls") || 0) < n) return false;
        return !document.querySelector('.section[data-state="loading"]');
      },
      wantPolls, { timeout: timeoutMs, polling: 100 });
  } catch (e) {
    out.timed_out = true;
  }

  const snap = await page.evaluate((ids) => {
    const r = { values: {}, sections: {}, notes: {}, shard_rows: [], conn_rows: [], topz_rows: [], charts: {} };
    for (const id of ids) {
      const e = document.getElementById(id);
      r.values[id] = e ? { value: e.getAttribute("data-value"), text: e.textContent } : null;
    }
    for (const s of document.querySelectorAll(".section")) {
      const name = s.id.replace(/_section$/, "");
      r.sections[name] = s.getAttribute("data-state");
      const n = document.getElementById(name + "_note");
      r.notes[name] = n ? n.textContent : null;
    }
    const cells = (tr) => Array.from(tr.cells, (td) => td.textContent);
    for (const tr of document.querySelectorAll("#shard_rows tr[data-shard]"))
      r.shard_rows.push({ id: tr.getAttribute("data-shard"), cells: cells(tr) });
    for (const tr of document.querySelectorAll("#conn_rows tr[data-cid]"))
      r.conn_rows.push({ cid: tr.getAttribute("data-cid"), cells: cells(tr) });
    for (const tr of document.querySelectorAll("#topz_rows tr[data-subject]"))
      r.topz_rows.push({ subject: tr.getAttribute("data-subject"), cells: cells(tr) });
    for (const cv of document.querySelectorAll("canvas")) {
      let inked = 0;
      try {
        const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i]) inked++;
      } catch (e) { inked = -1; }
      r.charts[cv.id] = { width: cv.width, height: cv.height, inked };
    }
    r.polls = Number(document.body.getAttribute("data-polls") || 0);
    return r;
  }, IDS);
  Object.assign(out, snap);
  if (shot) {
    await page.screenshot({ path: shot, fullPage: true, timeout: 10000 });
    out.screenshot = shot;
  }
  out.ok = true;
  finish(0);
} catch (e) {
  out.error = String((e && e.stack) || e);
  finish(1);
}
