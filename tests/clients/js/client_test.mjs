// client_test.mjs — checks a NATS server with the real nats.js v2 client.
//
//   node client_test.mjs URL            protocol checks (connect, wildcards,
//                                       queue groups, request/reply, headers,
//                                       no-responders, auto-unsubscribe, drain)
//   node client_test.mjs URL reconnect  prints "READY" once connected, then
//                                       waits (bounded) for the server to go
//                                       away and come back on the same URL; the
//                                       caller restarts the server after READY.
//
// One line per check on stdout ("PASS name: ..." / "FAIL name: ..."); exit
// status 0 when all passed, 1 otherwise. Every wait is bounded; nothing is
// judged by how long it took. As in the C client test, "everything has
// arrived" is known from a sentinel published last: a server delivers the
// messages of one publisher connection to one subscriber connection in order.
import { connect, headers, ErrorCode, Events, StringCodec } from "nats";

const WAIT_MS = 5000;
const sc = StringCodec();
const url = process.argv[2];
const mode = process.argv[3] || "";
if (!url || (mode !== "" && mode !== "reconnect") || process.argv.length > 4) {
  console.error("usage: node client_test.mjs URL [reconnect]");
  process.exit(2);
}

let passed = 0;
let failed = 0;

// Waits inside nats.js (flush, close) have no timeout of their own: a
// watchdog turns a hang into a FAIL line (the caller also kills at a bound).
let current = "start";
setTimeout(() => {
  console.log(`FAIL watchdog: no result after 90s, stuck in ${current}`);
  process.exit(1);
}, 90000).unref();
function result(ok, name, detail) {
  console.log(`${ok ? "PASS" : "FAIL"} ${name}: ${detail}`);
  if (ok) passed++;
  else failed++;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Resolves to the promise's value, or to `fallback` after ms.
async function bounded(promise, ms, fallback) {
  let timer;
  const t = new Promise((r) => {
    timer = setTimeout(() => r(fallback), ms);
  });
  try {
    return await Promise.race([promise, t]);
  } finally {
    clearTimeout(timer);
  }
}

// Callback subscription that records every message; until() waits (bounded)
// for a condition on the recorded messages.
class Collector {
  constructor() {
    this.msgs = [];
    this.waiters = [];
    this.cb = (err, m) => {
      if (err) {
        this.err = err;
      } else {
        this.msgs.push(m);
      }
      this.waiters = this.waiters.filter((w) => !w());
    };
  }
  data() {
    return this.msgs.map((m) => sc.decode(m.data));
  }
  until(pred, ms = WAIT_MS) {
    if (pred(this.msgs)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(false);
      }, ms);
      const check = () => {
        if (!pred(this.msgs)) return false;
        clearTimeout(timer);
        resolve(true);
        return true;
      };
      this.waiters.push(check);
    });
  }
  hasData(s, ms = WAIT_MS) {
    return this.until((msgs) => msgs.some((m) => sc.decode(m.data) === s), ms);
  }
}

function conn(name, extra = {}) {
  return connect({
    servers: url,
    name,
    timeout: WAIT_MS,
    reconnect: false,
    ...extra,
  });
}

// ---------------------------------------------------------------- connect
async function checkConnect() {
  let nc;
  try {
    nc = await conn("natsjs-connect");
    result(true, "connect", `connected to ${url}`);
  } catch (err) {
    result(false, "connect", `connect(${url}) failed: ${err.message}`);
    throw err;
  }
  const info = nc.info || {};
  result(typeof info.server_id === "string" && info.server_id.length > 0, "connect.server_id",
    `INFO server_id '${info.server_id}'`);
  result(info.max_payload > 0, "connect.max_payload", `INFO max_payload ${info.max_payload}`);
  result(info.headers === true, "connect.headers_supported", `INFO headers ${info.headers}`);
  let ok = true;
  try {
    await nc.flush();
  } catch (err) {
    ok = false;
  }
  result(ok, "connect.ping_pong", `flush ${ok ? "ok" : "failed"}`);
  const rtt = await bounded(nc.rtt().catch(() => -1), WAIT_MS, -1);
  result(rtt >= 0, "connect.rtt", `rtt() -> ${rtt >= 0 ? "ok" : "failed"}`);
  await nc.close();
}

// ---------------------------------------------------------------- wildcards
async function checkWildcards() {
  const subjects = ["w.*.x", "w.>", "w.a.x", "*.a.>"];
  // subject published, and which subscriptions match (bit i = subjects[i])
  const pubs = [
    ["w.a.x", 0xf], ["w.b.x", 0x3], ["w.a.y", 0xa], ["w.a.y.z", 0xa],
    ["w", 0x0], ["w.a", 0x2], ["w.b.x.y", 0x2], ["v.a.x", 0x8],
    ["w.ab.x", 0x3], ["x.b.x", 0x0], ["wa.a.x", 0x8], ["w.a.x.y.z", 0xa],
  ];
  const s = await conn("natsjs-wild-sub");
  const p = await conn("natsjs-wild-pub");
  const cols = subjects.map((subj) => {
    const c = new Collector();
    s.subscribe(subj, { callback: c.cb });
    return c;
  });
  await s.flush();
  pubs.forEach(([subj], j) => p.publish(subj, sc.encode(`m${j}`)));
  p.publish("w.a.x", sc.encode("END")); // sentinel, matches every subscription
  await p.flush();
  for (let i = 0; i < subjects.length; i++) {
    const want = pubs.flatMap(([subj, mask], j) => ((mask >> i) & 1 ? [`${subj}=m${j}`] : []));
    want.push("w.a.x=END");
    const arrived = await cols[i].hasData("END");
    const got = cols[i].msgs.map((m) => `${m.subject}=${sc.decode(m.data)}`);
    if (!arrived) got.push("<timeout>");
    result(want.join(" ") === got.join(" "), `pubsub.wildcard[${subjects[i]}]`,
      `want [${want.join(" ")}] got [${got.join(" ")}]`);
  }
  await s.close();
  await p.close();
}

// ---------------------------------------------------------------- queue groups
async function checkQueue() {
  const N = 1000;
  const c1 = await conn("natsjs-q1");
  const c2 = await conn("natsjs-q2");
  const cw = await conn("natsjs-q-watch");
  const p = await conn("natsjs-q-pub");
  const memberConns = [c1, c2, c1]; // two connections, two members on c1
  const members = memberConns.map((c) => {
    const col = new Collector();
    c.subscribe("q.work", { queue: "workers", callback: col.cb });
    return col;
  });
  const watch = new Collector();
  cw.subscribe("q.work", { callback: watch.cb });
  const ends = [c1, c2, cw].map((c) => {
    const col = new Collector();
    c.subscribe("q.end", { callback: col.cb });
    return col;
  });
  await Promise.all([c1.flush(), c2.flush(), cw.flush()]);
  for (let i = 0; i < N; i++) p.publish("q.work", sc.encode(String(i)));
  p.publish("q.end", sc.encode("END"));
  await p.flush();
  const endOk = (await Promise.all(ends.map((e) => e.hasData("END")))).every(Boolean);
  result(endOk, "queue.sentinel", "end marker reached all three connections");
  const seen = new Array(N).fill(0);
  let dup = 0;
  let bad = 0;
  const per = members.map((m) => {
    for (const d of m.data()) {
      const v = Number(d);
      if (!Number.isInteger(v) || v < 0 || v >= N) {
        bad++;
        continue;
      }
      if (seen[v]++) dup++;
    }
    return m.msgs.length;
  });
  const missing = seen.filter((x) => x === 0).length;
  const total = per.reduce((a, b) => a + b, 0);
  result(missing === 0 && dup === 0 && bad === 0 && total === N, "queue.exactly_once",
    `${N} messages: members got ${per.join("+")}, missing ${missing}, duplicates ${dup}, garbage ${bad}`);
  result(per.every((n) => n > 0), "queue.spread", `every member got some (${per.join("/")})`);
  const wd = watch.data();
  const inOrder = wd.every((d, i) => d === String(i));
  result(wd.length === N && inOrder, "queue.plain_sub_alongside",
    `plain subscriber got ${wd.length}/${N}, in order: ${inOrder ? "yes" : "no"}`);
  for (const c of [c1, c2, cw, p]) await c.close();
}

// ---------------------------------------------------------------- request/reply
async function checkRequestReply() {
  const N = 50;
  const r = await conn("natsjs-responder");
  const c = await conn("natsjs-requester");
  r.subscribe("svc.echo", {
    callback: (err, m) => {
      if (err || !m.reply) return;
      let h;
      const rid = m.headers ? m.headers.get("X-Req-Id") : "";
      if (rid) {
        h = headers();
        h.set("X-Req-Id", rid);
      }
      m.respond(sc.encode(`echo:${sc.decode(m.data)}`), h ? { headers: h } : undefined);
    },
  });
  await r.flush();
  let good = 0;
  let last = "";
  for (let i = 0; i < N; i++) {
    try {
      const rep = await c.request("svc.echo", sc.encode(`hello-${i}`), { timeout: WAIT_MS });
      const got = sc.decode(rep.data);
      if (got === `echo:hello-${i}`) good++;
      else last = `request ${i}: got '${got}'`;
    } catch (err) {
      last = `request ${i}: ${err.message}`;
    }
  }
  result(good === N, "request_reply", `${good}/${N} correct replies ${last}`);

  // concurrent requests through the client's shared reply subscription
  const many = await Promise.allSettled(
    Array.from({ length: N }, (_, i) => c.request("svc.echo", sc.encode(`par-${i}`), { timeout: WAIT_MS })),
  );
  const pgood = many.filter((x, i) => x.status === "fulfilled" && sc.decode(x.value.data) === `echo:par-${i}`).length;
  result(pgood === N, "request_reply.concurrent", `${pgood}/${N} concurrent requests answered correctly`);

  const h = headers();
  h.set("X-Req-Id", "id-42");
  let rid = "(none)";
  let body = "";
  try {
    const rep = await c.request("svc.echo", sc.encode("hdr"), { timeout: WAIT_MS, headers: h });
    rid = rep.headers ? rep.headers.get("X-Req-Id") : "(none)";
    body = sc.decode(rep.data);
  } catch (err) {
    rid = `error ${err.message}`;
  }
  result(rid === "id-42" && body === "echo:hdr", "request_reply.headers", `reply X-Req-Id '${rid}' body '${body}'`);
  await r.close();
  await c.close();
}

// ---------------------------------------------------------------- headers
async function checkHeaders() {
  const s = await conn("natsjs-hdr-sub");
  const p = await conn("natsjs-hdr-pub");
  const col = new Collector();
  s.subscribe("hdr.x", { callback: col.cb });
  await s.flush();
  const h = headers();
  h.set("X-Test", "v1");
  h.append("X-Multi", "a");
  h.append("X-Multi", "b c");
  p.publish("hdr.x", sc.encode("payload-1"), { headers: h, reply: "reply.to" });
  const h2 = headers();
  h2.set("X-Only", "yes");
  p.publish("hdr.x", new Uint8Array(0), { headers: h2 });
  p.publish("hdr.x", sc.encode("plain"));
  await p.flush();
  await col.until((m) => m.length >= 3);
  const [m1, m2, m3] = col.msgs;
  if (!m1) {
    result(false, "headers.roundtrip", "no message");
  } else {
    const v = m1.headers ? m1.headers.get("X-Test") : "(missing)";
    result(v === "v1", "headers.roundtrip", `X-Test = '${v}'`);
    const vals = m1.headers ? m1.headers.values("X-Multi") : [];
    result(vals.length === 2 && vals[0] === "a" && vals[1] === "b c", "headers.multi_value",
      `X-Multi values ${JSON.stringify(vals)} (want ["a","b c"])`);
    result(sc.decode(m1.data) === "payload-1" && m1.reply === "reply.to", "headers.payload_and_reply",
      `payload '${sc.decode(m1.data)}' reply '${m1.reply}'`);
  }
  const only = m2 && m2.headers ? m2.headers.get("X-Only") : "(missing)";
  result(m2 !== undefined && only === "yes" && m2.data.length === 0, "headers.empty_body",
    `X-Only '${only}', body ${m2 ? m2.data.length : -1} bytes`);
  result(m3 !== undefined && m3.headers === undefined && sc.decode(m3.data) === "plain", "headers.none_on_plain_msg",
    `plain message: ${m3 ? `headers ${m3.headers === undefined ? "none" : "present"}` : "missing"}`);
  await s.close();
  await p.close();
}

// ---------------------------------------------------------------- no responders
async function checkNoResponders() {
  const c = await conn("natsjs-noresp");
  const t0 = Date.now();
  let code = "no error";
  try {
    // long timeout: the check is the server's 503, not a client timeout
    await c.request("nobody.listens.here", sc.encode("x"), { timeout: 10000 });
    code = "got a reply";
  } catch (err) {
    code = err.code;
  }
  result(code === ErrorCode.NoResponders, "no_responders",
    `request -> code ${code} after ${Date.now() - t0} ms (want ${ErrorCode.NoResponders})`);
  await c.close();
}

// ---------------------------------------------------------------- auto-unsubscribe
async function checkAutoUnsubscribe() {
  const MAX = 5;
  const SENT = 12;
  const s = await conn("natsjs-au-sub");
  const p = await conn("natsjs-au-pub");
  const col = new Collector();
  const sub = s.subscribe("au.x", { max: MAX, callback: col.cb }); // SUB + UNSUB <sid> 5
  const end = new Collector();
  s.subscribe("au.end", { callback: end.cb });
  await s.flush();
  const in0 = s.stats().inMsgs;
  for (let i = 0; i < SENT; i++) p.publish("au.x", sc.encode(String(i)));
  p.publish("au.end", sc.encode("END"));
  await p.flush();
  const endOk = await end.hasData("END");
  const got = col.data();
  result(endOk && got.join(",") === "0,1,2,3,4", "auto_unsubscribe.client",
    `max ${MAX}, published ${SENT}, received [${got.join(",")}]`);
  result(sub.isClosed(), "auto_unsubscribe.closed", `subscription closed after max: ${sub.isClosed()}`);
  // the client counts every MSG the server sent, even for a sid it dropped
  const inn = s.stats().inMsgs - in0;
  result(inn === MAX + 1, "auto_unsubscribe.server", `server sent ${inn} messages (want ${MAX} + sentinel)`);
  await s.close();
  await p.close();
}

// ---------------------------------------------------------------- drain
// Messages for an iterator subscription queue up in the client until read;
// the drain starts before any is read, so all of them are in flight.
async function consume(sub, ms) {
  const got = [];
  const done = (async () => {
    for await (const m of sub) got.push(sc.decode(m.data));
    return true;
  })();
  const finished = await bounded(done, ms, false);
  return { got, finished };
}

async function checkSubDrain() {
  const N = 500;
  const LATE = 10;
  const s = await conn("natsjs-drain-sub");
  const p = await conn("natsjs-drain-pub");
  const sub = s.subscribe("dr.s");
  const end = new Collector();
  s.subscribe("dr.end", { callback: end.cb });
  await s.flush();
  const in0 = s.stats().inMsgs;
  for (let i = 0; i < N; i++) p.publish("dr.s", sc.encode(String(i)));
  await p.flush(); // the server has accepted all N before the drain starts
  const drained = sub.drain().then(() => true, (err) => `error ${err.message}`);
  const { got, finished } = await consume(sub, 15000);
  const dres = await bounded(drained, 15000, "timeout");
  const inOrder = got.every((d, i) => d === String(i));
  result(finished && dres === true && got.length === N && inOrder, "drain.subscription",
    `drain -> ${dres}, iterator ended: ${finished}, got ${got.length}/${N}, in order: ${inOrder}`);
  result(sub.isClosed(), "drain.subscription.closed", `subscription closed after drain: ${sub.isClosed()}`);
  for (let i = 0; i < LATE; i++) p.publish("dr.s", sc.encode(String(N + i)));
  p.publish("dr.end", sc.encode("END"));
  await p.flush();
  const endOk = await end.hasData("END");
  const inn = s.stats().inMsgs - in0;
  result(endOk && inn === N + 1, "drain.subscription.unsubscribed",
    `server sent ${inn} on the connection (want ${N} + sentinel)`);
  await s.close();
  await p.close();
}

async function checkConnDrain() {
  const N = 300;
  const s = await conn("natsjs-cdrain-sub");
  const p = await conn("natsjs-cdrain-pub");
  const sa = s.subscribe("cd.a");
  const sb = s.subscribe("cd.b");
  await s.flush();
  for (let i = 0; i < N; i++) {
    p.publish("cd.a", sc.encode(String(i)));
    p.publish("cd.b", sc.encode(String(i)));
  }
  await p.flush();
  const drained = s.drain().then(() => true, (err) => `error ${err.message}`);
  const [ra, rb] = await Promise.all([consume(sa, 15000), consume(sb, 15000)]);
  const dres = await bounded(drained, 15000, "timeout");
  const closedRes = await bounded(s.closed().then(() => true), 5000, false);
  result(dres === true && closedRes && s.isClosed(), "drain.connection.closed",
    `drain -> ${dres}, connection closed: ${s.isClosed()}`);
  const okA = ra.finished && ra.got.length === N && ra.got.every((d, i) => d === String(i));
  const okB = rb.finished && rb.got.length === N && rb.got.every((d, i) => d === String(i));
  result(okA && okB, "drain.connection", `subscriptions got ${ra.got.length}/${N} and ${rb.got.length}/${N} in order: ${okA && okB}`);
  let perr = "no error";
  try {
    s.publish("cd.a", sc.encode("late"));
  } catch (err) {
    perr = err.code;
  }
  result(perr === ErrorCode.ConnectionClosed, "drain.connection.no_publish", `publish after drain -> ${perr}`);
  await p.close();
}

// ---------------------------------------------------------------- reconnect
function watchStatus(nc) {
  const ev = { disconnect: 0, reconnect: 0, waiters: [] };
  (async () => {
    for await (const st of nc.status()) {
      if (st.type === Events.Disconnect) ev.disconnect++;
      if (st.type === Events.Reconnect) ev.reconnect++;
      ev.waiters = ev.waiters.filter((w) => !w());
    }
  })().catch(() => {});
  ev.until = (key, n, ms) => {
    if (ev[key] >= n) return Promise.resolve(true);
    return bounded(new Promise((resolve) => ev.waiters.push(() => (ev[key] >= n ? (resolve(true), true) : false))), ms, false);
  };
  return ev;
}

async function checkReconnect() {
  const ropts = { reconnect: true, maxReconnectAttempts: 400, reconnectTimeWait: 100, reconnectJitter: 20 };
  const a = await conn("natsjs-rc-a", ropts);
  const b = await conn("natsjs-rc-b", ropts);
  const ea = watchStatus(a);
  const eb = watchStatus(b);
  const ca = new Collector();
  a.subscribe("rc.x", { callback: ca.cb });
  await a.flush();
  b.publish("rc.x", sc.encode("before"));
  await b.flush();
  result(await ca.hasData("before"), "reconnect.before", "pub/sub works before the restart");
  const id0 = a.info.server_id;

  console.log("READY");

  const da = await ea.until("disconnect", 1, 30000);
  const db = await eb.until("disconnect", 1, 30000);
  result(da && db, "reconnect.disconnected", "both connections saw the server go away");
  const ra = await ea.until("reconnect", 1, 30000);
  const rb = await eb.until("reconnect", 1, 30000);
  result(ra && rb, "reconnect.reconnected", `both connections reconnected (a: ${ra}, b: ${rb})`);
  if (!(ra && rb)) {
    await a.close();
    await b.close();
    return;
  }
  console.log(`INFO server_id before ${id0} after ${a.info.server_id}`);

  // the subscription made before the restart was re-registered
  await a.flush();
  b.publish("rc.x", sc.encode("after"));
  await b.flush();
  result(await ca.hasData("after"), "reconnect.resubscribed",
    "old subscription receives from another connection after reconnect");

  const cb = new Collector();
  b.subscribe("rc.y", { callback: cb.cb });
  await b.flush();
  a.publish("rc.y", sc.encode("new"));
  await a.flush();
  result(await cb.hasData("new"), "reconnect.new_subscription", "new subscription works after reconnect");

  let code = "no error";
  try {
    await a.request("rc.nobody", sc.encode("x"), { timeout: 10000 });
  } catch (err) {
    code = err.code;
  }
  result(code === ErrorCode.NoResponders, "reconnect.headers_renegotiated",
    `no-responders still works after reconnect (code ${code})`);
  await a.close();
  await b.close();
}

async function main() {
  const checks = mode === "reconnect"
    ? [checkReconnect]
    : [checkConnect, checkWildcards, checkQueue, checkRequestReply, checkHeaders, checkNoResponders,
      checkAutoUnsubscribe, checkSubDrain, checkConnDrain];
  for (const check of checks) {
    current = check.name;
    await check();
  }
}

try {
  await main();
} catch (err) {
  result(false, "unexpected_error", err && err.stack ? err.stack.split("\n").join(" | ") : String(err));
}
console.log(`SUMMARY ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
