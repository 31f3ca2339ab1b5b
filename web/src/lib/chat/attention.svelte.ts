// In-page notifications while the tab is in the background: the tab's title counts the
// messages that arrived unseen ("(3) …"), and a private message or an @mention of this person
// plays a short sound, unless they set themselves busy (do not disturb). Seen again: cleared.
import type { ChatMessage } from '@meet/protocol';

export interface AttentionContext {
  /** This person's identity (undefined before joining). */
  me(): string | undefined;
  busy(): boolean;
}

/** Whether a message calls for this person's attention: written to them, or naming them. */
export function callsFor(message: ChatMessage, me: string | undefined): boolean {
  if (!me || message.author?.id === me) return false;
  return message.recipient?.id === me || message.mentions.includes(me);
}

export class Attention {
  /** Messages from others that arrived while the tab was hidden. */
  unseen = $state(0);
  /** Of them, those written to this person or naming them. */
  forMe = $state(0);
  readonly #context: AttentionContext;
  #audio: AudioContext | undefined;

  constructor(context: AttentionContext) {
    this.#context = context;
  }

  /** The title's prefix: "(2) " while messages wait unseen, "(2 @) " when one is for this person. */
  prefix = $derived(this.unseen === 0 ? '' : `(${this.unseen}${this.forMe > 0 ? ' @' : ''}) `);

  onMessages(messages: ChatMessage[]): void {
    if (typeof document === 'undefined' || document.visibilityState === 'visible') return;
    const me = this.#context.me();
    const fromOthers = messages.filter((m) => m.author !== null && m.author.id !== me);
    if (fromOthers.length === 0) return;
    this.unseen += fromOthers.length;
    const calling = fromOthers.filter((m) => callsFor(m, me)).length;
    this.forMe += calling;
    if (calling > 0 && !this.#context.busy()) this.#chime();
  }

  onVisible(): void {
    this.unseen = 0;
    this.forMe = 0;
  }

  /** Two short tones (no sound file to load). Browsers may keep it silent until the page was used. */
  #chime(): void {
    try {
      this.#audio ??= new AudioContext();
      const audio = this.#audio;
      for (const [i, frequency] of [880, 1320].entries()) {
        const tone = audio.createOscillator();
        const gain = audio.createGain();
        const start = audio.currentTime + i * 0.12;
        tone.frequency.value = frequency;
        gain.gain.setValueAtTime(0.08, start);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.1);
        tone.connect(gain).connect(audio.destination);
        tone.start(start);
        tone.stop(start + 0.11);
      }
      this.chimes++;
    } catch {
      // No audio output: the title still says it.
    }
  }

  /** Sounds played (for tests). */
  chimes = 0;
}
