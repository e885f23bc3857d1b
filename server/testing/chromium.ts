/**
 * Test support: Debian's Chromium driven by playwright-core, headless, with a fake microphone fed from
 * a WAV file (which Chromium loops) and a tap on every AudioContext's output, so tests can observe what
 * the page actually plays.
 *
 * @module
 */
import { type BrowserContext, chromium } from "playwright-core";

/** Where `.ci/run` has Debian install Chromium. */
export const chromiumPath = "/usr/bin/chromium";

/** What the output tap records on `window.__outputTap`. */
export interface OutputTap {
  /** Largest RMS seen over a 2048-sample window of the output. */
  maxRms: number;
  /** RMS of the latest window. */
  lastRms: number;
  /** Polls (every 25 ms) whose window was louder than 0.02. */
  loudPolls: number;
  polls: number;
}

/**
 * Runs before any page script: every node connected to an AudioContext's destination is also
 * connected to an AnalyserNode that is polled every 25 ms. Nothing the page does is changed.
 */
const outputTapScript = `(() => {
  const state = { maxRms: 0, lastRms: 0, loudPolls: 0, polls: 0 };
  Object.defineProperty(window, "__outputTap", { value: state });
  const taps = new WeakMap();
  const connect = AudioNode.prototype.connect;
  AudioNode.prototype.connect = function (destination, ...rest) {
    const result = connect.call(this, destination, ...rest);
    if (destination instanceof AudioDestinationNode) {
      let tap = taps.get(this.context);
      if (!tap) {
        tap = this.context.createAnalyser();
        tap.fftSize = 2048;
        taps.set(this.context, tap);
        const buffer = new Float32Array(tap.fftSize);
        setInterval(() => {
          tap.getFloatTimeDomainData(buffer);
          let energy = 0;
          for (let i = 0; i < buffer.length; i++) energy += buffer[i] * buffer[i];
          const rms = Math.sqrt(energy / buffer.length);
          state.lastRms = rms;
          state.maxRms = Math.max(state.maxRms, rms);
          state.polls++;
          if (rms > 0.02) state.loudPolls++;
        }, 25);
      }
      connect.call(this, tap);
    }
    return result;
  };
})();`;

/** True when Chromium is installed where tests expect it. */
export function chromiumAvailable(): boolean {
  try {
    return Deno.statSync(chromiumPath).isFile;
  } catch {
    return false;
  }
}

/** What to do when Chromium is missing. */
const installHint = `Chromium is not installed at ${chromiumPath}: apt-get install chromium espeak-ng sox ` +
  "(as .ci/run does), or set SKIP_BROWSER_TESTS=1 to skip the browser tests";

/** Launches headless Chromium with a fake microphone playing `wavPath` (looped) and a fresh profile. */
export async function launchChromium(
  wavPath: string,
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (!chromiumAvailable()) throw new Error(installHint);
  const userDataDir = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 880, height: 640 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-audio-capture=${wavPath}`,
    ],
  });
  await context.addInitScript(outputTapScript);
  return {
    context,
    async close() {
      await context.close();
      await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** Polls `check` every 50 ms until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
