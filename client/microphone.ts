/// <reference lib="dom" />
/**
 * The microphone: `getUserMedia` with echo cancellation and noise suppression on, into the PCM16
 * AudioWorklet ({@link MIC_PROCESSOR_NAME}), which hands back 24 kHz chunks of 20-100 ms.
 *
 * @module
 */
import { MIC_PROCESSOR_NAME, type MicChunk, micWorkletSource } from "./mic_worklet.ts";

/** Options for {@link Microphone.open}. */
export interface MicrophoneOptions {
  /** Length of each chunk sent, 20-100 ms (default 40). */
  chunkMs?: number;
  /**
   * Browser automatic gain control; default off. It lifts room noise in every pause, which server VAD
   * can take for speech (a false barge-in), and it changes the level the model hears. Echo cancellation
   * and noise suppression are always on.
   */
  autoGainControl?: boolean;
  /** A specific input device (`MediaDeviceInfo.deviceId`). */
  deviceId?: string;
  /**
   * Where to load the worklet from, for apps whose CSP forbids `blob:` scripts: serve the text of
   * `micWorkletSource()` as a JavaScript file. Default: a Blob URL made from that text.
   */
  workletUrl?: string | URL;
}

const loadedContexts = new WeakMap<BaseAudioContext, Promise<void>>();

/** Loads the worklet module into `context` once. */
function loadWorklet(context: BaseAudioContext, workletUrl: string | URL | undefined): Promise<void> {
  let loading = loadedContexts.get(context);
  if (!loading) {
    if (workletUrl) {
      loading = context.audioWorklet.addModule(String(workletUrl));
    } else {
      const url = URL.createObjectURL(new Blob([micWorkletSource()], { type: "text/javascript" }));
      loading = context.audioWorklet.addModule(url).finally(() => URL.revokeObjectURL(url));
    }
    loading.catch(() => loadedContexts.delete(context));
    loadedContexts.set(context, loading);
  }
  return loading;
}

/** An open microphone feeding chunks to a callback until {@link Microphone.close}. */
export class Microphone {
  private constructor(
    private readonly stream: MediaStream,
    private readonly source: MediaStreamAudioSourceNode,
    private readonly node: AudioWorkletNode,
  ) {}

  /** Asks for the microphone and starts delivering chunks to `onChunk`. Rejects with the browser's error. */
  static async open(
    context: AudioContext,
    onChunk: (chunk: MicChunk) => void,
    options: MicrophoneOptions = {},
  ): Promise<Microphone> {
    await loadWorklet(context, options.workletUrl);
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        echoCancellation: true,
        noiseSuppression: true,
        autoGainControl: options.autoGainControl ?? false,
        channelCount: 1,
        ...(options.deviceId ? { deviceId: { exact: options.deviceId } } : {}),
      },
    });
    try {
      const source = context.createMediaStreamSource(stream);
      const node = new AudioWorkletNode(context, MIC_PROCESSOR_NAME, {
        numberOfInputs: 1,
        numberOfOutputs: 0,
        channelCountMode: "explicit",
        channelCount: 1,
        processorOptions: { chunkMs: options.chunkMs ?? 40 },
      });
      node.port.onmessage = (event: MessageEvent<MicChunk>) => onChunk(event.data);
      source.connect(node);
      return new Microphone(stream, source, node);
    } catch (error) {
      for (const track of stream.getTracks()) track.stop();
      throw error;
    }
  }

  /** Settings the browser applied (echo cancellation, noise suppression, rate...). */
  get settings(): MediaTrackSettings {
    return this.stream.getAudioTracks()[0]?.getSettings() ?? {};
  }

  /** Stops capture and releases the device (the browser's recording indicator goes off). */
  close(): void {
    this.node.port.onmessage = null;
    this.source.disconnect();
    this.node.disconnect();
    for (const track of this.stream.getTracks()) track.stop();
  }
}

/** A microphone failure in plain words (permission, missing device, device busy). */
export function describeMicrophoneError(error: unknown): string {
  const name = (error as { name?: string })?.name;
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone access was blocked. Allow it for this site in the browser's settings and try again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found. Connect one and try again.";
    case "NotReadableError":
    case "AbortError":
      return "The microphone is busy or unavailable (another app may be using it).";
    default:
      return `The microphone could not be started${error instanceof Error ? ` (${error.message})` : ""}.`;
  }
}
