/**
 * Test support: one spoken turn over a relay session (a tone the simulator's VAD hears as speech, then
 * silence so it ends the turn), and the ledger of what the client saw: which turns completed, with the
 * item ids and transcripts the database must then hold exactly once.
 *
 * @module
 */
import type { WssClient } from "./wss_client.ts";
import { silenceAudio, speechAudio } from "../../testing/voice_turns.ts";

export { silenceAudio, speechAudio };

/** A turn whose `response.done` the client saw: both halves must be stored. */
export interface CompletedTurn {
  conversationId: string;
  userItemId: string;
  userTranscript: string;
  assistantItemId: string;
  assistantTranscript: string;
}

/** Item ids the client saw for turns it started, completed or not (what the database may hold). */
export interface SeenItems {
  ids: Set<string>;
}

type Item = { id?: string; content?: Array<{ transcript?: string; text?: string }> };

/**
 * Audio a turn sends (speech plus silence) is 1.3 s; spreading turns at least this far apart keeps a
 * client at 1.3 s of audio per second, under the relay's default MAX_AUDIO_RATE (2 s per second), as a
 * real microphone would.
 */
export const minTurnSpacingMs = 1000;

/**
 * Speaks one turn and waits for its `response.done`, then paces itself ({@link minTurnSpacingMs}).
 * Returns the completed turn, or undefined when the socket closed first (the turn is then not counted
 * as completed). Every item id seen on the way is added to `seen`. An `error` event during the turn
 * fails it at once (a refused append would otherwise leave the turn hanging).
 */
export async function speakTurn(
  client: WssClient,
  conversationId: string,
  seen: SeenItems,
  timeoutMs = 20_000,
): Promise<CompletedTurn | undefined> {
  const startedAt = Date.now();
  const committedBefore = client.count("input_audio_buffer.committed");
  const doneBefore = client.count("response.done");
  let unsubscribe = () => {};
  const failure = new Promise<never>((_, reject) => {
    unsubscribe = client.subscribe((e) => {
      if (e.type === "error") reject(new Error(`error event during the turn: ${JSON.stringify(e.error)}`));
    });
  });
  failure.catch(() => {});
  const orFail = <T>(wait: Promise<T>) => Promise.race([wait, failure]);
  client.send({ type: "input_audio_buffer.append", audio: speechAudio });
  client.send({ type: "input_audio_buffer.append", audio: silenceAudio });
  let nth = 0;
  let turn: CompletedTurn | undefined;
  try {
    const committed = await orFail(
      client.waitFor("input_audio_buffer.committed", timeoutMs, () => ++nth > committedBefore),
    );
    const userItemId = String(committed.item_id);
    seen.ids.add(userItemId);
    const transcription = await orFail(client.waitFor(
      "conversation.item.input_audio_transcription.completed",
      timeoutMs,
      (e) => e.item_id === userItemId,
    ));
    let doneSeen = 0;
    const done = await orFail(client.waitFor("response.done", timeoutMs, () => ++doneSeen > doneBefore));
    const response = done.response as { status?: string; output?: Item[] };
    const item = response.output?.[0];
    if (item?.id) seen.ids.add(item.id);
    if (response.status === "completed" && item?.id) {
      turn = {
        conversationId,
        userItemId,
        userTranscript: String(transcription.transcript),
        assistantItemId: item.id,
        assistantTranscript: item.content?.[0]?.transcript ?? item.content?.[0]?.text ?? "",
      };
    }
  } catch (error) {
    // Any user item committed or assistant item started before the socket went away may have been
    // stored (an interrupted answer is stored with what was said).
    for (const event of client.events) {
      if (event.type === "input_audio_buffer.committed") seen.ids.add(String(event.item_id));
      if (event.type === "response.output_item.added") {
        const id = (event.item as Item | undefined)?.id;
        if (id) seen.ids.add(id);
      }
    }
    if (client.isOpen) throw error;
    return undefined;
  } finally {
    unsubscribe();
  }
  const spacing = minTurnSpacingMs - (Date.now() - startedAt);
  if (spacing > 0) await new Promise((resolve) => setTimeout(resolve, spacing));
  return turn;
}
