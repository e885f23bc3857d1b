/**
 * The simulator's stand-in for server VAD: energy over 10 ms windows of the appended audio. Loud
 * windows start speech; `silenceMs` of quiet windows (audio time, not wall time) end it. Positions are
 * absolute sample indexes since the session began, which is what `audio_start_ms`/`audio_end_ms` count.
 *
 * @module
 */

/** Tuning for {@link EnergyVad}. */
export interface VadSettings {
  /** Input sample rate (24000 for PCM, 8000 for G.711). */
  sampleRate: number;
  /** RMS (of samples normalised to -1..1) at or above which a window counts as speech. */
  rmsThreshold: number;
  /** Quiet audio after speech that ends the turn. */
  silenceMs: number;
}

/** A change the VAD saw, at an absolute sample index. */
export type VadTransition =
  | { kind: "speech_started"; atSample: number }
  | { kind: "speech_stopped"; atSample: number };

/** Maps the API's `threshold` (0..1, a speech probability) to an energy level: 0.5 → RMS 0.03 (≈ -30 dBFS). */
export function rmsThresholdFor(threshold: number): number {
  return 0.005 + Math.max(0, Math.min(1, threshold)) * 0.05;
}

/** Energy VAD over fixed windows; feed it samples in order, it reports transitions in order. */
export class EnergyVad {
  private readonly windowSamples: number;
  private readonly silenceWindows: number;
  private windowFill = 0;
  private windowEnergy = 0;
  private speaking = false;
  private quietWindows = 0;
  /** Absolute index of the next sample to be fed. */
  position: number;

  constructor(private readonly settings: VadSettings, startPosition = 0) {
    this.windowSamples = Math.max(1, Math.round(settings.sampleRate / 100));
    this.silenceWindows = Math.max(1, Math.ceil(settings.silenceMs / 10));
    this.position = startPosition;
  }

  /** True between a `speech_started` and the next `speech_stopped`. */
  get inSpeech(): boolean {
    return this.speaking;
  }

  /** Forgets an ongoing utterance (after a manual commit or a buffer clear). */
  reset(): void {
    this.speaking = false;
    this.quietWindows = 0;
  }

  /** Feeds samples; returns the transitions they caused, in order. */
  feed(samples: Float32Array): VadTransition[] {
    const transitions: VadTransition[] = [];
    const threshold = this.settings.rmsThreshold;
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i];
      this.windowEnergy += s * s;
      this.windowFill++;
      this.position++;
      if (this.windowFill < this.windowSamples) continue;
      const loud = Math.sqrt(this.windowEnergy / this.windowFill) >= threshold;
      const windowStart = this.position - this.windowFill;
      this.windowFill = 0;
      this.windowEnergy = 0;
      if (loud) {
        this.quietWindows = 0;
        if (!this.speaking) {
          this.speaking = true;
          transitions.push({ kind: "speech_started", atSample: windowStart });
        }
      } else if (this.speaking && ++this.quietWindows >= this.silenceWindows) {
        this.speaking = false;
        this.quietWindows = 0;
        transitions.push({ kind: "speech_stopped", atSample: this.position });
      }
    }
    return transitions;
  }
}
