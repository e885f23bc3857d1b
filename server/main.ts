/**
 * The long-lived Deno server: `deno task start`. Sessions of any length; SIGTERM/SIGINT stop it cleanly.
 *
 * @module
 */
import { ConfigError } from "../shared/config.ts";
import { bootstrapRelay, type ServeFunction } from "./bootstrap.ts";
import { createDenoAdapter } from "./deno_adapter.ts";
import { installShutdown } from "./shutdown.ts";

const serveDeno: ServeFunction = (fetch, port, host) =>
  new Promise((resolve) => {
    const server = Deno.serve({ port, hostname: host, onListen: () => {} }, (request) => fetch(request));
    resolve({ port: server.addr.port, close: () => server.shutdown() });
  });

async function main(): Promise<void> {
  const adapter = createDenoAdapter({
    idleTimeoutSeconds: 30,
    upstreamDialer: Deno.env.get("UPSTREAM_DIALER") === "builtin" ? "builtin" : "ws",
  });
  const { config, log, relay, stopEmbedded, closeStorage } = await bootstrapRelay(
    Deno.env.toObject(),
    adapter,
    serveDeno,
  );
  const server = Deno.serve({
    port: config.port,
    hostname: config.host,
    onListen: ({ port, hostname }) => {
      log.info("listening", {
        url: `http://${hostname}:${port}`,
        pid: Deno.pid,
        maxConnections: config.maxConnections,
      });
    },
  }, relay.app.fetch);
  installShutdown({
    relay,
    log,
    drainSeconds: config.guard.drainSeconds,
    stopServer: () => server.shutdown(),
    stopEmbedded,
    closeStorage,
    onSignal: (handler) => {
      Deno.addSignalListener("SIGTERM", handler);
      Deno.addSignalListener("SIGINT", handler);
    },
    exit: (code) => Deno.exit(code),
  });
}

try {
  await main();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    Deno.exit(1);
  }
  throw error;
}
