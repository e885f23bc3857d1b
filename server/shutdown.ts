/**
 * Drain on SIGTERM/SIGINT, the same for the Deno server and the Node fallback: refuse new sessions
 * (`/health` says draining, 503), tell connected clients (`relay.draining` with a retry hint) so they
 * reconnect elsewhere, close each session at its next pause between turns (1012), close whatever is
 * left after `DRAIN_SECONDS`, write every queued transcript, stop listening, exit 0.
 *
 * @module
 */
import type { RelayApp } from "../shared/app.ts";
import type { Logger } from "../shared/observability/log.ts";
import { relayNotice } from "../shared/protocol/relay_events.ts";
import { CloseCode } from "../shared/relay/close_codes.ts";

/** What {@link installShutdown} needs from the entry. */
export interface ShutdownWiring {
  relay: RelayApp;
  log: Logger;
  drainSeconds: number;
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
    log.info("draining", { sessions: sessions.length, drainSeconds: wiring.drainSeconds });
    const restart = (session: (typeof sessions)[number]) =>
      session.close(CloseCode.serviceRestart, "Relay restarting; reconnect");
    for (const session of sessions) {
      session.sendToClient(
        relayNotice("draining", { retry_after_ms: 250, drain_seconds: wiring.drainSeconds }),
      );
      session.atNextPause(() => restart(session));
    }
    const drained = await Promise.race([
      Promise.all(sessions.map((s) => s.finished)).then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), wiring.drainSeconds * 1000)),
    ]);
    if (!drained) {
      const left = relay.registry.list();
      log.info("drain_deadline", { closing: left.length });
      for (const session of left) restart(session);
      await Promise.race([
        Promise.all(left.map((s) => s.finished)),
        new Promise((resolve) => setTimeout(resolve, 3000)),
      ]);
    }
    await wiring.closeStorage(15_000);
    await Promise.race([wiring.stopServer(), new Promise((resolve) => setTimeout(resolve, 2000))]);
    await wiring.stopEmbedded();
    log.info("stopped", {});
    wiring.exit(0);
  });
}
