// Audio files for Chromium's fake microphone (launchBrowser's `fakeAudioFile`, which
// Chromium loops): speech, so that a participant talks (active speaker, audio levels), and
// silence, so that one does not. Made once per test process in a temporary directory,
// removed at exit.
//
// The speech comes from espeak-ng (Debian package espeak-ng; scripts/setup-system.sh
// --test installs it), resampled here to 48 kHz; the silence is written here. Both are
// 48 kHz mono 16-bit PCM WAV.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const sampleRate = 48_000;

/** A few sentences with short pauses: speech most of the time once looped. */
const sentences = [
  'Good morning everyone, thanks for joining the call today.',
  'Let us go through the numbers from last week before we talk about the release.',
  'The new build is faster, and the video stays sharp even on a slow connection.',
  'If anyone has a question, please raise your hand and I will get to it.',
].join(' ');

let dir: string | undefined;
const made = new Map<string, Promise<string>>();

function workDir(): string {
  if (!dir) {
    const created = mkdtempSync(join(tmpdir(), 'meet-audio-'));
    dir = created;
    process.once('exit', () => rmSync(created, { recursive: true, force: true }));
  }
  return dir;
}

function once(name: string, make: (path: string) => Promise<void>): Promise<string> {
  let file = made.get(name);
  if (!file) {
    const path = join(workDir(), name);
    file = make(path).then(() => path);
    made.set(name, file);
    file.catch(() => made.delete(name));
  }
  return file;
}

/** A WAV of mono 16-bit samples. */
export function encodeWav(samples: Int16Array, rate = sampleRate): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + samples.byteLength, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28); // bytes per second
  header.writeUInt16LE(2, 32); // block align
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(samples.byteLength, 40);
  return Buffer.concat([header, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)]);
}

export interface Wav {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Samples of the first channel (16-bit files only). */
  samples: Int16Array;
}

/** Reads a 16-bit PCM WAV (walks the chunks: espeak-ng's files have more than fmt and data). */
export function readWav(path: string): Wav {
  const data = readFileSync(path);
  if (data.toString('ascii', 0, 4) !== 'RIFF' || data.toString('ascii', 8, 12) !== 'WAVE')
    throw new Error(`${path} is not a WAV file`);
  let format: { channels: number; sampleRate: number; bitsPerSample: number } | undefined;
  for (let offset = 12; offset + 8 <= data.length;) {
    const id = data.toString('ascii', offset, offset + 4);
    // espeak-ng writing to a pipe leaves the sizes at 0x7fffffff: clamp to the file.
    const size = Math.min(data.readUInt32LE(offset + 4), data.length - offset - 8);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (data.readUInt16LE(body) !== 1) throw new Error(`${path}: not PCM`);
      format = {
        channels: data.readUInt16LE(body + 2),
        sampleRate: data.readUInt32LE(body + 4),
        bitsPerSample: data.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (!format) throw new Error(`${path}: data before fmt`);
      if (format.bitsPerSample !== 16) throw new Error(`${path}: ${format.bitsPerSample}-bit, not 16-bit`);
      const frames = Math.floor(size / 2 / format.channels);
      const samples = new Int16Array(frames);
      for (let i = 0; i < frames; i++) samples[i] = data.readInt16LE(body + i * 2 * format.channels);
      return { ...format, samples };
    }
    offset = body + size + (size % 2);
  }
  throw new Error(`${path}: no data chunk`);
}

/** Root mean square of the samples, 0..1 of full scale. */
export function rms(samples: Int16Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (const s of samples) sum += (s / 32768) ** 2;
  return Math.sqrt(sum / samples.length);
}

/** Linear resampling: plenty for speech the test only needs to be loud enough. */
function resample(samples: Int16Array, from: number, to: number): Int16Array {
  if (from === to) return samples;
  const out = new Int16Array(Math.floor((samples.length * to) / from));
  for (let i = 0; i < out.length; i++) {
    const x = (i * from) / to;
    const i0 = Math.floor(x);
    const a = samples[i0] ?? 0;
    const b = samples[Math.min(i0 + 1, samples.length - 1)] ?? a;
    out[i] = Math.round(a + (b - a) * (x - i0));
  }
  return out;
}

/** Path of a WAV of speech (about 20 s, 48 kHz mono 16-bit), made with espeak-ng. */
export function speechWav(): Promise<string> {
  return once('speech.wav', async (path) => {
    const raw = `${path}.espeak.wav`;
    try {
      await run('espeak-ng', ['-v', 'en-us', '-s', '165', '-g', '2', '-w', raw, sentences]);
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: string };
      throw new Error(
        e.code === 'ENOENT'
          ? 'espeak-ng is missing (Debian package espeak-ng; scripts/setup-system.sh --test installs it)'
          : `espeak-ng failed: ${e.stderr?.trim() || e.message}`,
      );
    }
    const wav = readWav(raw);
    rmSync(raw, { force: true });
    writeFileSync(path, encodeWav(resample(wav.samples, wav.sampleRate, sampleRate)));
  });
}

/** Path of a WAV of silence (zeros: 2 s, 48 kHz mono 16-bit). */
export function silentWav(): Promise<string> {
  return once('silence.wav', async (path) => {
    writeFileSync(path, encodeWav(new Int16Array(sampleRate * 2)));
  });
}

/** The WAV file of a `FakeAudio`. */
export async function fakeAudioPath(audio: FakeAudio): Promise<string> {
  if (audio === 'speech') return speechWav();
  if (audio === 'silence') return silentWav();
  return audio.path;
}

/** A fake microphone's sound: speech, silence, or a WAV file of the test's own. */
export type FakeAudio = 'speech' | 'silence' | { path: string };
