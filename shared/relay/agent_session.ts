/**
 * The server-owned session configuration: what the relay sends upstream as `session.update` before
 * any client event, built from the agent's row (or the configured defaults when no agent is named).
 *
 * @module
 */
import { isRealtimeVoice, type RealtimeVoice } from "../protocol/voices.ts";
import type { AgentRecord } from "../storage/store.ts";

/** What the relay configures when the agent leaves a setting open. */
export interface SessionDefaults {
  instructions: string;
  voice: RealtimeVoice;
  transcriptionModel: string;
}

/** The settings a session runs with, resolved once at connect. */
export interface SessionSettings {
  model: string;
  voice: string;
  instructions: string;
  transcriptionModel: string | null;
  turnDetection: Record<string, unknown> | null;
  tools: unknown[];
}

/** Resolves the session's settings from the agent (if any), the client's `?voice=` and the defaults. */
export function resolveSessionSettings(
  agent: AgentRecord | null,
  model: string,
  requestedVoice: RealtimeVoice | undefined,
  defaults: SessionDefaults,
): SessionSettings {
  return {
    model,
    voice: requestedVoice ?? (isRealtimeVoice(agent?.voice) ? agent.voice : defaults.voice),
    instructions: agent?.instructions ?? defaults.instructions,
    transcriptionModel: agent
      ? agent.transcriptionModel ?? defaults.transcriptionModel
      : defaults.transcriptionModel,
    turnDetection: agent?.turnDetection ?? { type: "server_vad" },
    tools: agent?.tools ?? [],
  };
}

/** The GA `session.update` that puts `settings` in force upstream. */
export function sessionUpdateEvent(settings: SessionSettings, eventId: string): string {
  const session: Record<string, unknown> = {
    type: "realtime",
    model: settings.model,
    instructions: settings.instructions,
    output_modalities: ["audio"],
    audio: {
      input: {
        format: { type: "audio/pcm", rate: 24000 },
        transcription: settings.transcriptionModel ? { model: settings.transcriptionModel } : null,
        turn_detection: settings.turnDetection,
      },
      output: { format: { type: "audio/pcm", rate: 24000 }, voice: settings.voice },
    },
  };
  if (settings.tools.length > 0) {
    session.tools = settings.tools;
    session.tool_choice = "auto";
  }
  return JSON.stringify({ type: "session.update", event_id: eventId, session });
}
