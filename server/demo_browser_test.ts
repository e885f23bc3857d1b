/**
 * The demo page and the browser client in real headless Chromium, with a fake microphone playing a
 * sentence spoken by espeak-ng, through a real relay process (Deno server) to the simulator.
 *
 * Timeline (Chromium loops the microphone file: 0.8 s silence, the sentence, 3.5 s silence):
 * utterance 1 → reply 1 (1.2 s, played to the end before the loop comes round) → utterance 2 → reply 2
 * (15 s) → utterance 3 starts while reply 2 plays: barge-in.
 *
 * The main relay stores into a throwaway PostgreSQL (a fixture the test queries while the relay runs),
 * so the stored messages are checked mid-conversation and the reconnect resumes from them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { copyFile, mkdir } from "node:fs/promises";
import type { Page } from "playwright-core";
import { createRealtimeSimulator, type ScriptedTurn } from "../shared/simulator/realtime_simulator.ts";
import { createDenoAdapter } from "./deno_adapter.ts";
import { launchChromium, type OutputTap, waitFor } from "./testing/chromium.ts";
import { type DatabaseFixture, startDatabaseFixture, waitForRows } from "./testing/database_fixture.ts";
import { startRelayProcess } from "./testing/relay_process.ts";
import {
  envelopeCorrelation,
  level,
  slice,
  speakSentence,
  speechSpans,
  type SpokenSentence,
} from "./testing/speech_audio.ts";
import { type TappedConnection, UpstreamTap } from "./testing/upstream_tap.ts";
import { LOCAL_DEV_USER, mintLocalToken } from "./token.ts";

const sentence = "What is the weather like on Mars?";
const openaiKey = "sk-browser-test-0123456789abcdef";
const script: ScriptedTurn[] = [
  { userTranscript: sentence, assistantTranscript: "Cold and dry, with thin air.", assistantAudioMs: 1200 },
  {
    userTranscript: sentence,
    assistantTranscript:
      "Still cold and dry. Mars has a thin carbon dioxide atmosphere, dust storms that can " +
      "cover the whole planet for weeks, and nights far below freezing, even near the equator in summer.",
    assistantAudioMs: 15_000,
  },
  { userTranscript: sentence, assistantTranscript: "Sure, go ahead.", assistantAudioMs: 1200 },
];
/** Level (RMS) above which a 10 ms window counts as speech: about -40 dBFS, far above the fake device's silence. */
const speechThreshold = 0.01;

/** The relay's `relay.conversation` notice, which starts every session. */
interface ConversationNotice {
  conversation_id: string;
  created: boolean;
  resumed_turns: number;
  session_id: string;
}

/** What the page's client reported, recorded in the page. */
interface PageRecord {
  states: string[];
  /** Every `relay.conversation` notice, one per session. */
  conversations: ConversationNotice[];
  interruptions: Array<{ itemId: string; audioEndMs: number; receivedMs: number }>;
  /** The output in the second after the interruption (polled every 25 ms by the page). */
  afterInterruption?: {
    /** Polls until the output went quiet; -1 if it never did. */
    quietAfterPolls: number;
    /** The loudest poll after it first went quiet (nothing should start again). */
    loudestAfterQuiet: number;
  };
  errors: string[];
  /** Largest levels the client reported for its visualiser. */
  maxInputLevel: number;
  maxOutputLevel: number;
}

/** Hooks a recorder onto the page's client (`window.voiceDemo.client`, created by the Connect click). */
async function recordClient(page: Page): Promise<void> {
  await page.waitForFunction(() => (globalThis as { voiceDemo?: { client?: unknown } }).voiceDemo?.client);
  await page.evaluate(() => {
    type Client = {
      on(name: string, listener: (value: never) => void): void;
    };
    const scope = globalThis as unknown as {
      voiceDemo: { client: Client };
      __record: PageRecord;
      __outputTap: OutputTap;
    };
    const record: PageRecord = {
      states: [],
      conversations: [],
      interruptions: [],
      errors: [],
      maxInputLevel: 0,
      maxOutputLevel: 0,
    };
    scope.__record = record;
    const client = scope.voiceDemo.client;
    client.on("state", (state: string) => record.states.push(state));
    client.on("error", (error: { message: string }) => record.errors.push(error.message));
    client.on("server_event", (event: { type: string }) => {
      if (event.type === "relay.conversation") record.conversations.push(event as never);
    });
    client.on("level", (level: { input: number; output: number }) => {
      record.maxInputLevel = Math.max(record.maxInputLevel, level.input);
      record.maxOutputLevel = Math.max(record.maxOutputLevel, level.output);
    });
    client.on("interrupted", (event: PageRecord["interruptions"][number]) => {
      record.interruptions.push(event);
      // Watch the output from inside the page, so the test process's own delays do not matter.
      let polls = 0;
      let quietAfterPolls = -1;
      let loudestAfterQuiet = 0;
      const timer = setInterval(() => {
        polls++;
        const rms = scope.__outputTap.lastRms;
        if (quietAfterPolls < 0 && rms < 0.005) quietAfterPolls = polls;
        else if (quietAfterPolls > 0) loudestAfterQuiet = Math.max(loudestAfterQuiet, rms);
        if (polls >= 40) {
          record.afterInterruption = { quietAfterPolls, loudestAfterQuiet };
          clearInterval(timer);
        }
      }, 25);
    });
  });
}

/** A barge-in as both ends saw it: the truncate upstream and the page's interruption record. */
interface BargeIn {
  truncate: { item_id: string; content_index: number; audio_end_ms: number };
  interruption: PageRecord["interruptions"][number];
  record: PageRecord;
  /** Assistant audio the simulator sent for the cut item. */
  sentMs: number;
}

/** Waits for the page to barge in on `upstream`'s reply and checks what every barge-in must satisfy. */
async function expectBargeIn(page: Page, upstream: TappedConnection): Promise<BargeIn> {
  const truncate = await waitFor(
    "conversation.item.truncate upstream",
    () => upstream.clientEvents.find((e) => e.type === "conversation.item.truncate"),
    20_000,
  ) as unknown as BargeIn["truncate"];
  const record = await waitFor("the page's record of the second after the interruption", async () => {
    const r = await pageRecord(page);
    return r.interruptions.length > 0 && r.afterInterruption ? r : undefined;
  }, 5_000);
  const interruption = record.interruptions[0];
  const sentMs = upstream.audioMsSent(truncate.item_id);
  console.log(
    `barge-in: audio_end_ms ${truncate.audio_end_ms}, received ${interruption.receivedMs} ms, sent ${sentMs} ms; ` +
      `output quiet after ${record.afterInterruption!.quietAfterPolls} polls`,
  );
  assert.equal(truncate.content_index, 0);
  assert.equal(interruption.itemId, truncate.item_id);
  assert.equal(interruption.audioEndMs, truncate.audio_end_ms);
  assert.ok(truncate.audio_end_ms > 0, "part of the reply was heard");
  assert.ok(truncate.audio_end_ms <= interruption.receivedMs, "never more than the page received");
  assert.ok(interruption.receivedMs <= sentMs, "the page cannot have received more than was sent");
  const after = record.afterInterruption!;
  assert.ok(after.quietAfterPolls > 0, "the output was still playing 1 s after the interruption");
  assert.ok(
    after.loudestAfterQuiet < 0.01,
    `the output came back after stopping (rms ${after.loudestAfterQuiet})`,
  );
  await waitFor(
    "the truncation to be accepted",
    () => upstream.serverEvents.find((e) => e.type === "conversation.item.truncated"),
  );
  return { truncate, interruption, record, sentMs };
}

function pageRecord(page: Page): Promise<PageRecord> {
  return page.evaluate(() => (globalThis as unknown as { __record: PageRecord }).__record);
}

function outputTap(page: Page): Promise<OutputTap> {
  return page.evaluate(() => (globalThis as unknown as { __outputTap: OutputTap }).__outputTap);
}

/** The rows of the transcript as the page shows them. */
function transcriptRows(
  page: Page,
): Promise<Array<{ role: string; text: string; partial: boolean; interrupted: boolean }>> {
  return page.$$eval("#transcript li", (items) =>
    items.map((li) => ({
      role: li.getAttribute("data-role") ?? "",
      text: li.querySelector(".text")?.textContent ?? "",
      partial: li.classList.contains("partial"),
      interrupted: li.classList.contains("interrupted"),
    })));
}

/** The page's state, error and transcript, for failure messages. */
async function describePage(page: Page): Promise<string> {
  const error = await page.textContent("#error");
  const rows = JSON.stringify(await transcriptRows(page));
  return `state ${await stateOf(page)}, error ${JSON.stringify(error)}, rows ${rows}`;
}

/** How full a level meter is drawn, in percent. */
async function meterPercent(page: Page, id: string): Promise<number> {
  const style = await page.$eval(`#${id}`, (el) => el.getAttribute("style") ?? "");
  return Number(/width:\s*([\d.]+)%/.exec(style)?.[1] ?? 0);
}

function stateOf(page: Page): Promise<string | undefined> {
  return page.$eval("#state", (el) => el.getAttribute("data-state") ?? undefined);
}

/** The first complete utterance (silence before and after it) in audio that started at `startMs` 0. */
function firstCompleteSpan(spans: Array<{ startMs: number; endMs: number }>, totalMs: number) {
  return spans.find((span) => span.startMs >= 200 && span.endMs <= totalMs - 200);
}

Deno.test({
  name: "demo page in headless Chromium: spoken turn, reply, stored messages, barge-in, reconnect with the " +
    "conversation, refusal, one-click local mode",
  // Missing Chromium fails the test with what to install; skipping is explicit, never silent.
  ignore: Deno.env.get("SKIP_BROWSER_TESTS") === "1",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "demo-browser-" });
    const prepared = await Promise.allSettled([
      speakSentence(dir, sentence, { leadSeconds: 0.8, tailSeconds: 3.5 }),
      startDatabaseFixture("postgres"),
    ]);
    if (prepared[0].status === "rejected" || prepared[1].status === "rejected") {
      if (prepared[1].status === "fulfilled") await prepared[1].value.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw prepared[0].status === "rejected"
        ? prepared[0].reason
        : (prepared[1] as PromiseRejectedResult).reason;
    }
    const spoken: SpokenSentence = prepared[0].value;
    const database: DatabaseFixture = prepared[1].value;
    const tap = new UpstreamTap();
    const simulator = createRealtimeSimulator({
      adapter: tap.wrap(createDenoAdapter({ idleTimeoutSeconds: 30 })),
      apiKeys: [openaiKey],
      script,
      realtimePacing: true,
    });
    const simServer = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, simulator.app.fetch);
    const relayEnv = {
      OPENAI_API_KEY: openaiKey,
      OPENAI_REALTIME_URL: `ws://127.0.0.1:${simServer.addr.port}/v1/realtime`,
      // Local auth (no SUPABASE_*): the test mints the user's token with the relay's own secret.
      RELAY_DATA_DIR: `${dir}/relay-data`,
      ...database.relayEnv,
    };
    // A second simulator that is not paced: the whole reply arrives at once, as OpenAI's audio arrives
    // faster than real time. Its relay has its own data directory (one relay per directory).
    const fastTap = new UpstreamTap();
    const fastSimulator = createRealtimeSimulator({
      adapter: fastTap.wrap(createDenoAdapter({ idleTimeoutSeconds: 30 })),
      apiKeys: [openaiKey],
      script: [script[1], script[2]],
      realtimePacing: false,
    });
    const fastSimServer = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      fastSimulator.app.fetch,
    );
    const fastEnv = {
      ...relayEnv,
      OPENAI_REALTIME_URL: `ws://127.0.0.1:${fastSimServer.addr.port}/v1/realtime`,
      RELAY_DATA_DIR: `${dir}/fast-relay-data`,
      RELAY_STORAGE: "none", // nothing here is about storage
    };
    // The embedded defaults: no environment but a fresh data directory.
    const localEnv = { RELAY_DATA_DIR: `${dir}/local-data` };
    const started = await Promise.allSettled(
      [relayEnv, fastEnv, localEnv].map((env) => startRelayProcess("deno", env)),
    );
    const [relay, fastRelay, localRelay] = started.map((r) => r.status === "fulfilled" ? r.value : undefined);
    let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
    try {
      for (const result of started) if (result.status === "rejected") throw result.reason;
      browser = await launchChromium(spoken.wavPath);
      const token = await mintLocalToken(relayEnv);
      const page = await browser!.context.newPage();
      let upstream!: TappedConnection;
      /** The relay's id for the page's conversation: where its stored messages are filed. */
      let conversationId = "";

      await t.step("the relay serves the page at / and it connects with the chosen voice", async () => {
        await page.goto(`${relay!.httpBase}/`);
        assert.equal(await page.title(), "Voice relay demo");
        // A real OpenAI key is configured here, so the relay must not hand out development tokens.
        await waitFor(
          "the token help",
          async () => /Paste/.test(await page.textContent("#token-help") ?? ""),
        );
        const devToken = await fetch(`${relay!.httpBase}/dev/token`);
        await devToken.body?.cancel();
        assert.equal(devToken.status, 404);
        await page.fill("#token", token);
        await page.selectOption("#voice", "cedar");
        await page.click("#connect");
        await recordClient(page);
        await waitFor("state listening", async () => (await stateOf(page)) === "listening");
        upstream = await waitFor("the upstream connection", () => tap.connections[0]);
        const update = upstream.clientEvents.find((e) => e.type === "session.update") as
          | { session: { audio: { output: { voice: string } } } }
          | undefined;
        assert.equal(update?.session.audio.output.voice, "cedar", "the picked voice reaches the session");
        assert.ok(
          !simulator.connections[0].url.includes(token),
          "the user's token never reaches the upstream",
        );
        conversationId = await waitFor(
          "the relay's conversation id on the page",
          () =>
            page.evaluate(() =>
              (globalThis as unknown as { voiceDemo: { client: { conversationId?: string } } }).voiceDemo
                .client
                .conversationId
            ),
        );
        assert.match(conversationId, /^[0-9a-f-]{36}$/);
      });

      await t.step(
        "the simulator receives the spoken sentence as 24 kHz PCM16 of the right length and level",
        async () => {
          await waitFor("the user's transcript on the page", async () => {
            const rows = await transcriptRows(page);
            return rows.some((r) => r.role === "user" && r.text === sentence && !r.partial);
          });
          const received = upstream.inputAudio();
          const totalMs = (received.samples.length / received.rate) * 1000;
          const spans = speechSpans(received, speechThreshold);
          const utterance = firstCompleteSpan(spans, totalMs);
          assert.ok(
            utterance,
            `no complete utterance in ${Math.round(totalMs)} ms received: ${JSON.stringify(spans)}`,
          );
          const referenceSpans = speechSpans(spoken.reference, speechThreshold);
          const reference = {
            startMs: referenceSpans[0].startMs,
            endMs: referenceSpans[referenceSpans.length - 1].endMs,
          };
          const receivedMs = utterance.endMs - utterance.startMs;
          const referenceMs = reference.endMs - reference.startMs;
          const receivedSpeech = slice(received, utterance);
          const referenceSpeech = slice(spoken.reference, reference);
          const ratio = level(receivedSpeech) / level(referenceSpeech);
          const correlation = envelopeCorrelation(referenceSpeech, receivedSpeech);
          const spokenLevel = level(referenceSpeech).toFixed(3);
          const receivedLevel = level(receivedSpeech).toFixed(3);
          console.log(
            `spoken ${referenceMs} ms at rms ${spokenLevel}; received ${receivedMs} ms at rms ${receivedLevel} ` +
              `(ratio ${ratio.toFixed(2)}), envelope correlation ${correlation.toFixed(2)}`,
          );
          // Duration: the same sentence lasts the same time only if the samples are 24 kHz. A wrong rate
          // anywhere (44.1 vs 48 kHz, or 48 kHz sent as 24) is off by 9 % to 100 %, i.e. 200 ms or more;
          // edge windows that noise suppression pushes under the threshold move each end by a few 10 ms.
          assert.ok(
            Math.abs(receivedMs - referenceMs) <= 100,
            `speech lasted ${receivedMs} ms, spoken ${referenceMs} ms`,
          );
          // Level: within 3 dB. Noise suppression and echo cancellation move clean speech by about 1 dB
          // (gain control, off by default, would add about 6 dB); broken PCM16 (wrong scale, byte order,
          // float bytes, clipping) is tens of dB off or noise.
          assert.ok(ratio > 0.7 && ratio < 1.41, `level ratio ${ratio}`);
          // Shape: the received level rises and falls with the spoken syllables.
          assert.ok(correlation > 0.8, `envelope correlation ${correlation}`);
          // Chunks of 20-100 ms (the client's default is 40 ms = 1920 bytes).
          const sizes = new Set(upstream.appends.map((a) => a.length));
          assert.deepEqual([...sizes], [1920], `append sizes ${[...sizes]}`);
        },
      );

      await t.step("the page plays the reply and shows both transcripts", async () => {
        await waitFor("the first reply's final transcript", async () => {
          const rows = await transcriptRows(page);
          return rows.some((r) =>
            r.role === "assistant" && r.text === script[0].assistantTranscript && !r.partial
          );
        });
        const firstReply = upstream.serverEvents.find((e) => e.type === "response.output_item.added") as
          | { item: { id: string } }
          | undefined;
        assert.ok(firstReply);
        assert.equal(upstream.audioMsSent(firstReply.item.id), 1200);
        await waitFor(
          "the reply to finish playing",
          async () => (await stateOf(page)) === "listening",
          10_000,
        );
        const heard = await outputTap(page);
        // The simulator's voice is a 0.25-amplitude tone plus noise: RMS about 0.18 when played as sent.
        assert.ok(heard.maxRms > 0.12 && heard.maxRms < 0.3, `output rms ${heard.maxRms}`);
        assert.ok(heard.loudPolls > 0);
        const stats = await page.evaluate(() =>
          (globalThis as unknown as { voiceDemo: { client: { stats(): Record<string, number> } } }).voiceDemo
            .client
            .stats()
        );
        assert.equal(stats.outputMsReceived, 1200);
        assert.equal(stats.interruptions, 0, "the first reply was heard to the end, not cut");
        // The page shows what the simulator said each side said, in conversation order.
        const userTranscript = upstream.serverEvents.find((e) =>
          e.type === "conversation.item.input_audio_transcription.completed"
        ) as { transcript: string } | undefined;
        const assistantTranscript = upstream.serverEvents.find((e) =>
          e.type === "response.output_audio_transcript.done"
        ) as { transcript: string } | undefined;
        assert.equal(userTranscript?.transcript, sentence);
        assert.equal(assistantTranscript?.transcript, script[0].assistantTranscript);
        const rows = await transcriptRows(page);
        assert.deepEqual(rows.slice(0, 2).map((r) => [r.role, r.text]), [
          ["user", userTranscript.transcript],
          ["assistant", assistantTranscript.transcript],
        ]);
        // The visualiser's feed saw both voices.
        const record = await pageRecord(page);
        assert.ok(record.maxInputLevel > 0.05, `input level ${record.maxInputLevel}`);
        assert.ok(record.maxOutputLevel > 0.1, `output level ${record.maxOutputLevel}`);
      });

      await t.step("the database holds both messages, filed under the page's conversation", async () => {
        const rows = await waitForRows<{ role: string; content: string; input_method: string }>(
          database.admin,
          `select role, content, metadata->>'input_method' as input_method from chat_messages_v2
            where conversation_id = $1 order by created_at`,
          [conversationId],
          (rows) => rows.length >= 2,
        );
        assert.deepEqual(rows.slice(0, 2), [
          { role: "user", content: sentence, input_method: "realtime_voice" },
          { role: "assistant", content: script[0].assistantTranscript, input_method: "realtime_voice" },
        ]);
        const [owner] = await database.admin.query<{ user_id: string }>(
          "select user_id::text as user_id from conversations where id = $1",
          [conversationId],
        );
        assert.equal(owner?.user_id, LOCAL_DEV_USER, "the conversation belongs to the token's user");
      });

      await t.step(
        "barge-in: speech during the reply stops playback and truncates to what was heard",
        async () => {
          await waitFor("the second reply to play", async () => {
            const replies = (await transcriptRows(page)).filter((r) => r.role === "assistant");
            // A few words in, so the screenshot shows a reply in progress.
            return replies.length >= 2 && replies[1].text.split(" ").length >= 3 &&
              (await stateOf(page)) === "speaking";
          });
          // Mid-conversation, with the assistant audible on the level meter.
          await waitFor(
            "the assistant's level meter",
            async () => (await meterPercent(page, "level-out")) > 20,
          );
          await page.screenshot({ path: `${dir}/demo.png` });
          if (Deno.env.get("UPDATE_DEMO_SCREENSHOT")) {
            await mkdir(new URL("../docs/", import.meta.url), { recursive: true });
            await copyFile(`${dir}/demo.png`, new URL("../docs/demo.png", import.meta.url));
          }
          const { truncate, sentMs } = await expectBargeIn(page, upstream);
          const replies = upstream.serverEvents.filter((e) =>
            e.type === "response.output_item.added"
          ) as unknown as Array<{ item: { id: string } }>;
          assert.equal(truncate.item_id, replies[1].item.id, "the long second reply is the one cut");
          assert.ok(sentMs < script[1].assistantAudioMs, "the simulator cancelled the reply on speech");
          assert.deepEqual(simulator.connections[0].sentErrors, [], "the simulator refused nothing");
          const rows = await transcriptRows(page);
          const cut = rows.filter((r) => r.role === "assistant")[1];
          assert.ok(cut.interrupted, "the cut reply is marked interrupted on the page");
        },
      );

      await t.step("the page reconnects after the upstream drops and the conversation resumes", async () => {
        const before = tap.connections.length;
        simulator.closeAll();
        const resumed = await waitFor("a new upstream connection", () => tap.connections[before]);
        await waitFor("listening again", async () => (await stateOf(page)) === "listening");
        const record = await pageRecord(page);
        assert.ok(record.states.includes("reconnecting"), `states ${record.states}`);
        assert.ok(record.errors.some((m) => /Reconnecting/.test(m)), `errors ${record.errors}`);
        // The client sent the relay's conversation id by itself; the relay replayed the stored turns.
        // (The first session's notice may precede the recorder, which is hooked on after the click.)
        const notice = record.conversations.at(-1);
        assert.ok(notice, "the new session's relay.conversation notice");
        assert.equal(notice.conversation_id, conversationId);
        assert.equal(notice.created, false);
        assert.ok(notice.resumed_turns >= 2, `resumed_turns ${notice.resumed_turns}`);
        const seeded = resumed.clientEvents.filter((e) =>
          e.type === "conversation.item.create"
        ) as unknown as Array<{ item: { role: string; content: Array<{ text?: string }> } }>;
        assert.equal(seeded.length, notice.resumed_turns);
        assert.deepEqual(
          seeded.slice(0, 2).map((e) => [e.item.role, e.item.content[0].text]),
          [["user", sentence], ["assistant", script[0].assistantTranscript]],
          "the new upstream session starts with the conversation so far",
        );
      });

      await t.step("the microphone toggle mutes and unmutes; Disconnect closes", async () => {
        const current = tap.connections[tap.connections.length - 1];
        await waitFor("audio on the new connection", () => current.appends.length > 0);
        await page.click("#mic");
        await waitFor("state ready (microphone off)", async () => (await stateOf(page)) === "ready");
        assert.equal(await page.textContent("#mic"), "Unmute microphone");
        await waitFor(
          "the uncommitted audio to be cleared",
          () => current.clientEvents.some((e) => e.type === "input_audio_buffer.clear"),
        );
        const appendsWhenMuted = current.appends.length;
        // Two chunk lengths of quiet on the wire would already show a leak; 300 ms is seven.
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(current.appends.length, appendsWhenMuted, "no audio is sent while muted");
        await page.click("#mic");
        await waitFor("listening again", async () => (await stateOf(page)) === "listening");
        await waitFor("audio again", () => current.appends.length > appendsWhenMuted);
        await page.click("#connect"); // Disconnect
        await waitFor("closed", async () => (await stateOf(page)) === "closed");
        await waitFor("the upstream to close", () => current.closed);
      });

      await t.step("a refused token is shown in plain words and not retried", async () => {
        const refused = await browser!.context.newPage();
        const authFailures = () =>
          relay!.logs.filter((line) => line.includes('"event":"auth_failed"')).length;
        const before = authFailures();
        await refused.goto(`${relay!.httpBase}/`);
        await refused.fill("#token", token.slice(0, -4) + "AAAA");
        await refused.click("#connect");
        await waitFor("the error", async () => !(await refused.isHidden("#error")));
        assert.match(await refused.textContent("#error") ?? "", /did not accept your sign-in/);
        await waitFor("closed", async () => (await stateOf(refused)) === "closed");
        // Longer than the first reconnect delay (at most 500 ms): a retry would show as a second failure.
        await new Promise((resolve) => setTimeout(resolve, 1200));
        assert.equal(authFailures() - before, 1);
        await refused.close();
      });

      await t.step(
        "barge-in with seconds of reply buffered (an upstream faster than real time, as OpenAI's is)",
        async () => {
          // The paced simulator keeps only ~0.2 s buffered in the page; here the whole 15 s reply arrives
          // at once, so a player that did not stop at once would keep playing for seconds.
          const fast = await browser!.context.newPage();
          await fast.goto(`${fastRelay!.httpBase}/`);
          await fast.fill("#token", await mintLocalToken(fastEnv));
          await fast.click("#connect");
          await recordClient(fast);
          const fastUpstream = await waitFor("the upstream connection", () => fastTap.connections[0]);
          const { truncate, interruption } = await expectBargeIn(fast, fastUpstream);
          assert.equal(interruption.receivedMs, script[1].assistantAudioMs, "the whole reply had arrived");
          assert.ok(
            truncate.audio_end_ms < interruption.receivedMs - 1000,
            "cut with more than a second still to play",
          );
          assert.deepEqual(fastSimulator.connections[0].sentErrors, [], "the simulator refused nothing");
          await fast.close();
        },
      );

      await t.step(
        "on the embedded defaults the page connects with one click and talks to the simulator",
        async () => {
          const local = await browser!.context.newPage();
          await local.goto(`${localRelay!.httpBase}/`);
          await waitFor(
            "the development token",
            async () => /development token/.test(await local.textContent("#token-help") ?? ""),
          );
          await local.click("#connect");
          await waitFor("the default script's answer", async () => {
            const rows = await transcriptRows(local);
            return rows.some((r) => r.role === "assistant" && r.text.startsWith("Yes, I can hear you"));
          }, 20_000).catch(async (error) => {
            throw new Error(`${error.message}; page: ${await describePage(local)}`);
          });
          const rows = await transcriptRows(local);
          assert.equal(rows[0].role, "user");
          assert.equal(rows[0].text, "Hello, can you hear me?");
          await local.close();
        },
      );
      await page.close();
    } finally {
      await browser?.close();
      await Promise.all([relay, fastRelay, localRelay].map((r) => r?.stop()));
      simulator.closeAll();
      fastSimulator.closeAll();
      await simServer.shutdown();
      await fastSimServer.shutdown();
      await database.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
