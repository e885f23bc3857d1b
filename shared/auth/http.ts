/**
 * A bounded HTTP GET for the auth module's two outbound calls (JWKS, Supabase Auth `/user`).
 *
 * Both run on the connection path, so each has a deadline and a body-size cap: a slow or huge answer
 * must not hold a WebSocket upgrade open or fill memory.
 *
 * @module
 */

/** What {@link fetchText} read: the status and the whole body as text. */
export interface FetchTextResult {
  status: number;
  body: string;
}

/** Limits for {@link fetchText}. */
export interface FetchTextOptions {
  /** Headers to send. */
  headers?: Record<string, string>;
  /** Deadline for the response and its whole body. */
  timeoutMs: number;
  /** The body may be at most this many bytes. */
  maxBodyBytes: number;
}

/**
 * GETs `url` with `fetchFn` and reads the body as text. Throws an Error whose message names the URL
 * (and never the request headers) on network failure, timeout, or an oversized body.
 */
export async function fetchText(
  fetchFn: typeof fetch,
  url: string,
  options: FetchTextOptions,
): Promise<FetchTextResult> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`no complete answer within ${options.timeoutMs} ms`)),
    options.timeoutMs,
  );
  try {
    const response = await fetchFn(url, { headers: options.headers, signal: controller.signal });
    const body = await readLimited(response, options.maxBodyBytes);
    return { status: response.status, body };
  } catch (error) {
    const reason = controller.signal.aborted
      ? String(controller.signal.reason?.message)
      : errorMessage(error);
    throw new Error(`GET ${url} failed: ${reason}`);
  } finally {
    clearTimeout(timer);
  }
}

async function readLimited(response: Response, maxBodyBytes: number): Promise<string> {
  if (!response.body) return "";
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBodyBytes) {
    await response.body.cancel();
    throw new Error(`body of ${declared} bytes exceeds the limit of ${maxBodyBytes} bytes`);
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBodyBytes) {
      await reader.cancel();
      throw new Error(`body exceeds the limit of ${maxBodyBytes} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
