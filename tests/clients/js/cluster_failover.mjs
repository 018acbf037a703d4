// cluster_failover.mjs — a nats.js client given one cluster member's URL
// only rides out that member's death through the URLs the cluster
// advertised to it (INFO connect_urls, nats.js's gossiped servers).
// Driven by tests/cluster/test_cluster_clients.py; the same protocol as
// tests/cluster/go/failover:
//
//   node cluster_failover.mjs URL SUBJECT [AFTER]
//
// Connects to URL, subscribes SUBJECT, prints "CONNECTED <server>",
// "DISCOVERED <host:port,...>" and "READY". Messages (decimal sequence
// numbers published by the caller elsewhere in the cluster) are counted;
// once AFTER (default 20) have arrived it prints "TRAFFIC" (the caller then
// kills the member). Prints "DISCONNECTED" and "RECONNECTED <server>" as
// nats.js reports them; once AFTER more messages have arrived after the
// reconnect (or 30 s have passed) it prints "SEQS <i,j,...>" (every number
// received, in arrival order) and "DONE", and exits 0 (1 if it never
// reconnected).
import { connect, Events, StringCodec } from "nats";

const [url, subject, afterArg] = process.argv.slice(2);
if (!url || !subject) {
  console.error("usage: node cluster_failover.mjs URL SUBJECT [AFTER]");
  process.exit(2);
}
const after = Number(afterArg || 20);
const sc = StringCodec();

const nc = await connect({
  servers: [url],
  name: "failover-js",
  maxReconnectAttempts: -1,
  reconnectTimeWait: 100,
});

const seqs = [];
let sinceReconnect = -1; // -1: not reconnected yet
let reconnects = 0;
let disconnects = 0;
let finish;
const finished = new Promise((r) => (finish = r));
const watchdog = setTimeout(() => {
  console.log("TIMEOUT after 30s");
  finish();
}, 30000);

(async () => {
  for await (const s of nc.status()) {
    if (s.type === Events.Disconnect) {
      disconnects++;
      console.log(`DISCONNECTED ${s.data}`);
    }
    if (s.type === Events.Reconnect) {
      reconnects++;
      console.log(`RECONNECTED ${s.data}`);
      if (sinceReconnect < 0) sinceReconnect = 0;
    }
  }
})();

nc.subscribe(subject, {
  callback: (err, m) => {
    if (err) {
      console.log(`ASYNC_ERROR ${err}`);
      return;
    }
    seqs.push(sc.decode(m.data));
    if (seqs.length === after && sinceReconnect < 0) console.log("TRAFFIC");
    if (sinceReconnect >= 0 && ++sinceReconnect >= after) finish();
  },
});
await nc.flush();
console.log(`CONNECTED ${nc.getServer()}`);
let discovered = [];
try {
  discovered = nc.protocol.servers.getServers().filter((s) => s.gossiped).map((s) => s.listen);
} catch (e) {
  console.log(`NOTE no server list: ${e}`);
}
console.log(`DISCOVERED ${discovered.join(",")}`);
console.log(`CONNECT_URLS ${(nc.info && nc.info.connect_urls || []).join(",")}`);
console.log("READY");

await finished;
clearTimeout(watchdog);
console.log(`SEQS ${seqs.join(",")}`);
console.log(`DONE disconnects=${disconnects} reconnects=${reconnects}`);
await nc.close().catch(() => {});
process.exit(reconnects > 0 ? 0 : 1);
