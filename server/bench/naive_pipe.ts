/**
 * The baseline the relay is compared with: the twenty-line `ws` pipe from the blog posts (and the seed's
 * design). One upstream socket per client, frames piped both ways as they are, client frames that
 * arrive before the upstream is open dropped, no token check. Runs on Node:
 *
 *   node --import tsx server/bench/naive_pipe.ts <upstream ws url with ?model=> <api key>
 *
 * Prints `{"port":N}` once listening on 127.0.0.1; SIGTERM/SIGINT stop it.
 *
 * @module
 */
import process from "node:process";
import WebSocket, { WebSocketServer } from "ws";

const [upstreamUrl, apiKey] = process.argv.slice(2);
if (!upstreamUrl || !apiKey) {
  console.error("usage: naive_pipe.ts <upstream ws url> <api key>");
  process.exit(2);
}

const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
server.on("listening", () => {
  const address = server.address();
  console.log(JSON.stringify({ port: typeof address === "object" && address ? address.port : address }));
});
server.on("connection", (client) => {
  const upstream = new WebSocket(upstreamUrl, {
    headers: { Authorization: `Bearer ${apiKey}` },
    perMessageDeflate: false,
  });
  client.on("message", (data, isBinary) => {
    if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
  });
  upstream.on("message", (data, isBinary) => {
    if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
  });
  client.on("close", () => upstream.close());
  upstream.on("close", () => client.close());
  client.on("error", () => upstream.close());
  upstream.on("error", () => client.close());
});

const stop = () => {
  for (const client of server.clients) client.terminate();
  server.close(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
