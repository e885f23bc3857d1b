/**
 * The demo page on the Deno server and the Node fallback: `GET /` (plain requests; WebSocket upgrades
 * at `/` go on to the relay), its script `GET /demo/client.js`, and, only on the embedded defaults
 * (local auth and the simulator upstream), `GET /dev/token`, which mints a token for the local
 * development user so the page connects with one click.
 *
 * @module
 */
import type { Hono } from "hono";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Logger } from "../shared/observability/log.ts";
import { demoBundle } from "./client_bundle.ts";

/** A token for the local development user. */
export interface DevToken {
  token: string;
  userId: string;
  expiresInSeconds: number;
}

/** Options for {@link mountDemo}. */
export interface DemoOptions {
  /**
   * Mints a local development token. Pass it only when anyone who can reach the relay may have one:
   * the embedded defaults (local auth AND the simulator upstream). With a real OpenAI key it would
   * hand the key's use to anyone who can open the page.
   */
  devToken?: () => Promise<DevToken>;
  log?: Logger;
}

const pagePath = fileURLToPath(new URL("./demo_page/index.html", import.meta.url));

/**
 * The page's headers. The CSP allows `blob:` scripts for the microphone worklet, which the client loads
 * from a Blob URL; the socket is same-origin.
 */
const pageHeaders = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-cache",
  "content-security-policy":
    "default-src 'self'; script-src 'self' blob:; style-src 'self' 'unsafe-inline'; " +
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

let pageHtml: Promise<string> | undefined;

/** Registers the demo routes on `app`; call before the relay's WebSocket routes. */
export function mountDemo(app: Hono, options: DemoOptions = {}): void {
  // Build early so a broken client shows up in the log at start, not at the first visit.
  demoBundle().catch((error) =>
    options.log?.error("demo_bundle_failed", {
      detail: error instanceof Error ? error.message : String(error),
    })
  );

  app.get("/", async (c, next) => {
    if (c.req.header("upgrade")?.toLowerCase() === "websocket") return await next();
    pageHtml ??= readFile(pagePath, "utf8");
    return c.body(await pageHtml, 200, pageHeaders);
  });

  app.get("/demo/client.js", async (c) => {
    let bundle;
    try {
      bundle = await demoBundle();
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      options.log?.error("demo_bundle_failed", { detail });
      return c.text(`The demo page's script could not be built: ${detail}`, 500);
    }
    const headers = {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "no-cache",
      etag: bundle.etag,
      "x-content-type-options": "nosniff",
    };
    if (c.req.header("if-none-match") === bundle.etag) return c.body(null, 304, headers);
    return c.body(bundle.code, 200, headers);
  });

  const devToken = options.devToken;
  if (devToken) {
    app.get("/dev/token", async (c) => {
      const minted = await devToken();
      return c.json(
        { token: minted.token, user_id: minted.userId, expires_in: minted.expiresInSeconds },
        200,
        { "cache-control": "no-store" },
      );
    });
  }
}
