import assert from "node:assert/strict";
import { fetchText } from "./http.ts";

async function withServer(
  handler: (request: Request) => Response | Promise<Response>,
  run: (url: string) => Promise<void>,
) {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
  try {
    await run(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("fetchText returns status and body, and sends the given headers", async () => {
  await withServer(
    (request) => new Response(`hello ${request.headers.get("x-probe")}`, { status: 418 }),
    async (url) => {
      const result = await fetchText(fetch, `${url}/x`, {
        headers: { "x-probe": "p1" },
        timeoutMs: 5_000,
        maxBodyBytes: 100,
      });
      assert.deepEqual(result, { status: 418, body: "hello p1" });
    },
  );
});

Deno.test("fetchText refuses bodies over the limit, declared or streamed", async () => {
  await withServer((request) => {
    const size = 2_000;
    if (new URL(request.url).pathname === "/declared") return new Response("x".repeat(size));
    const chunk = new TextEncoder().encode("y".repeat(500));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= size) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    return new Response(body);
  }, async (url) => {
    for (const path of ["/declared", "/streamed"]) {
      await assert.rejects(
        () => fetchText(fetch, `${url}${path}`, { timeoutMs: 5_000, maxBodyBytes: 1_000 }),
        (error: Error) => error.message.includes(`${url}${path}`) && error.message.includes("1000 bytes"),
      );
    }
  });
});

Deno.test("fetchText gives up after the deadline with an error naming the URL, not the headers", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await withServer(async () => {
    await released;
    return new Response("too late");
  }, async (url) => {
    try {
      await assert.rejects(
        () =>
          fetchText(fetch, `${url}/slow`, {
            headers: { authorization: "Bearer sekrit" },
            timeoutMs: 50,
            maxBodyBytes: 100,
          }),
        (error: Error) =>
          error.message.includes(`${url}/slow`) && error.message.includes("50 ms") &&
          !error.message.includes("sekrit"),
      );
    } finally {
      release();
    }
  });
});

Deno.test("fetchText reports network errors with the URL", async () => {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () => new Response("x"));
  const url = `http://127.0.0.1:${server.addr.port}/gone`;
  await server.shutdown();
  await assert.rejects(
    () => fetchText(fetch, url, { timeoutMs: 5_000, maxBodyBytes: 100 }),
    (error: Error) => error.message.includes(url),
  );
});
