// ldm_test.mjs — a real nats.js client rides out a lame duck server.
//
//   node ldm_test.mjs URL_A URL_B
//
// Connects to A (with B in its server list), subscribes, prints "READY";
// the caller then puts A into lame duck mode. The client must be told by A
// (nats.js emits an "ldm" status), be disconnected, reconnect to B and keep
// its subscription working there. One PASS/FAIL line per check; exit 0 when
// all passed. Every wait is bounded.
import { connect, Events, StringCodec } from "nats";

const [urlA, urlB] = process.argv.slice(2);
if (!urlA || !urlB) {
  console.error("usage: node ldm_test.mjs URL_A URL_B");
  process.exit(2);
}
const sc = StringCodec();
let failed = 0;
function result(ok, name, detail) {
  console.log(`${ok ? "PASS" : "FAIL"} ${name}: ${detail}`);
  if (!ok) failed++;
}
setTimeout(() => {
  console.log("FAIL watchdog: no result after 60s");
  process.exit(1);
}, 60000).unref();

const nc = await connect({
  servers: [urlA, urlB],
  noRandomize: true,
  reconnectTimeWait: 100,
  maxReconnectAttempts: -1,
});
let sawLdm = false;
let reconnectedTo = null;
let disconnected = false;
let resolveReconnect;
const reconnected = new Promise((r) => (resolveReconnect = r));
(async () => {
  for await (const s of nc.status()) {
    if (s.type === Events.LDM) sawLdm = true;
    if (s.type === Events.Disconnect) disconnected = true;
    if (s.type === Events.Reconnect) {
      reconnectedTo = String(s.data);
      resolveReconnect();
    }
  }
})();

const got = [];
const sub = nc.subscribe("ldm.test");
(async () => {
  for await (const m of sub) got.push(sc.decode(m.data));
})();
await nc.flush();
result(nc.getServer().includes(urlA.replace("nats://", "")), "connected_to_a", nc.getServer());
console.log("READY");

const timeout = new Promise((r) => setTimeout(() => r("timeout"), 30000));
const which = await Promise.race([reconnected.then(() => "ok"), timeout]);
result(which === "ok", "reconnected", `to ${reconnectedTo}`);
result(disconnected, "disconnected", `${disconnected}`);
result(sawLdm, "ldm_status", `${sawLdm}`);
result(reconnectedTo !== null && reconnectedTo.includes(urlB.replace("nats://", "")), "reconnected_to_b", `${reconnectedTo}`);
nc.publish("ldm.test", sc.encode("after"));
await nc.flush();
for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
result(got.includes("after"), "subscription_survives", JSON.stringify(got));
await nc.close();
process.exit(failed ? 1 : 0);
