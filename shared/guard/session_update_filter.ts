/**
 * Filters a client's `session.update`: the session belongs to the server. By default a client may
 * change the voice (within the voice allowlist) and turn detection (within bounds); the agent's
 * `client_overrides` can open more (`instructions`, `tools`, `output_modalities`, `speed`,
 * `transcription`, `max_output_tokens`). Everything else is dropped and named in an error. Beta-shaped
 * updates are read too and rewritten in the GA shape the upstream speaks.
 *
 * @module
 */
import { isRealtimeVoice } from "../protocol/voices.ts";

/** Fields an agent can open to clients through `client_overrides: {"<field>": true}`. */
export const OPENABLE_FIELDS = [
  "instructions",
  "tools",
  "tool_choice",
  "output_modalities",
  "speed",
  "transcription",
  "max_output_tokens",
] as const;

/** One problem found in a client's update. */
export interface FilterProblem {
  code: "field_not_allowed" | "unknown_voice" | "invalid_turn_detection";
  param: string;
  message: string;
}

/** The filtered update: what may be forwarded (null when nothing is left) and what was refused. */
export interface FilteredSessionUpdate {
  session: Record<string, unknown> | null;
  problems: FilterProblem[];
}

const vadBounds: Record<string, [number, number]> = {
  threshold: [0, 1],
  prefix_padding_ms: [0, 2000],
  silence_duration_ms: [100, 5000],
  idle_timeout_ms: [5000, 30000],
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Checks a turn_detection object against the bounds; returns the cleaned object or a problem. */
function checkTurnDetection(value: unknown, param: string): { value: unknown } | FilterProblem {
  const problem = (message: string): FilterProblem => ({ code: "invalid_turn_detection", param, message });
  if (value === null) return { value: null };
  if (!isRecord(value)) return problem(`${param} must be an object or null`);
  const type = value.type;
  if (type !== "server_vad" && type !== "semantic_vad") {
    return problem(`${param}.type must be server_vad or semantic_vad`);
  }
  const out: Record<string, unknown> = { type };
  for (const [key, field] of Object.entries(value)) {
    if (key === "type") continue;
    if (key === "create_response" || key === "interrupt_response") {
      if (typeof field !== "boolean") return problem(`${param}.${key} must be a boolean`);
      out[key] = field;
    } else if (type === "semantic_vad" && key === "eagerness") {
      if (!["low", "medium", "high", "auto"].includes(field as string)) {
        return problem(`${param}.eagerness must be low, medium, high or auto`);
      }
      out[key] = field;
    } else if (type === "server_vad" && key in vadBounds) {
      const [min, max] = vadBounds[key];
      if (typeof field !== "number" || !(field >= min && field <= max)) {
        return problem(`${param}.${key} must be a number from ${min} to ${max}`);
      }
      out[key] = field;
    } else {
      return problem(`${param}.${key} is not a ${type} setting the relay accepts`);
    }
  }
  return { value: out };
}

/** Filters one client session object (GA or beta shape) under the agent's `client_overrides`. */
export function filterSessionUpdate(
  session: Record<string, unknown>,
  clientOverrides: Record<string, unknown>,
): FilteredSessionUpdate {
  const opened = (field: string) => clientOverrides[field] === true;
  const problems: FilterProblem[] = [];
  const output: Record<string, unknown> = {};
  const input: Record<string, unknown> = {};
  const top: Record<string, unknown> = {};
  const refuse = (param: string) =>
    problems.push({
      code: "field_not_allowed",
      param,
      message: `The relay does not let clients set ${param}: it belongs to the agent's configuration.`,
    });
  const setVoice = (value: unknown, param: string) => {
    if (isRealtimeVoice(value)) output.voice = value;
    else problems.push({ code: "unknown_voice", param, message: `Unknown voice ${JSON.stringify(value)}.` });
  };
  const setTurnDetection = (value: unknown, param: string) => {
    const checked = checkTurnDetection(value, param);
    if ("code" in checked) problems.push(checked);
    else input.turn_detection = checked.value;
  };
  const openable = (name: string, value: unknown, param: string, apply: (v: unknown) => void) => {
    if (opened(name)) apply(value);
    else refuse(param);
  };
  for (const [key, value] of Object.entries(session)) {
    const param = `session.${key}`;
    switch (key) {
      case "type":
        if (value !== "realtime") {
          problems.push({ code: "field_not_allowed", param, message: 'session.type must be "realtime".' });
        }
        break;
      case "voice": // beta
        setVoice(value, param);
        break;
      case "turn_detection": // beta
        setTurnDetection(value, param);
        break;
      case "audio": {
        if (!isRecord(value)) {
          refuse(param);
          break;
        }
        for (const [direction, settings] of Object.entries(value)) {
          if ((direction !== "input" && direction !== "output") || !isRecord(settings)) {
            refuse(`${param}.${direction}`);
            continue;
          }
          for (const [name, field] of Object.entries(settings)) {
            const fieldParam = `${param}.${direction}.${name}`;
            if (direction === "output" && name === "voice") setVoice(field, fieldParam);
            else if (direction === "input" && name === "turn_detection") setTurnDetection(field, fieldParam);
            else if (direction === "output" && name === "speed") {
              openable("speed", field, fieldParam, (v) => (output.speed = v));
            } else if (direction === "input" && name === "transcription") {
              openable("transcription", field, fieldParam, (v) => (input.transcription = v));
            } else refuse(fieldParam);
          }
        }
        break;
      }
      case "speed": // beta
        openable("speed", value, param, (v) => (output.speed = v));
        break;
      case "input_audio_transcription": // beta
        openable("transcription", value, param, (v) => (input.transcription = v));
        break;
      case "modalities": // beta
      case "output_modalities":
        openable("output_modalities", value, param, (v) => (top.output_modalities = v));
        break;
      case "max_response_output_tokens": // beta
      case "max_output_tokens":
        openable("max_output_tokens", value, param, (v) => (top.max_output_tokens = v));
        break;
      case "instructions":
      case "tools":
      case "tool_choice":
        openable(key, value, param, (v) => (top[key] = v));
        break;
      default:
        refuse(param);
    }
  }
  const audio: Record<string, unknown> = {};
  if (Object.keys(input).length) audio.input = input;
  if (Object.keys(output).length) audio.output = output;
  if (Object.keys(audio).length) top.audio = audio;
  return { session: Object.keys(top).length ? { type: "realtime", ...top } : null, problems };
}
