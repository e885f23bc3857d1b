/**
 * Test support: one spoken turn over a relay session (a tone the simulator's VAD hears as speech, then
 * silence so it ends the turn), and the ledger of what the client saw: which turns completed, with the
 * item ids and transcripts the database must then hold exactly once.
 *
 * @module
 */
import type { WssClient } from "./wss_client.ts";

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}

/** 600 ms of a 300 Hz tone, PCM16 24 kHz, base64. */
export const speechAudio: string = (() => {
  const pcm = new Int16Array(24 * 600);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(Math.sin((2 * Math.PI * 300 * i) / 24000) * 9000);
  return base64(new Uint8Array(pcm.buffer));
})();

/** 700 ms of silence, PCM16 24 kHz, base64: long enough for the simulator's VAD to end the turn. */
export const silenceAudio: string = base64(new Uint8Array(24 * 700 * 2));

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
 * Speaks one turn and waits for its `response.done`. Returns the completed turn, or undefined when the
 * socket closed first (the turn is then not counted as completed). Every item id seen on the way is
 * added to `seen`.
 */
export async function speakTurn(
  client: WssClient,
  conversationId: string,
  seen: SeenItems,
  timeoutMs = 20_000,
): Promise<CompletedTurn | undefined> {
  const committedBefore = client.count("input_audio_buffer.committed");
  const doneBefore = client.count("response.done");
  client.send({ type: "input_audio_buffer.append", audio: speechAudio });
  client.send({ type: "input_audio_buffer.append", audio: silenceAudio });
  let nth = 0;
  try {
    const committed = await client.waitFor(
      "input_audio_buffer.committed",
      timeoutMs,
      () => ++nth > committedBefore,
    );
    const userItemId = String(committed.item_id);
    seen.ids.add(userItemId);
    const transcription = await client.waitFor(
      "conversation.item.input_audio_transcription.completed",
      timeoutMs,
      (e) => e.item_id === userItemId,
    );
    let doneSeen = 0;
    const done = await client.waitFor("response.done", timeoutMs, () => ++doneSeen > doneBefore);
    const response = done.response as { status?: string; output?: Item[] };
    const item = response.output?.[0];
    if (item?.id) seen.ids.add(item.id);
    if (response.status !== "completed" || !item?.id) return undefined;
    return {
      conversationId,
      userItemId,
      userTranscript: String(transcription.transcript),
      assistantItemId: item.id,
      assistantTranscript: item.content?.[0]?.transcript ?? item.content?.[0]?.text ?? "",
    };
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
  }
}
