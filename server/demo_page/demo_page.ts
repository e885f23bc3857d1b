/// <reference lib="dom" />
/**
 * The demo page's script (bundled with the client by `server/client_bundle.ts`): voice picker, connect,
 * microphone toggle, live transcript, state, level meters and errors in plain words. On a relay running
 * its embedded defaults it fetches a local development token from `/dev/token`; elsewhere the person
 * pastes a Supabase access token.
 *
 * @module
 */
import {
  isVoice,
  resolveVoiceEndpoint,
  type TranscriptEvent,
  VoiceClient,
  VOICES,
  type VoiceState,
} from "../../client/voice_client.ts";

const stateLabels: Record<VoiceState, string> = {
  idle: "Not connected",
  connecting: "Connecting…",
  ready: "Connected, microphone off",
  listening: "Listening",
  speaking: "Assistant speaking",
  reconnecting: "Reconnecting…",
  closed: "Disconnected",
};

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`demo page: #${id} is missing`);
  return found as T;
}

const voiceSelect = element<HTMLSelectElement>("voice");
const connectButton = element<HTMLButtonElement>("connect");
const micButton = element<HTMLButtonElement>("mic");
const stateBadge = element<HTMLSpanElement>("state");
const levelIn = element<HTMLDivElement>("level-in");
const levelOut = element<HTMLDivElement>("level-out");
const errorBox = element<HTMLParagraphElement>("error");
const transcriptList = element<HTMLOListElement>("transcript");
const emptyHint = element<HTMLParagraphElement>("empty");
const tokenBox = element<HTMLDetailsElement>("token-box");
const tokenHelp = element<HTMLParagraphElement>("token-help");
const tokenField = element<HTMLTextAreaElement>("token");

for (const voice of VOICES) voiceSelect.add(new Option(voice, voice));
voiceSelect.value = "marin";

let client: VoiceClient | undefined;
let devTokenAvailable = false;
const rows = new Map<string, HTMLLIElement>();

/** A fresh token from the relay's local development route (only on the embedded defaults). */
async function fetchDevToken(): Promise<string> {
  const response = await fetch("/dev/token", { cache: "no-store" });
  if (!response.ok) throw new Error(`The relay did not issue a development token (HTTP ${response.status}).`);
  return (await response.json()).token;
}

async function detectDevToken(): Promise<void> {
  try {
    tokenField.value = await fetchDevToken();
    devTokenAvailable = true;
    tokenHelp.textContent = "This relay runs on its local defaults: it issued a development token for the " +
      "local user, refreshed on every connect. In production your app passes the user's Supabase session token.";
  } catch {
    tokenHelp.textContent = "Paste the access token of a signed-in Supabase user; the relay checks it.";
    tokenBox.open = true;
  }
}

function showError(message: string | undefined): void {
  errorBox.hidden = !message;
  errorBox.textContent = message ?? "";
}

function showState(state: VoiceState): void {
  stateBadge.dataset.state = state;
  stateBadge.textContent = stateLabels[state];
  const live = state !== "idle" && state !== "closed";
  connectButton.textContent = live ? "Disconnect" : "Connect";
  connectButton.classList.toggle("secondary", live);
  micButton.disabled = !(state === "ready" || state === "listening" || state === "speaking");
  micButton.textContent = client?.microphoneEnabled ? "Mute microphone" : "Unmute microphone";
  voiceSelect.disabled = live;
  // Once a session is up the token has done its job: fold it away (it is a credential on screen).
  if (state === "ready" || state === "listening") tokenBox.open = false;
  if (!live) {
    levelIn.style.width = "0";
    levelOut.style.width = "0";
  }
}

/** The row of one conversation item, created in the order the items appear. */
function rowFor(itemId: string, role: TranscriptEvent["role"]): HTMLLIElement {
  let row = rows.get(itemId);
  if (!row) {
    row = document.createElement("li");
    row.className = `${role} partial`;
    row.dataset.itemId = itemId;
    row.dataset.role = role;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "You" : "Assistant";
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = "…";
    row.append(who, text);
    transcriptList.append(row);
    rows.set(itemId, row);
    emptyHint.hidden = true;
  }
  return row;
}

function showTranscript(event: TranscriptEvent): void {
  const row = rowFor(event.itemId, event.role);
  row.querySelector(".text")!.textContent = event.text || "…";
  row.classList.toggle("partial", !event.final);
  row.classList.toggle("interrupted", Boolean(event.interrupted));
  row.scrollIntoView({ block: "nearest" });
}

function meterWidth(level: number): string {
  return `${Math.round(Math.min(1, Math.sqrt(level) * 1.8) * 100)}%`;
}

async function connect(): Promise<void> {
  showError(undefined);
  const voice = voiceSelect.value;
  const pasted = tokenField.value.trim();
  if (!devTokenAvailable && !pasted) {
    tokenBox.open = true;
    showError("Paste an access token first (see below).");
    return;
  }
  const current = new VoiceClient({
    endpoint: resolveVoiceEndpoint({}),
    token: devTokenAvailable ? fetchDevToken : pasted,
    voice: isVoice(voice) ? voice : undefined,
  });
  client = current;
  current.on("state", showState);
  current.on("transcript", showTranscript);
  current.on("error", (error) => showError(error.message));
  current.on("level", (level) => {
    levelIn.style.width = meterWidth(level.input);
    levelOut.style.width = meterWidth(level.output);
  });
  current.on("server_event", (event) => {
    // A user row as soon as speech starts, so it sits above the answer it triggers.
    if (event.type === "input_audio_buffer.speech_started" && typeof event.item_id === "string") {
      rowFor(event.item_id, "user");
    }
  });
  try {
    await current.connect();
    await current.setMicrophoneEnabled(true);
    showState(current.state);
  } catch {
    // Already shown through the `error` event.
  }
}

connectButton.addEventListener("click", () => {
  if (client && client.state !== "closed") void client.close();
  else void connect();
});

micButton.addEventListener("click", async () => {
  if (!client) return;
  await client.toggleMicrophone();
  showState(client.state);
});

/** For people poking at the page from the console, and for the browser tests. */
(globalThis as { voiceDemo?: unknown }).voiceDemo = {
  get client() {
    return client;
  },
};

showState("idle");
void detectDevToken();
