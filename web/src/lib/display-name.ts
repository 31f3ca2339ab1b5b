const key = 'meet.displayName';

export function loadDisplayName(): string {
  try {
    return localStorage.getItem(key) ?? '';
  } catch {
    return '';
  }
}

export function saveDisplayName(name: string): void {
  try {
    localStorage.setItem(key, name);
  } catch {
    // Private mode: the name is simply not remembered.
  }
}
