/**
 * Graceful stop on SIGTERM/SIGINT, the same for the Deno server and the Node fallback: refuse new
 * sessions, tell connected clients the relay is restarting (close 1012), write every queued transcript,
 * stop listening, exit 0.
 *
 * @module
 */
import type { RelayApp } from "../shared/app.ts";
import type { Logger } from "../shared/observability/log.ts";
import { CloseCode } from "../shared/relay/close_codes.ts";

/** What {@link installShutdown} needs from the entry. */
export interface ShutdownWiring {
  relay: RelayApp;
  log: Logger;
  stopServer(): Promise<void>;
  stopEmbedded(): Promise<void>;
  closeStorage(timeoutMs: number): Promise<void>;
  onSignal(handler: () => void): void;
  exit(code: number): void;
}

/** Registers the signal handler; a second signal exits at once. */
export function installShutdown(wiring: ShutdownWiring): void {
  let stopping = false;
  wiring.onSignal(async () => {
    if (stopping) return wiring.exit(1);
    stopping = true;
    const { relay, log } = wiring;
    relay.registry.draining = true;
    relay.registry.stopKeepalive();
    const sessions = relay.registry.list();
    log.info("shutdown", { sessions: sessions.length });
    for (const session of sessions) session.close(CloseCode.serviceRestart, "Relay restarting; reconnect");
    await Promise.race([
      Promise.all(sessions.map((s) => s.finished)),
      new Promise((resolve) => setTimeout(resolve, 5000)),
    ]);
    await wiring.closeStorage(15_000);
    await Promise.race([wiring.stopServer(), new Promise((resolve) => setTimeout(resolve, 2000))]);
    await wiring.stopEmbedded();
    log.info("stopped", {});
    wiring.exit(0);
  });
}
