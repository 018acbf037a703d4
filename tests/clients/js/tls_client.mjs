// tls_client.mjs — checks a TLS-enabled NATS server with the real nats.js v2 client.
//
//   node tls_client.mjs URL tls CA [CERT KEY]         connect with
//        tls: { ca, cert, key } (file contents), then pub/sub in order, a
//        large message, headers and request/reply over TLS
//   node tls_client.mjs URL tls-reject CA [CERT KEY]  the connect must fail
//
// One line per check on stdout ("PASS name: ..." / "FAIL name: ..."), then
// SUMMARY; exit status 0 when all passed, 1 otherwise, 2 on usage errors.
// Every wait is bounded; nothing is judged by how long it took. "Everything
// has arrived" is known from a sentinel published last (a server delivers one
// publisher's messages to one subscriber in order).
import { readFileSync } from "node:fs";
import { connect, headers, StringCodec } from "nats";

const WAIT_MS = 5000;
const sc = StringCodec();
const [url, mode, caFile, certFile, keyFile] = process.argv.slice(2);
if (!url || (mode !== "tls" && mode !== "tls-reject") || !caFile || (certFile && !keyFile) ||
    process.argv.length > 7) {
  console.error("usage: node tls_client.mjs URL tls|tls-reject CA [CERT KEY]");
  process.exit(2);
}

let passed = 0;
let failed = 0;
setTimeout(() => {
  console.log("FAIL watchdog: no result after 60s");
  process.exit(1);
}, 60000).unref();

function result(ok, name, detail) {
  console.log(`${ok ? "PASS" : "FAIL"} ${name}: ${detail}`);
  if (ok) passed++;
  else failed++;
}

function tlsOpts() {
  const t = { ca: readFileSync(caFile, "utf8") };
  if (certFile) {
    t.cert = readFileSync(certFile, "utf8");
    t.key = readFileSync(keyFile, "utf8");
  }
  return t;
}

function conn(name) {
  return connect({ servers: url, name, timeout: WAIT_MS, reconnect: false, tls: tlsOpts() });
}

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

// Next n messages from a subscription's iterator (bounded).
async function take(it, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = await bounded(it.next(), WAIT_MS, null);
    if (r === null || r.done) break;
    out.push(r.value);
  }
  return out;
}

async function checkTls() {
  let nc;
  try {
    nc = await conn("natsjs-tls-connect");
    result(true, "tls.connect", `connected to ${url} over TLS`);
  } catch (err) {
    result(false, "tls.connect", `connect failed: ${err.message} (${err.code})`);
    return;
  }
  const info = nc.info || {};
  result(info.tls_required === true, "tls.info", `INFO tls_required ${info.tls_required}`);
  await nc.close();

  const s = await conn("natsjs-tls-sub");
  const p = await conn("natsjs-tls-pub");
  const N = 200;
  const sub = s.subscribe("tls.js");
  const it = sub[Symbol.asyncIterator]();
  await s.flush();
  for (let i = 0; i < N; i++) p.publish("tls.js", sc.encode(`m${i}`));
  p.publish("tls.js", sc.encode("END"));
  await p.flush();
  const got = (await take(it, N + 1)).map((m) => sc.decode(m.data));
  const want = [...Array(N).keys()].map((i) => `m${i}`).concat(["END"]);
  result(JSON.stringify(got) === JSON.stringify(want), "tls.pubsub", `${got.length}/${N + 1} messages in order`);

  const big = new Uint8Array(400000).map((_, i) => 97 + (i % 26));
  p.publish("tls.js", big);
  const h = headers();
  h.set("X-Tls", "yes");
  p.publish("tls.js", sc.encode("h"), { headers: h });
  await p.flush();
  const [mb, mh] = await take(it, 2);
  const same = mb && mb.data.length === big.length && mb.data.every((b, i) => b === big[i]);
  result(!!same, "tls.large_message", `400000-byte message ${mb ? mb.data.length : "missing"}`);
  result(!!mh && mh.headers && mh.headers.get("X-Tls") === "yes", "tls.headers",
    `X-Tls '${mh && mh.headers ? mh.headers.get("X-Tls") : "(none)"}'`);
  sub.unsubscribe();

  const svc = s.subscribe("tls.js.echo", {
    callback: (err, m) => {
      if (!err) m.respond(sc.encode(`echo:${sc.decode(m.data)}`));
    },
  });
  await s.flush();
  let good = 0;
  let last = "";
  for (let i = 0; i < 20; i++) {
    try {
      const r = await p.request("tls.js.echo", sc.encode(`q${i}`), { timeout: WAIT_MS });
      if (sc.decode(r.data) === `echo:q${i}`) good++;
      else last = `reply ${i}: ${sc.decode(r.data)}`;
    } catch (err) {
      last = `request ${i}: ${err.message}`;
    }
  }
  result(good === 20, "tls.request_reply", `${good}/20 correct replies ${last}`);
  svc.unsubscribe();
  await bounded(s.close(), WAIT_MS);
  await bounded(p.close(), WAIT_MS);
}

async function checkReject() {
  try {
    const nc = await conn("natsjs-tls-reject");
    // a TLS 1.3 server may refuse the client cert only after the handshake:
    // the connection must then fail on first use
    const err = await bounded(nc.flush().then(() => null, (e) => e), WAIT_MS, "timeout");
    result(err !== null, "tls.rejected", `connected; flush -> ${err === null ? "ok" : err.message || err}`);
    await bounded(nc.close().catch(() => {}), WAIT_MS);
  } catch (err) {
    result(true, "tls.rejected", `connect failed: ${err.message} (${err.code})`);
  }
}

try {
  if (mode === "tls") await checkTls();
  else await checkReject();
} catch (err) {
  result(false, "exception", `${err.stack || err}`);
}
console.log(`SUMMARY ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
