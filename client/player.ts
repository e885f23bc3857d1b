/// <reference lib="dom" />
/**
 * Plays the assistant's audio (`response.output_audio.delta`, beta `response.audio.delta`): 24 kHz
 * PCM16 chunks scheduled back to back on an AudioContext, so playback is gapless whatever the context's
 * own rate. Knows how much of each item has actually been heard, which barge-in truncates to.
 *
 * @module
 */
import { PlaybackLedger, type PlayedItem } from "./playback_ledger.ts";
import { pcm16ToFloat32, PCM_SAMPLE_RATE, rms } from "./pcm.ts";

/** Options for {@link AudioPlayer}. */
export interface AudioPlayerOptions {
  /** Delay before the first chunk after silence, room for network jitter (default 80 ms). */
  leadMs?: number;
  /** Called when everything scheduled has finished playing (not after {@link AudioPlayer.stop}). */
  onIdle?: () => void;
}

/** Gapless PCM16 playback with played-time accounting. */
export class AudioPlayer {
  private readonly ledger: PlaybackLedger;
  private readonly output: GainNode;
  private readonly analyser: AnalyserNode;
  private readonly levelBuffer: Float32Array<ArrayBuffer>;
  private readonly sources = new Set<AudioBufferSourceNode>();
  /** Chunks scheduled since the player was made. */
  chunksScheduled = 0;

  constructor(private readonly context: AudioContext, private readonly options: AudioPlayerOptions = {}) {
    this.ledger = new PlaybackLedger((options.leadMs ?? 80) / 1000);
    this.output = context.createGain();
    this.analyser = context.createAnalyser();
    this.analyser.fftSize = 1024;
    this.levelBuffer = new Float32Array(this.analyser.fftSize);
    this.output.connect(this.analyser);
    this.analyser.connect(context.destination);
  }

  /**
   * The context time of the sample being heard now: the output timestamp where the browser reports one
   * (it accounts for the device's latency), else the render clock minus the reported output latency.
   */
  heardTime(): number {
    const rendered = this.context.currentTime;
    const stamp = typeof this.context.getOutputTimestamp === "function"
      ? this.context.getOutputTimestamp()
      : undefined;
    if (stamp?.contextTime && stamp.performanceTime) {
      const since = Math.max(0, performance.now() - stamp.performanceTime) / 1000;
      return Math.min(rendered, stamp.contextTime + since);
    }
    return Math.max(0, rendered - (this.context.outputLatency || 0));
  }

  /** Schedules one chunk of 24 kHz PCM16 little-endian for `itemId`. */
  enqueue(itemId: string, pcm: Uint8Array): void {
    const samples = pcm16ToFloat32(pcm);
    if (samples.length === 0) return;
    const buffer = this.context.createBuffer(1, samples.length, PCM_SAMPLE_RATE);
    buffer.copyToChannel(samples, 0);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.output);
    const start = this.ledger.schedule(itemId, samples.length / PCM_SAMPLE_RATE, this.context.currentTime);
    source.start(start);
    this.sources.add(source);
    this.chunksScheduled++;
    source.onended = () => {
      this.sources.delete(source);
      source.disconnect();
      if (this.sources.size === 0) this.options.onIdle?.();
    };
  }

  /** True while scheduled audio remains to be heard. */
  get playing(): boolean {
    return this.sources.size > 0 || this.ledger.isPlaying(this.context.currentTime);
  }

  /** Milliseconds of `itemId` heard so far. */
  playedMs(itemId: string): number {
    return this.ledger.playedMs(itemId, this.heardTime());
  }

  /** Milliseconds of `itemId` received. */
  receivedMs(itemId: string): number {
    return this.ledger.receivedMs(itemId);
  }

  /** Times playback ran dry in the middle of an item. */
  get underruns(): number {
    return this.ledger.underruns;
  }

  /** Stops all playback at once; returns each item cut short with what was heard and received. */
  stop(): PlayedItem[] {
    const cut = this.ledger.stop(this.heardTime());
    for (const source of this.sources) {
      source.onended = null;
      try {
        source.stop();
      } catch { /* not started yet on some engines: disconnecting is enough */ }
      source.disconnect();
    }
    this.sources.clear();
    return cut;
  }

  /** RMS of what is being played right now (0..1), for a level meter. */
  outputLevel(): number {
    this.analyser.getFloatTimeDomainData(this.levelBuffer);
    return rms(this.levelBuffer);
  }

  /** Stops playback and detaches from the context. */
  dispose(): void {
    this.stop();
    this.output.disconnect();
    this.analyser.disconnect();
  }
}
