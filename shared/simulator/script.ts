/**
 * What the simulated user "said" and what the simulated assistant answers, turn after turn.
 *
 * @module
 */

/** One exchange: the transcript reported for the user's audio, and the assistant's answer. */
export interface ScriptedTurn {
  /** Sent as `conversation.item.input_audio_transcription.completed` for the user's item. */
  userTranscript: string;
  /** The assistant's transcript (or text, in a text-only session). */
  assistantTranscript: string;
  /** Length of the assistant audio streamed for this answer. */
  assistantAudioMs: number;
}

/** The default script, cycled: short answers, so local sessions and tests stay quick. */
export const defaultScript: readonly ScriptedTurn[] = [
  {
    userTranscript: "Hello, can you hear me?",
    assistantTranscript: "Yes, I can hear you clearly. How can I help you today?",
    assistantAudioMs: 2400,
  },
  {
    userTranscript: "What is the weather like on Mars?",
    assistantTranscript: "Cold and dry, with thin air and dusty winds. A warm afternoon near the equator " +
      "can reach about twenty degrees Celsius.",
    assistantAudioMs: 4200,
  },
  {
    userTranscript: "Thanks, that's all for now.",
    assistantTranscript: "You're welcome. Talk to you soon!",
    assistantAudioMs: 1600,
  },
];

/** The turn for the `index`-th exchange (0-based), cycling through `script`. */
export function scriptedTurn(script: readonly ScriptedTurn[], index: number): ScriptedTurn {
  return script[index % script.length];
}
