/**
 * Errors in the Realtime API's wire shape, and the mapping from a failed zod validation to the error the
 * API sends for the same mistake (`unknown_parameter`, `missing_required_parameter`, `invalid_value`,
 * `invalid_type`, ...), with the API's wording and `param` paths such as `session.tools[2].name`.
 *
 * @module
 */
import type { z } from "zod";

/** The `error` object inside an `error` event. */
export interface ApiError {
  type: "invalid_request_error" | "server_error";
  code: string | null;
  message: string;
  param: string | null;
  /** The client event that caused it, when it had an `event_id`. */
  event_id: string | null;
}

/** Builds an {@link ApiError}; `type` defaults to `invalid_request_error`, the API's type for client mistakes. */
export function apiError(
  code: string | null,
  message: string,
  options: { param?: string | null; eventId?: string | null; type?: ApiError["type"] } = {},
): ApiError {
  return {
    type: options.type ?? "invalid_request_error",
    code,
    message,
    param: options.param ?? null,
    event_id: options.eventId ?? null,
  };
}

/** Formats a zod path the way the API names params: `session.tools[2].name`. */
export function formatParam(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** "'a', 'b', and 'c'" — the API's list style in "Supported values are: ...". */
function quoteList(values: ReadonlyArray<unknown>): string {
  const quoted = values.map((v) => `'${String(v)}'`);
  if (quoted.length <= 1) return quoted.join("");
  if (quoted.length === 2) return `${quoted[0]} and ${quoted[1]}`;
  return `${quoted.slice(0, -1).join(", ")}, and ${quoted[quoted.length - 1]}`;
}

/** "a string", "an integer", ... as the API describes JSON types. */
function describeJsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a decimal";
  if (typeof value === "object") return "an object";
  if (typeof value === "boolean") return "a boolean";
  return `a ${typeof value}`;
}

function describeExpected(expected: string): string {
  switch (expected) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "int":
      return "an integer";
    case "boolean":
      return "a boolean";
    case "array":
      return "an array";
    case "object":
      return "an object";
    default:
      return expected;
  }
}

function valueAt(input: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let current: unknown = input;
  for (const part of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

/**
 * The API error for the first problem zod found in `input`. Unknown parameters are reported before
 * anything else, as the API does (it rejects unknown fields before looking at values).
 */
export function errorFromZod(
  error: z.ZodError,
  input: unknown,
  prefix: string,
  eventId: string | null,
): ApiError {
  const issues = [...error.issues].sort((a, b) =>
    Number(b.code === "unrecognized_keys") - Number(a.code === "unrecognized_keys")
  );
  const issue = issues[0];
  const opts = (param: string) => ({ param, eventId });
  if (!issue) return apiError("invalid_value", "Invalid request.", { eventId });
  if (issue.code === "unrecognized_keys") {
    const param = formatParam(prefix, [...issue.path, issue.keys[0]]);
    return apiError("unknown_parameter", `Unknown parameter: '${param}'.`, opts(param));
  }
  const param = formatParam(prefix, issue.path);
  const value = valueAt(input, issue.path);
  if (value === undefined) {
    return apiError("missing_required_parameter", `Missing required parameter: '${param}'.`, opts(param));
  }
  switch (issue.code) {
    case "invalid_value":
      return apiError(
        "invalid_value",
        `Invalid value: '${String(value)}'. Supported values are: ${quoteList(issue.values)}.`,
        opts(param),
      );
    case "invalid_type":
      return apiError(
        "invalid_type",
        `Invalid type for '${param}': expected ${describeExpected(issue.expected)}, but got ${
          describeJsonType(value)
        } instead.`,
        opts(param),
      );
    case "too_big":
    case "too_small": {
      const above = issue.code === "too_big";
      const limit = issue.code === "too_big" ? issue.maximum : issue.minimum;
      const kind = issue.origin === "string"
        ? "string"
        : issue.origin === "array"
        ? "array"
        : issue.origin === "int" || issue.origin === "bigint"
        ? "integer"
        : "decimal";
      const what = kind === "string" || kind === "array" ? "length" : "value";
      const code = `${kind}_${above ? "above_max" : "below_min"}_${what}`;
      return apiError(
        code,
        `Invalid '${param}': ${kind} ${
          above ? "above maximum" : "below minimum"
        } ${what}. Expected a ${what} ${above ? "<=" : ">="} ${String(limit)}, but got ${
          kind === "string" || kind === "array" ? (value as { length: number }).length : String(value)
        } instead.`,
        opts(param),
      );
    }
    case "invalid_union": {
      // A discriminated union names its options (and the path already ends at the discriminator); a
      // plain union (e.g. a voice name or a custom voice object) carries the enum's issue inside.
      let options = (issue as { options?: unknown[] }).options;
      for (const inner of issue.errors.flat()) {
        if (options) break;
        if (inner.code === "invalid_value" && inner.path.length === 0) options = inner.values;
      }
      if (options && typeof value !== "object") {
        return apiError(
          "invalid_value",
          `Invalid value: '${String(value)}'. Supported values are: ${quoteList(options)}.`,
          opts(param),
        );
      }
      return apiError("invalid_value", `Invalid value for '${param}'.`, opts(param));
    }
    default:
      return apiError("invalid_value", `Invalid value for '${param}': ${issue.message}.`, opts(param));
  }
}
