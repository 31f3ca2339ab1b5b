// Audio notes in the composer: records the microphone with MediaRecorder (Opus, in WebM or
// Ogg as the browser makes it), at most maxNoteMs, and gives the file and how long it is.
export const maxNoteMs = 5 * 60_000;

export interface VoiceNote {
  file: File;
  durationMs: number;
}

export class VoiceRecorder {
  recording = $state(false);
  elapsedMs = $state(0);
  #recorder: MediaRecorder | undefined;
  #stream: MediaStream | undefined;
  #chunks: Blob[] = [];
  #startedAt = 0;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #done: ((note: VoiceNote | undefined) => void) | undefined;
  #cancelled = false;

  /** Starts recording; resolves with the note when stopped (undefined when cancelled). */
  async start(): Promise<VoiceNote | undefined> {
    if (this.recording) throw new Error('already recording');
    const type = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm'].find((t) =>
      MediaRecorder.isTypeSupported(t),
    );
    if (!type) throw new Error('this browser cannot record audio notes');
    this.#stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const recorder = new MediaRecorder(this.#stream, { mimeType: type, audioBitsPerSecond: 32_000 });
    this.#recorder = recorder;
    this.#chunks = [];
    this.#cancelled = false;
    recorder.ondataavailable = (event) => {
      if (event.data.size > 0) this.#chunks.push(event.data);
    };
    const finished = new Promise<VoiceNote | undefined>((resolve) => (this.#done = resolve));
    recorder.onstop = () => {
      const durationMs = Date.now() - this.#startedAt;
      this.#release();
      if (this.#cancelled || this.#chunks.length === 0) return this.#done?.(undefined);
      const extension = type.startsWith('audio/ogg') ? 'ogg' : 'webm';
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      const file = new File(this.#chunks, `voice-note-${stamp}.${extension}`, { type: type.split(';')[0] });
      this.#done?.({ file, durationMs });
    };
    this.#startedAt = Date.now();
    this.elapsedMs = 0;
    this.recording = true;
    recorder.start(1000);
    this.#ticker = setInterval(() => {
      this.elapsedMs = Date.now() - this.#startedAt;
      if (this.elapsedMs >= maxNoteMs) this.stop();
    }, 250);
    return finished;
  }

  /** Stops and keeps the note. */
  stop(): void {
    if (this.#recorder?.state === 'recording') this.#recorder.stop();
  }

  /** Stops and throws the note away. */
  cancel(): void {
    this.#cancelled = true;
    this.stop();
  }

  #release(): void {
    clearInterval(this.#ticker);
    this.#stream?.getTracks().forEach((track) => track.stop());
    this.#stream = undefined;
    this.#recorder = undefined;
    this.recording = false;
  }
}

/** 0:07, 1:05. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}
