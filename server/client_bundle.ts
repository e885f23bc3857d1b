/**
 * The demo page's JavaScript: `server/demo_page/demo_page.ts` and the browser client (`client/`) bundled
 * by esbuild in memory, once per process, on the Deno server and on the Node fallback alike. Nothing
 * generated is committed, so the page can never be out of date with the client.
 *
 * The target is ES2020 (what Vite builds for by default), which also proves that the microphone
 * worklet's self-contained source survives the lowering apps' bundlers apply.
 *
 * @module
 */
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";

/** A built bundle and its validator. */
export interface ClientBundle {
  code: string;
  /** A strong ETag (`"sha256-…"`) of `code`. */
  etag: string;
}

const root = fileURLToPath(new URL("../", import.meta.url));
/** The demo page's entry point. */
export const demoEntry = fileURLToPath(new URL("./demo_page/demo_page.ts", import.meta.url));

let building: Promise<ClientBundle> | undefined;

/** Bundles the demo page and the client (ES module, ES2020, not minified so it stays readable). */
export async function buildClientBundle(entry: string = demoEntry): Promise<ClientBundle> {
  try {
    const result = await esbuild.build({
      entryPoints: [entry],
      absWorkingDir: root,
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2020",
      write: false,
      charset: "utf8",
      legalComments: "none",
      logLevel: "silent",
    });
    const code = result.outputFiles[0].text;
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(code)));
    const etag = `"sha256-${
      Array.from(digest.subarray(0, 12), (b) => b.toString(16).padStart(2, "0")).join("")
    }"`;
    return { code, etag };
  } finally {
    // The build service is a child process; a server builds once, so let it go rather than keep it idle.
    await esbuild.stop();
  }
}

/** The demo bundle, built on first use and shared by every caller in this process. */
export function demoBundle(): Promise<ClientBundle> {
  building ??= buildClientBundle().catch((error) => {
    building = undefined; // let a later request try again
    throw error;
  });
  return building;
}
