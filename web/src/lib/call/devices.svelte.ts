// The person's media devices: the cameras, microphones and speakers this browser offers
// (labelled once a permission was granted), which of each is chosen (remembered in
// localStorage), and what happens when a chosen device goes away (unplugged, or its track
// ends on its own): the default is used instead and the person is told which one went.
// Shared by the pre-join check and the call's publisher.

export type DeviceKind = 'videoinput' | 'audioinput' | 'audiooutput';

export interface DeviceOption {
  deviceId: string;
  label: string;
}

const storageKey = 'meet.devices';
const kindName: Record<DeviceKind, string> = {
  videoinput: 'camera',
  audioinput: 'microphone',
  audiooutput: 'speaker',
};

type Selection = Record<DeviceKind, string>;

function loadSelection(): Selection {
  const none: Selection = { videoinput: '', audioinput: '', audiooutput: '' };
  try {
    const saved = JSON.parse(localStorage.getItem(storageKey) ?? '{}') as Partial<Record<string, unknown>>;
    for (const kind of Object.keys(none) as DeviceKind[]) {
      const id = saved[kind];
      if (typeof id === 'string' && id.length <= 512) none[kind] = id;
    }
  } catch {
    // Nothing saved, or private mode.
  }
  return none;
}

/** Whether audio elements can play on a chosen output (Chromium, Firefox 116+; not Safari). */
export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
}

export class Devices {
  cameras = $state<DeviceOption[]>([]);
  microphones = $state<DeviceOption[]>([]);
  speakers = $state<DeviceOption[]>([]);
  /** The chosen device id per kind ('' = the browser's default). */
  selected = $state<Selection>(loadSelection());
  /** What to tell the person about their devices (a device went away), until dismissed. */
  notice = $state<string | undefined>(undefined);
  /** Called when a chosen input device disappeared: the user of that kind switches to the default. */
  onLost: ((kind: DeviceKind) => void) | undefined;
  #listening = false;
  #labels = new Map<string, string>();

  /** Lists the devices (call again after a permission was granted: labels then appear). */
  async refresh(): Promise<void> {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    const all = await navigator.mediaDevices.enumerateDevices();
    const of = (kind: DeviceKind) =>
      all
        .filter((d) => d.kind === kind && d.deviceId !== '')
        .map((d, i) => ({ deviceId: d.deviceId, label: d.label || `${kindName[kind]} ${i + 1}` }));
    this.cameras = of('videoinput');
    this.microphones = of('audioinput');
    this.speakers = of('audiooutput');
    for (const kind of ['videoinput', 'audioinput', 'audiooutput'] as const) {
      for (const d of this.#list(kind)) this.#labels.set(`${kind}:${d.deviceId}`, d.label);
      const id = this.selected[kind];
      // A chosen device that is gone (only known once labels are: before a permission the
      // list holds no ids): fall back to the default, and say so.
      if (
        id &&
        all.some((d) => d.kind === kind && d.deviceId) &&
        !this.#list(kind).some((d) => d.deviceId === id)
      )
        this.#lost(kind, id);
    }
  }

  /** Watches for devices plugged in or out while the page is open. */
  listen(): void {
    if (this.#listening || !navigator.mediaDevices) return;
    this.#listening = true;
    navigator.mediaDevices.addEventListener('devicechange', this.#changed);
  }

  stop(): void {
    this.#listening = false;
    navigator.mediaDevices?.removeEventListener('devicechange', this.#changed);
  }

  #changed = () => void this.refresh().catch(() => undefined);

  #list(kind: DeviceKind): DeviceOption[] {
    return kind === 'videoinput' ? this.cameras : kind === 'audioinput' ? this.microphones : this.speakers;
  }

  /** Chooses a device ('' = default) and remembers it. */
  select(kind: DeviceKind, deviceId: string): void {
    this.selected[kind] = deviceId;
    try {
      localStorage.setItem(storageKey, JSON.stringify(this.selected));
    } catch {
      // Private mode: not remembered.
    }
  }

  /**
   * The track of a chosen input ended without us stopping it (unplugged, revoked, the
   * driver went away): back to the default, and the person is told.
   */
  trackEnded(kind: 'videoinput' | 'audioinput', track: MediaStreamTrack): void {
    const id = track.getSettings().deviceId ?? this.selected[kind];
    this.#lost(kind, id, track.label);
  }

  #lost(kind: DeviceKind, deviceId: string, label?: string): void {
    const name = label || this.#labels.get(`${kind}:${deviceId}`) || `Your ${kindName[kind]}`;
    if (this.selected[kind] === deviceId) this.select(kind, '');
    this.notice = `${name} was disconnected; using the default ${kindName[kind]} instead.`;
    this.onLost?.(kind);
  }

  /** getUserMedia constraints for the chosen microphone. */
  audioConstraints(): MediaTrackConstraints {
    const id = this.selected.audioinput;
    return {
      echoCancellation: true,
      noiseSuppression: true,
      autoGainControl: true,
      ...(id ? { deviceId: { exact: id } } : {}),
    };
  }

  /** getUserMedia constraints for the chosen camera: 720p (ideal) at up to 30 fps. */
  videoConstraints(): MediaTrackConstraints {
    const id = this.selected.videoinput;
    return {
      width: { ideal: 1280 },
      height: { ideal: 720 },
      frameRate: { ideal: 30, max: 30 },
      ...(id ? { deviceId: { exact: id } } : {}),
    };
  }
}
