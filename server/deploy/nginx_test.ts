/**
 * The shipped nginx site (`server/deploy/nginx/realtime-voice.conf`), run for real by Debian's nginx:
 * `nginx -t`, TLS with a throwaway certificate, HTTP to HTTPS with the ACME path left open, WebSocket
 * upgrades to the relay, a dead instance skipped without the client noticing, the client address
 * passed so it cannot be forged, the per-address rate limit answering 429, and no query string (the
 * `?token=` of older clients) in nginx's logs.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { prepareNginx, testNginxConfig } from "./testing/nginx_process.ts";
import { startRelayCluster } from "./testing/relay_cluster.ts";
import { WssClient } from "./testing/wss_client.ts";

Deno.test("the shipped nginx site passes nginx -t, with no warnings", async () => {
  const prepared = await prepareNginx([18081, 18082]);
  try {
    const { code, output } = await testNginxConfig(prepared);
    assert.equal(code, 0, output);
    assert.match(output, /test is successful/);
    assert.doesNotMatch(output, /\[(warn|emerg|alert|crit)\]/, output);
  } finally {
    await Deno.remove(prepared.prefix, { recursive: true });
  }
});

Deno.test({
  name: "through the shipped nginx site: TLS, upgrades, a dead instance skipped, 429, no tokens in logs",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Instance b's port stays closed: a crashed instance nginx still lists.
    const cluster = await startRelayCluster({ onlyFirst: true });
    const { nginx } = cluster;
    const ca = nginx.certificate.pem;
    const client = Deno.createHttpClient({ caCerts: [ca] });
    const [live, dead] = cluster.instances;
    const open: WssClient[] = [];
    try {
      // Plain HTTP: ACME challenges are served from the webroot, everything else goes to HTTPS.
      await writeFile(join(nginx.site.acmeWebroot, ".well-known", "acme-challenge", "probe"), "acme-ok");
      const challenge = await fetch(`${nginx.httpBase}/.well-known/acme-challenge/probe`);
      assert.equal(await challenge.text(), "acme-ok");
      const redirect = await fetch(`${nginx.httpBase}/v1/realtime`, { redirect: "manual" });
      await redirect.body?.cancel();
      assert.equal(redirect.status, 301);
      assert.match(redirect.headers.get("location") ?? "", /^https:\/\/[^/]+\/v1\/realtime$/);

      // HTTPS, verified against the test certificate: /health from the live instance, /metrics closed.
      const health = await fetch(`${nginx.httpsBase}/health`, { client });
      assert.equal(health.status, 200);
      assert.equal((await health.json()).instance, "a");
      assert.ok(health.headers.get("strict-transport-security"));
      const metrics = await fetch(`${nginx.httpsBase}/metrics`, { client });
      await metrics.body?.cancel();
      assert.equal(metrics.status, 404);

      // HTTP/1.1 only (no h2: WebSockets need HTTP/1.1 through nginx).
      const alpn = await new Deno.Command("openssl", {
        args: [
          "s_client",
          "-connect",
          `127.0.0.1:${nginx.site.httpsPort}`,
          "-alpn",
          "h2,http/1.1",
          "-CAfile",
          join(nginx.prefix, "ca.pem"),
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const handshake = new TextDecoder().decode(alpn.stdout);
      assert.match(handshake, /Verify return code: 0 \(ok\)/);
      assert.doesNotMatch(handshake, /ALPN protocol: h2/);

      // Sessions through nginx, each from another user, kept open. With sessions open on the live
      // instance, least_conn offers every new one to the dead instance first: nginx must retry it.
      const users = ["99999999-0000-4000-8000-000000000001", "99999999-0000-4000-8000-000000000002"];
      for (const user of users) {
        const token = await cluster.userToken(user);
        const session = await WssClient.connect(`${nginx.wssBase}/v1/realtime`, {
          protocols: ["realtime", `jwt-${token}`],
          ca,
          // A forged client address: nginx must replace it with the one it saw.
          headers: { "X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9" },
        });
        open.push(session);
        assert.ok(session.opened, `upgrade through nginx refused: ${JSON.stringify(session.events)}`);
        assert.equal(session.protocol, "realtime");
        await session.waitFor("session.created");
      }
      // An older client with its token in the query string.
      const queryToken = await cluster.userToken("99999999-0000-4000-8000-000000000003");
      const older = await WssClient.connect(
        `${nginx.wssBase}/v1/realtime?model=gpt-realtime&token=${queryToken}`,
        {
          protocols: ["realtime"],
          ca,
        },
      );
      open.push(older);
      assert.ok(older.opened);
      await older.waitFor("session.created");
      for (const session of open.splice(0)) assert.equal((await session.close()).code, 1000);

      const starts = live.process!.logs.filter((line) => line.includes('"event":"session_start"'));
      assert.equal(starts.length, 3);
      for (const line of starts) {
        assert.equal(JSON.parse(line).client, "127.0.0.1", "the relay saw nginx's client address");
      }
      assert.ok(
        !live.process!.logs.some((line) => line.includes("203.0.113.9")),
        "a forged address reached the relay",
      );

      // New connections per client address: one after another (so only the rate counts, not the limit on
      // concurrent ones), far faster than 5 per second past the burst of 60: nginx answers 429.
      const statuses: number[] = [];
      for (let i = 0; i < 100; i++) {
        const response = await fetch(`${nginx.httpsBase}/v1/realtime`, { client });
        await response.body?.cancel();
        statuses.push(response.status);
      }
      const counts = new Map<number, number>();
      for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
      assert.ok((counts.get(429) ?? 0) > 0, `no 429 in a burst of 100: ${JSON.stringify([...counts])}`);
      // The rest reached the relay, which wants a WebSocket upgrade (426).
      assert.deepEqual([...counts.keys()].filter((s) => s !== 429 && s !== 426), []);

      const accessLog = await nginx.accessLog();
      const errorLog = await nginx.errorLog();
      assert.match(accessLog, /"GET \/v1\/realtime HTTP\/1\.1" 101 /);
      assert.match(accessLog, /"GET \/v1\/realtime HTTP\/1\.1" 429 /);
      assert.ok(
        accessLog.includes(`upstream=127.0.0.1:${dead.port}, 127.0.0.1:${live.port}`),
        "a session offered to the dead instance first was retried on the live one",
      );
      for (const log of [accessLog, errorLog]) {
        assert.ok(!log.includes(queryToken), "nginx logged the token from the query string");
        assert.ok(!log.includes("?"), "nginx logged a query string");
      }
    } finally {
      for (const session of open) await session.close();
      client.close();
      await cluster.close();
    }
  },
});
