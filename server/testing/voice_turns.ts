/**
 * Test support: speaking to the simulator through a relay. A tone the simulator's VAD hears as speech,
 * silence that ends the turn, and a helper that waits for the n-th answer.
 *
 * @module
 */
import type { TestClient } from "./test_client.ts";

/** Base64 of raw bytes (btoa on a binary string). */
export function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}

/** 600 ms of a 300 Hz tone as base64 PCM16 at 24 kHz: speech to the simulator's VAD. */
export const speechAudio: string = (() => {
  const pcm = new Int16Array(24 * 600);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(Math.sin((2 * Math.PI * 300 * i) / 24000) * 9000);
  return base64(new Uint8Array(pcm.buffer));
})();

/** 700 ms of silence: ends the turn (the simulator's VAD waits 500 ms). */
export const silenceAudio: string = base64(new Uint8Array(24 * 700 * 2));

/** One complete turn: speech, silence, and the `n`-th `response.done` of this client. */
export async function speakTurn(client: TestClient, n: number): Promise<void> {
  client.send({ type: "input_audio_buffer.append", audio: speechAudio });
  client.send({ type: "input_audio_buffer.append", audio: silenceAudio });
  await client.waitFor(
    "response.done",
    15_000,
    () => client.events.filter((e) => e.type === "response.done").length >= n,
  );
}

/** A simulator script of `turns` numbered exchanges ("user turn 1", "assistant turn 1", ...). */
export function numberedScript(turns: number, assistantAudioMs = 300) {
  return Array.from({ length: turns }, (_, i) => ({
    userTranscript: `user turn ${i + 1}`,
    assistantTranscript: `assistant turn ${i + 1}`,
    assistantAudioMs,
  }));
}
