import { startRelayCluster } from "./relay_cluster.ts";
import { WssClient } from "./wss_client.ts";
import { speakTurn } from "./voice_turns.ts";
const cluster = await startRelayCluster({ onlyFirst: true });
try {
  const token = await cluster.userToken("77777777-0000-4000-8000-000000000009");
  const c = await WssClient.connect(`${cluster.nginx.wssBase}/v1/realtime`, { protocols: ["realtime", `jwt-${token}`], ca: cluster.nginx.certificate.pem });
  await c.waitFor("session.created");
  const r = await speakTurn(c, "x", { ids: new Set() }, 5000).catch((e) => e);
  console.log(r);
  console.log(c.events.map(e => e.type).join(" "));
  console.log(JSON.stringify(cluster.simulator.connections.at(-1)?.receivedEvents.map(e => e.type)));
  await c.close();
} finally {
  await cluster.close();
}
