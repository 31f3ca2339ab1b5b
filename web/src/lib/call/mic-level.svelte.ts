// How loud a microphone track is now, 0 to 100, for a level meter: an AudioContext
// analyser read ten times a second (the RMS of the waveform, scaled so that speech fills
// most of the bar; a timer rather than animation frames, which stop in background tabs).
// Stop it when the meter goes.

export class MicLevel {
  level = $state(0);
  #context: AudioContext | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(track: MediaStreamTrack) {
    if (typeof AudioContext === 'undefined') return;
    const context = new AudioContext();
    this.#context = context;
    const source = context.createMediaStreamSource(new MediaStream([track]));
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    // A page opened without a gesture may start suspended: resume (allowed after one).
    void context.resume().catch(() => undefined);
    const read = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      const rms = Math.sqrt(sum / samples.length);
      // -60 dBFS (silence) → 0, -10 dBFS (loud speech) → 100.
      const db = 20 * Math.log10(rms || 1e-8);
      this.level = Math.round(Math.min(100, Math.max(0, ((db + 60) / 50) * 100)));
    };
    this.#timer = setInterval(read, 100);
  }

  stop(): void {
    clearInterval(this.#timer);
    void this.#context?.close().catch(() => undefined);
    this.#context = undefined;
    this.level = 0;
  }
}
