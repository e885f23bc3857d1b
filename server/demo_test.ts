import assert from "node:assert/strict";
import { Hono } from "hono";
import { mountDemo } from "./demo.ts";
import { startRelayProcess } from "./testing/relay_process.ts";
import { TestClient } from "./testing/test_client.ts";

Deno.test({
  name:
    "demo routes: the page for plain GET /, upgrades passed on, the bundle, and /dev/token only when given",
  async fn() {
    const withToken = new Hono();
    mountDemo(withToken, {
      devToken: () => Promise.resolve({ token: "t.o.k", userId: "u1", expiresInSeconds: 60 }),
    });
    withToken.get("/", (c) => c.text("the WebSocket route"));
    const page = await withToken.request("/");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self' blob:/);
    const html = await page.text();
    assert.match(html, /<script type="module" src="\/demo\/client.js"><\/script>/);
    for (const id of ["voice", "connect", "mic", "state", "level-in", "level-out", "transcript", "error"]) {
      assert.ok(html.includes(`id="${id}"`), `the page has #${id}`);
    }

    const upgrade = await withToken.request("/", { headers: { upgrade: "websocket" } });
    assert.equal(await upgrade.text(), "the WebSocket route");

    const script = await withToken.request("/demo/client.js");
    assert.equal(script.status, 200);
    assert.match(script.headers.get("content-type") ?? "", /javascript/);
    const code = await script.text();
    assert.ok(code.includes("relay-mic-pcm16"), "the client and its worklet are in the bundle");
    assert.ok(!/^import /m.test(code), "self-contained: no imports left for the browser to resolve");
    const etag = script.headers.get("etag")!;
    const cached = await withToken.request("/demo/client.js", { headers: { "if-none-match": etag } });
    assert.equal(cached.status, 304);

    const token = await withToken.request("/dev/token");
    assert.equal(token.headers.get("cache-control"), "no-store");
    assert.deepEqual(await token.json(), { token: "t.o.k", user_id: "u1", expires_in: 60 });

    const withoutToken = new Hono();
    mountDemo(withoutToken);
    const missing = await withoutToken.request("/dev/token");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  },
});

Deno.test({
  name: "the Node fallback serves the same page and bundle, and its one-click token opens a session",
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "demo-node-" });
    const deno = await startRelayProcess("deno", {
      OPENAI_API_KEY: "sk-demo-test-0123456789",
      OPENAI_REALTIME_URL: "ws://127.0.0.1:9/v1/realtime",
      RELAY_DATA_DIR: `${dataDir}/deno`,
    });
    // Embedded defaults: local auth and the simulator, where /dev/token is offered.
    const node = await startRelayProcess("node", { RELAY_DATA_DIR: `${dataDir}/node` });
    try {
      const [denoPage, nodePage] = await Promise.all(
        [deno, node].map((r) => fetch(`${r.httpBase}/`).then((x) => x.text())),
      );
      assert.equal(nodePage, denoPage);
      const [denoScript, nodeScript] = await Promise.all(
        [deno, node].map((r) =>
          fetch(`${r.httpBase}/demo/client.js`).then(async (x) => [x.headers.get("etag"), await x.text()])
        ),
      );
      assert.deepEqual(nodeScript, denoScript, "both runtimes build the identical bundle");

      const refused = await fetch(`${deno.httpBase}/dev/token`);
      await refused.body?.cancel();
      assert.equal(refused.status, 404, "with a real OpenAI key the relay mints no tokens for visitors");

      const { token } = await (await fetch(`${node.httpBase}/dev/token`)).json();
      const client = await TestClient.connect(`${node.wsBase}/`, {
        protocols: ["realtime", `openai-insecure-api-key.${token}`],
      });
      assert.equal(client.protocol, "realtime");
      await client.waitFor("session.created");
      await client.close();
    } finally {
      await deno.stop();
      await node.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});
