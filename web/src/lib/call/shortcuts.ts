// The call's keyboard shortcuts: single keys, never while the person types (in a field,
// a select or editable text) and never with Ctrl, Alt or Meta (the browser's own).

export type ShortcutAction = 'mic' | 'cam' | 'share' | 'chat' | 'help';

export const shortcuts: ReadonlyArray<{
  key: string;
  label: string;
  action: ShortcutAction;
  description: string;
}> = [
  { key: 'm', label: 'M', action: 'mic', description: 'Mute or unmute the microphone' },
  { key: 'v', label: 'V', action: 'cam', description: 'Turn the camera off or on' },
  { key: 's', label: 'S', action: 'share', description: 'Share the screen, or stop sharing' },
  { key: 'c', label: 'C', action: 'chat', description: 'Open or close the chat' },
  { key: '?', label: '?', action: 'help', description: 'Show these shortcuts' },
];

/** Whether the key goes to something the person types into. */
function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  return ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

/** The shortcut a key press means, if any. */
export function shortcutOf(event: KeyboardEvent): ShortcutAction | undefined {
  if (event.defaultPrevented || event.repeat || event.ctrlKey || event.metaKey || event.altKey)
    return undefined;
  if (typing(event.target)) return undefined;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  return shortcuts.find((s) => s.key === key)?.action;
}
