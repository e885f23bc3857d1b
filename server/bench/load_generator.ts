/**
 * The benchmark's load generator (run as its own process by load_generator_process.ts, pinned to the
 * load core next to the upstream). Opens `sessions` WebSockets with staggered starts; each streams a 20 ms audio frame every 20 ms from
 * the moment its socket opens (so the first frames reach a relay before its upstream is open) until the
 * end of the steady window. Echoed frames are matched by the session index and sequence number written
 * into their audio. Writes JSON lines on stdout: `{"event":"steady_start"}` and `{"event":"steady_end"}`
 * when the steady window (all sessions streaming) begins and ends, so the caller can sample the relay's
 * CPU and memory at those moments, then `{"event":"result",...}` ({@link LoadResult}). Every phase has a
 * deadline; the process always exits by itself.
 *
 * @module
 */
import process from "node:process";
import WebSocket from "ws";
import { FrameEncoder, type FrameHeader, frameIntervalMs, readEchoHeader } from "./frame_codec.ts";
import { summarize, type Summary } from "./stats.ts";

/** What to run; written to a JSON file by the orchestrator. */
export interface LoadPlan {
  /** WebSocket URL of the target (relay or upstream). */
  url: string;
  /** Subprotocols per session (credential included); `protocols[i % protocols.length]` for session i. */
  protocols: string[][];
  sessions: number;
  /** Length of the steady window, seconds. */
  seconds: number;
  /** Session starts are spread evenly over this many ms. */
  rampMs: number;
  /** Streaming time after the last session is ready and before the window opens (JIT, queues settle). */
  warmupMs: number;
  /** After the window: how long to wait for the last echoes before counting the rest as lost. */
  graceMs: number;
  /** A session without `session.created` this long after its dial counts as failed. */
  connectTimeoutMs: number;
  /**
   * Connections made one at a time, each closed after `session.created`, before the load starts: the
   * connect latency of an idle relay, and its CPU per connect. They also warm the relay up.
   */
  probeConnects: number;
}

/** What one load run measured. Times in ms. */
export interface LoadResult {
  runtime: string;
  sessions: number;
  /** Sessions that received `session.created`. */
  connected: number;
  /**
   * Sessions that closed before the end of the window (`closed_<code>`), never connected (`timeout`), or
   * streamed without ever receiving `session.created` (`no_session_created`: the event was lost on the way).
   */
  failures: Record<string, number>;
  /** Error events received, by `error.code`. */
  errorEvents: Record<string, number>;
  framesSent: number;
  /** Distinct frames echoed back to their own session. */
  framesEchoed: number;
  framesLost: number;
  /** Frames sent before the session saw `session.created` (a relay's upstream may not be open yet). */
  earlyFramesSent: number;
  earlyFramesLost: number;
  /** Echoes of a frame already seen, or carrying another session's index: both must stay 0. */
  duplicates: number;
  misrouted: number;
  /** Round-trip time of frames sent inside the steady window. */
  rttMs: Summary;
  /** Dial to `session.created`, during the staggered start (relay busy with the sessions already streaming). */
  connectMs: Summary;
  /** Dial to `session.created` of the one-at-a-time probe connections (idle relay); failed ones by reason. */
  idleConnectMs: Summary;
  idleConnectFailures: Record<string, number>;
  /** How late frames left against their 20 ms schedule (load generator health). */
  sendLagMs: Summary;
  windowMs: number;
  /** Echoes received inside the window: the divisor of the relay's CPU time. */
  echoedInWindow: number;
}

class LoadSession {
  socket: WebSocket | undefined;
  dialedAt = 0;
  createdAt = -1;
  sent = 0;
  earlySent = 0;
  echoed = 0;
  nextDue = 0;
  streaming = false;
  failure: string | undefined;
  seen: Uint8Array;
  constructor(readonly index: number, capacity: number) {
    this.seen = new Uint8Array(capacity);
  }
}

/** Writes one JSON line on stdout: how the orchestrator learns about phases and the result. */
export function emit(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + "\n");
}

/** The longest the connect probe may take, all connections together. */
export const probeBudgetMs = 30_000;

/** Connects `count` times one after the other; resolves with each connect time and the failures. */
async function probeConnects(
  plan: LoadPlan,
  count: number,
): Promise<{ times: number[]; failures: Record<string, number> }> {
  const times: number[] = [];
  const failures: Record<string, number> = {};
  const started = performance.now();
  let failed = 0;
  // Bounded: a broken target fails a few probes and the load run then reports what happens to sessions.
  for (let i = 0; i < count && failed < 3 && performance.now() - started < probeBudgetMs; i++) {
    const dialedAt = performance.now();
    const socket = new WebSocket(plan.url, plan.protocols[i % plan.protocols.length], {
      perMessageDeflate: false,
      handshakeTimeout: plan.connectTimeoutMs,
    });
    const outcome = await new Promise<string>((resolve) => {
      const timer = setTimeout(() => {
        socket.terminate();
        resolve("timeout");
      }, Math.min(plan.connectTimeoutMs, 5000));
      socket.on("message", (data: Uint8Array) => {
        const text = new TextDecoder().decode(data);
        if (text.includes('"type":"session.created"') && socket.readyState === WebSocket.OPEN) {
          times.push(performance.now() - dialedAt);
          socket.close(1000, "probe done");
        }
      });
      socket.on("error", () => {});
      socket.on("close", (code: number) => {
        clearTimeout(timer);
        resolve(code === 1000 ? "ok" : `closed_${code}`);
      });
    });
    if (outcome !== "ok") {
      failed++;
      countInto(failures, outcome);
    }
  }
  return { times, failures };
}

function countInto(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

/** Runs `plan` and resolves with what it measured. */
export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  emit({ event: "probe_start" });
  const probe = await probeConnects(plan, plan.probeConnects);
  emit({ event: "probe_end" });
  const load = await streamLoad(plan);
  return { ...load, idleConnectMs: summarize(probe.times), idleConnectFailures: probe.failures };
}

function streamLoad(plan: LoadPlan): Promise<Omit<LoadResult, "idleConnectMs" | "idleConnectFailures">> {
  const encoder = new FrameEncoder();
  const header: FrameHeader = { session: 0, seq: 0, sentAt: 0 };
  const decoder = new TextDecoder();
  // Frames per session can never exceed the longest possible streaming time.
  const capacity = Math.ceil(
    (plan.rampMs + plan.connectTimeoutMs + plan.warmupMs + plan.seconds * 1000) / frameIntervalMs,
  ) + 10;
  const sessions = Array.from({ length: plan.sessions }, (_, i) => new LoadSession(i, capacity));
  // Each session sends in the millisecond slot its schedule falls in; a tick visits only due slots.
  const slots: LoadSession[][] = Array.from({ length: frameIntervalMs }, () => []);
  const failures: Record<string, number> = {};
  const errorEvents: Record<string, number> = {};
  const rtts: number[] = [];
  const lags: number[] = [];
  const connectTimes: number[] = [];
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let echoedInWindow = 0;
  let duplicates = 0;
  let misrouted = 0;
  let settled = 0;
  let started = 0;
  const t0 = performance.now();

  const send = (s: LoadSession, now: number) => {
    if (s.sent >= capacity) {
      s.streaming = false;
      return;
    }
    if (now >= windowStart && now < windowEnd) lags.push(now - s.nextDue);
    // Stamped as it leaves, not at the tick: frames sent earlier in the same tick took time.
    s.socket!.send(encoder.encode(s.index, s.sent, performance.now()), { binary: false });
    if (s.createdAt < 0) s.earlySent++;
    s.sent++;
    s.nextDue += frameIntervalMs;
  };

  const settle = () => {
    settled++;
    if (settled === plan.sessions) openWindowSoon();
  };

  const fail = (s: LoadSession, why: string) => {
    s.streaming = false;
    if (s.failure) return;
    s.failure = why;
    countInto(failures, why);
    if (s.createdAt < 0) settle();
  };

  const onMessage = (s: LoadSession, data: Uint8Array, isBinary: boolean) => {
    const now = performance.now();
    if (!isBinary && readEchoHeader(data, header)) {
      if (header.session !== s.index || header.seq >= capacity) {
        misrouted++;
        return;
      }
      if (s.seen[header.seq]) {
        duplicates++;
        return;
      }
      s.seen[header.seq] = 1;
      s.echoed++;
      if (header.sentAt >= windowStart && header.sentAt < windowEnd) rtts.push(now - header.sentAt);
      if (now >= windowStart && now < windowEnd) echoedInWindow++;
      return;
    }
    let event: { type?: string; error?: { code?: string } };
    try {
      event = JSON.parse(decoder.decode(data));
    } catch {
      countInto(errorEvents, "unparsable_frame");
      return;
    }
    if (event.type === "session.created" && s.createdAt < 0) {
      s.createdAt = now;
      connectTimes.push(now - s.dialedAt);
      settle();
    } else if (event.type === "error") {
      countInto(errorEvents, String(event.error?.code ?? "unknown"));
    }
  };

  const dial = (s: LoadSession) => {
    s.dialedAt = performance.now();
    const socket = new WebSocket(plan.url, plan.protocols[s.index % plan.protocols.length], {
      perMessageDeflate: false,
      handshakeTimeout: plan.connectTimeoutMs,
      // An all-zero mask lets `ws` skip masking: the load core's cycles go to sending, not XOR. The
      // receiving server unmasks every frame the same way whatever the mask is.
      generateMask: (mask: Uint8Array) => mask.fill(0),
    });
    s.socket = socket;
    socket.on("open", () => {
      const now = performance.now();
      s.streaming = true;
      // Whole milliseconds: the tick that reaches millisecond `nextDue` visits this session's slot.
      s.nextDue = Math.ceil(now);
      send(s, now); // at once: before a relay can have its upstream open
      slots[s.nextDue % frameIntervalMs].push(s);
    });
    socket.on("message", (data: Uint8Array, isBinary: boolean) => onMessage(s, data, isBinary));
    socket.on("error", () => {});
    socket.on("close", (code: number) => {
      if (performance.now() < windowEnd) fail(s, `closed_${code}`);
    });
  };

  let lastTickMs = Math.floor(t0);
  const ticker = setInterval(() => {
    const now = performance.now();
    while (started < plan.sessions && now - t0 >= (started * plan.rampMs) / plan.sessions) {
      dial(sessions[started++]);
    }
    const nowMs = Math.floor(now);
    for (let ms = Math.max(lastTickMs + 1, nowMs - frameIntervalMs + 1); ms <= nowMs; ms++) {
      for (const s of slots[ms % frameIntervalMs]) while (s.streaming && s.nextDue <= now) send(s, now);
    }
    lastTickMs = nowMs;
  }, 1);

  let windowScheduled = false;
  let resolveDone!: (result: Omit<LoadResult, "idleConnectMs" | "idleConnectFailures">) => void;
  const done = new Promise<Omit<LoadResult, "idleConnectMs" | "idleConnectFailures">>((resolve) =>
    resolveDone = resolve
  );

  function openWindowSoon() {
    if (windowScheduled) return;
    windowScheduled = true;
    clearTimeout(connectDeadline);
    setTimeout(() => {
      windowStart = performance.now();
      emit({ event: "steady_start" });
      setTimeout(closeWindow, plan.seconds * 1000);
    }, plan.warmupMs);
  }

  // Sessions that never got `session.created` are failures; the window opens with the rest. A session
  // whose audio came back without it had the event dropped on the way (the upstream did send it).
  const connectDeadline = setTimeout(() => {
    for (const s of sessions) {
      if (s.createdAt < 0 && !s.failure) {
        fail(s, s.echoed > 0 ? "no_session_created" : "timeout");
        s.socket?.terminate();
      }
    }
    openWindowSoon();
  }, plan.rampMs + plan.connectTimeoutMs);

  function closeWindow() {
    windowEnd = performance.now();
    emit({ event: "steady_end", echoedInWindow });
    for (const s of sessions) s.streaming = false;
    clearInterval(ticker);
    const graceEnd = windowEnd + plan.graceMs;
    const waitForEchoes = setInterval(() => {
      const outstanding = sessions.some((s) => !s.failure && s.echoed < s.sent);
      if (outstanding && performance.now() < graceEnd) return;
      clearInterval(waitForEchoes);
      finish();
    }, 10);
  }

  function finish() {
    let open = 0;
    const closed = () => {
      if (--open === 0) report();
    };
    for (const s of sessions) {
      const socket = s.socket;
      if (!socket || socket.readyState === WebSocket.CLOSED) continue;
      open++;
      socket.once("close", closed);
      if (socket.readyState === WebSocket.OPEN) socket.close(1000, "bench done");
      else socket.terminate();
    }
    const reportOnce = setTimeout(report, 2000);
    let reported = false;
    function report() {
      if (reported) return;
      reported = true;
      clearTimeout(reportOnce);
      for (const s of sessions) s.socket?.terminate();
      let framesSent = 0, framesEchoed = 0, earlySent = 0, earlyEchoed = 0;
      for (const s of sessions) {
        framesSent += s.sent;
        framesEchoed += s.echoed;
        earlySent += s.earlySent;
        for (let seq = 0; seq < s.earlySent; seq++) earlyEchoed += s.seen[seq];
      }
      resolveDone({
        runtime: typeof Deno === "undefined" ? `node ${process.version}` : `deno ${Deno.version.deno}`,
        sessions: plan.sessions,
        connected: connectTimes.length,
        failures,
        errorEvents,
        framesSent,
        framesEchoed,
        framesLost: framesSent - framesEchoed,
        earlyFramesSent: earlySent,
        earlyFramesLost: earlySent - earlyEchoed,
        duplicates,
        misrouted,
        rttMs: summarize(rtts),
        connectMs: summarize(connectTimes),
        sendLagMs: summarize(lags),
        windowMs: windowEnd - windowStart,
        echoedInWindow,
      });
    }
    if (open === 0) report();
  }

  return done;
}
