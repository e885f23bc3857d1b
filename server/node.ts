/**
 * The Node fallback: `deno task start:node` (or `node --import tsx server/node.ts`) for hosts without Deno.
 *
 * @module
 */
import { serve } from "@hono/node-server";
import type { Server } from "node:http";
import process from "node:process";
import { ConfigError } from "../shared/config.ts";
import { bootstrapRelay, type ServeFunction } from "./bootstrap.ts";
import { createNodeRuntime } from "./node_adapter.ts";
import { installShutdown } from "./shutdown.ts";

const runtime = createNodeRuntime();

/** Serves a Hono `fetch` on Node, with WebSocket upgrades routed through it. */
const serveNode = (
  fetch: Parameters<ServeFunction>[0],
  port: number,
  host: string,
  onListen: (port: number) => void = () => {},
): Server => {
  const server = serve({ fetch, port, hostname: host }, (info) => onListen(info.port)) as Server;
  runtime.attachUpgrades(server, fetch as (request: Request, env: unknown) => Promise<Response>);
  return server;
};

const serveEmbedded: ServeFunction = (fetch, port, host) =>
  new Promise((resolve) => {
    const server = serveNode(fetch, port, host, (actualPort) =>
      resolve({
        port: actualPort,
        close: () => new Promise<void>((done) => server.close(() => done())),
      }));
  });

async function main(): Promise<void> {
  const { config, log, relay, stopEmbedded, closeStorage } = await bootstrapRelay(
    process.env,
    runtime.adapter,
    serveEmbedded,
  );
  const server = serveNode(relay.app.fetch, config.port, config.host, (port) => {
    log.info("listening", {
      url: `http://${config.host}:${port}`,
      pid: process.pid,
      maxConnections: config.maxConnections,
    });
  });
  installShutdown({
    relay,
    log,
    drainSeconds: config.guard.drainSeconds,
    stopServer: () => new Promise<void>((done) => server.close(() => done())),
    stopEmbedded,
    closeStorage,
    onSignal: (handler) => {
      process.on("SIGTERM", handler);
      process.on("SIGINT", handler);
    },
    exit: (code) => process.exit(code),
  });
}

main().catch((error) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  console.error(error);
  process.exit(1);
});
