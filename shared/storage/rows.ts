/**
 * Row mapping shared by every adapter: the database speaks snake_case (as PostgREST returns it and as
 * the SQL drivers do), the relay speaks {@link AgentRecord}s and ISO strings.
 *
 * @module
 */
import type { AgentRecord } from "./store.ts";

/** The `agents` columns the relay reads, in select-list form. */
export const AGENT_COLUMNS =
  "id,owner_id,name,instructions,voice,model,turn_detection,transcription_model,tools,is_public,client_overrides";

/** An `agents` row as the database returns it. */
export interface AgentRow {
  id: string;
  owner_id: string;
  name: string | null;
  instructions: string | null;
  voice: string | null;
  model: string | null;
  turn_detection: unknown;
  transcription_model: string | null;
  tools: unknown;
  is_public: boolean;
  client_overrides: unknown;
}

function asObject(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? value as Record<string, unknown>
    : null;
}

/** Maps an `agents` row to an {@link AgentRecord}; malformed JSON columns read as empty. */
export function agentFromRow(row: AgentRow): AgentRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    name: row.name ?? "",
    instructions: row.instructions ?? "",
    voice: row.voice,
    model: row.model,
    turnDetection: asObject(row.turn_detection),
    transcriptionModel: row.transcription_model,
    tools: Array.isArray(row.tools) ? row.tools : [],
    isPublic: row.is_public === true,
    clientOverrides: asObject(row.client_overrides) ?? {},
  };
}

/** A timestamp from a driver (Date) or from JSON (string) as an ISO string (millisecond precision). */
export function toIso(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return new Date(String(value)).toISOString();
}
