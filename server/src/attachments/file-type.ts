// What an uploaded file really is, from its first bytes (not from its name), and whether it
// may be shared: HTML, SVG, XML with scripts and executables never are; a name that claims
// another known type than the content is refused; unknown binary content is a download.

/** How many leading bytes detection looks at. */
export const sniffLength = 8192;

/** Types claimed by a file name, compared with the content's. */
export type Family =
  | 'png'
  | 'jpeg'
  | 'gif'
  | 'webp'
  | 'heif'
  | 'pdf'
  | 'zip'
  | 'mp4'
  | 'webm'
  | 'mp3'
  | 'aac'
  | 'flac'
  | 'ogg'
  | 'wav'
  | 'avi'
  | 'text';

export type Detection =
  /** A recognised, acceptable format. */
  | { kind: 'known'; family: Family; mime: string }
  /** Content that is never accepted; `description` says what it is ("an HTML document"). */
  | { kind: 'forbidden'; description: string }
  /** Unrecognised binary content: shared as application/octet-stream, as a download. */
  | { kind: 'unknown'; mime: 'application/octet-stream' };

export const octetStream = 'application/octet-stream';
export const textPlain = 'text/plain';

/** The only types served inline (previews); everything else is a download. */
export const inlineTypes: ReadonlySet<string> = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
]);

export function isInlineType(mime: string): boolean {
  return inlineTypes.has(mime);
}

const latin1 = (bytes: Uint8Array, start = 0, end = bytes.length) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', start, end);

function startsWith(bytes: Uint8Array, signature: ArrayLike<number>, offset = 0): boolean {
  if (bytes.length < offset + signature.length) return false;
  for (let i = 0; i < signature.length; i++) if (bytes[offset + i] !== signature[i]) return false;
  return true;
}

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));

const odfMimes = /^application\/vnd\.oasis\.opendocument\.[a-z.-]+$/;
const ooxml = {
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
} as const;

/** ZIP, and the office formats built on it (ODF's leading `mimetype` entry, OOXML's parts). */
function zipType(head: Uint8Array): string {
  // ODF: the first entry is "mimetype", stored uncompressed, its content the document type.
  if (latin1(head, 30, 38) === 'mimetype') {
    const nameLength = (head[26] ?? 0) | ((head[27] ?? 0) << 8);
    const extraLength = (head[28] ?? 0) | ((head[29] ?? 0) << 8);
    const size = (head[18] ?? 0) | ((head[19] ?? 0) << 8);
    const start = 30 + nameLength + extraLength;
    const mime = latin1(head, start, Math.min(start + size, start + 100));
    if (odfMimes.test(mime)) return mime;
    if (mime === 'application/epub+zip') return mime;
  }
  const text = latin1(head);
  if (text.includes('[Content_Types].xml')) {
    if (text.includes('word/')) return ooxml.docx;
    if (text.includes('xl/')) return ooxml.xlsx;
    if (text.includes('ppt/')) return ooxml.pptx;
  }
  return 'application/zip';
}

/** ISO base media (ftyp box): MP4, QuickTime, 3GP, and the HEIF/AVIF images. */
function isoBmffType(head: Uint8Array): Detection {
  const brand = latin1(head, 8, 12);
  if (['avif', 'avis'].includes(brand)) return { kind: 'known', family: 'heif', mime: 'image/avif' };
  if (['heic', 'heix', 'hevc', 'hevx', 'mif1', 'msf1'].includes(brand))
    return { kind: 'known', family: 'heif', mime: 'image/heic' };
  if (brand === 'qt  ') return { kind: 'known', family: 'mp4', mime: 'video/quicktime' };
  if (brand === 'M4A ' || brand === 'M4B ') return { kind: 'known', family: 'mp4', mime: 'audio/mp4' };
  if (brand.startsWith('3gp')) return { kind: 'known', family: 'mp4', mime: 'video/3gpp' };
  return { kind: 'known', family: 'mp4', mime: 'video/mp4' };
}

/** An MPEG audio frame header (MP3 and its layer I/II siblings) or an AAC ADTS header. */
function mpegAudio(head: Uint8Array): Detection | null {
  const [b0, b1, b2] = [head[0] ?? 0, head[1] ?? 0, head[2] ?? 0];
  if (b0 !== 0xff || (b1 & 0xe0) !== 0xe0) return null;
  const version = (b1 >> 3) & 3;
  const layer = (b1 >> 1) & 3;
  if (layer === 0) return (b1 & 0xf6) === 0xf0 ? { kind: 'known', family: 'aac', mime: 'audio/aac' } : null;
  const bitrate = b2 >> 4;
  const sampleRate = (b2 >> 2) & 3;
  if (version === 1 || bitrate === 15 || sampleRate === 3) return null;
  return { kind: 'known', family: 'mp3', mime: 'audio/mpeg' };
}

const machO = [
  [0xfe, 0xed, 0xfa, 0xce],
  [0xfe, 0xed, 0xfa, 0xcf],
  [0xce, 0xfa, 0xed, 0xfe],
  [0xcf, 0xfa, 0xed, 0xfe],
  [0xca, 0xfe, 0xba, 0xbe], // universal binary (and Java class files)
];

/** Binary formats recognised by their signature. */
function binaryFormat(head: Uint8Array): Detection | null {
  const known = (family: Family, mime: string): Detection => ({ kind: 'known', family, mime });
  const forbidden = (description: string): Detection => ({ kind: 'forbidden', description });

  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return known('png', 'image/png');
  if (startsWith(head, [0xff, 0xd8, 0xff])) return known('jpeg', 'image/jpeg');
  if (startsWith(head, ascii('GIF87a')) || startsWith(head, ascii('GIF89a')))
    return known('gif', 'image/gif');
  if (startsWith(head, ascii('RIFF'))) {
    const form = latin1(head, 8, 12);
    if (form === 'WEBP') return known('webp', 'image/webp');
    if (form === 'WAVE') return known('wav', 'audio/wav');
    if (form === 'AVI ') return known('avi', 'video/x-msvideo');
  }
  if (startsWith(head, ascii('%PDF-'))) return known('pdf', 'application/pdf');
  if (
    startsWith(head, [0x50, 0x4b, 0x03, 0x04]) ||
    startsWith(head, [0x50, 0x4b, 0x05, 0x06]) // empty archive
  )
    return known('zip', zipType(head));
  if (startsWith(head, ascii('ftyp'), 4)) return isoBmffType(head);
  if (startsWith(head, [0x1a, 0x45, 0xdf, 0xa3])) {
    const text = latin1(head, 0, 64);
    return known('webm', text.includes('webm') ? 'video/webm' : 'video/x-matroska');
  }
  if (startsWith(head, ascii('ID3'))) return known('mp3', 'audio/mpeg');
  if (startsWith(head, ascii('OggS'))) {
    const text = latin1(head, 0, 512);
    return known('ogg', text.includes('theora') ? 'video/ogg' : 'audio/ogg');
  }
  if (startsWith(head, ascii('fLaC'))) return known('flac', 'audio/flac');

  if (startsWith(head, [0x7f, 0x45, 0x4c, 0x46])) return forbidden('an ELF executable');
  if (machO.some((signature) => startsWith(head, signature))) return forbidden('a Mach-O executable');
  if (startsWith(head, [0x00, 0x61, 0x73, 0x6d])) return forbidden('a WebAssembly module');
  return mpegAudio(head);
}

/** Whether the bytes are UTF-8 text (no NUL); an incomplete head may end mid-character. */
function isUtf8Text(head: Uint8Array, complete: boolean): boolean {
  if (head.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: !complete });
    return true;
  } catch {
    return false;
  }
}

// Leading tags that make browsers take content for HTML (the WHATWG MIME sniffing list and
// a few more), each followed by a space or '>'.
const htmlTags = [
  '!doctype html',
  'html',
  'head',
  'script',
  'iframe',
  'h1',
  'div',
  'font',
  'table',
  'a',
  'style',
  'title',
  'b',
  'body',
  'br',
  'p',
  'meta',
  'link',
  'base',
  'img',
  'object',
  'embed',
  'form',
  'frameset',
  'math',
  'template',
];

/** HTML, SVG or XML that can run scripts, found in the leading text. */
function markup(head: Uint8Array): Detection | null {
  // Lower-case, without a UTF-8 byte order mark and leading white space.
  const text = latin1(head)
    .replace(/^\xef\xbb\xbf/, '')
    .replace(/^[\t\n\f\r ]+/, '')
    .toLowerCase();
  const tagAt = (name: string, at = 0) => {
    if (!text.startsWith(`<${name}`, at)) return false;
    const next = text.charAt(at + name.length + 1);
    return next === '' || next === '>' || /[\t\n\f\r /]/.test(next);
  };
  const forbidden = (description: string): Detection => ({ kind: 'forbidden', description });

  if (text.startsWith('<?xml') || text.startsWith('<!doctype svg') || tagAt('svg')) {
    if (/<svg[\s>/]|<!doctype svg/.test(text)) return forbidden('an SVG image');
    if (/<html[\s>/]|http:\/\/www\.w3\.org\/1999\/xhtml/.test(text)) return forbidden('an XHTML document');
    if (/<([a-z0-9_-]+:)?script[\s>/]/.test(text)) return forbidden('an XML document with scripts');
    if (text.includes('<?xml-stylesheet')) return forbidden('an XML document with a stylesheet');
    return null;
  }
  if (text.startsWith('<!--') || htmlTags.some((tag) => tagAt(tag))) return forbidden('an HTML document');
  // A whole document after some leading text (a polyglot) is still HTML to a browser.
  if (/<!doctype html|<html[\s>]/.test(text)) return forbidden('an HTML document');
  return null;
}

/**
 * What the content is, from its first bytes. `complete` says whether `head` is the whole
 * file (an incomplete head may end in the middle of a UTF-8 character).
 */
export function detectType(head: Uint8Array, complete: boolean): Detection {
  const binary = binaryFormat(head);
  if (binary) return binary;
  const text = isUtf8Text(head, complete);
  if (startsWith(head, ascii('#!')) || startsWith(head, [0xef, 0xbb, 0xbf, 0x23, 0x21]))
    return { kind: 'forbidden', description: 'a script (#!)' };
  const marked = markup(head);
  if (marked) return marked;
  if (startsWith(head, ascii('MZ')) && !text)
    return { kind: 'forbidden', description: 'a Windows executable' };
  if (text) {
    const xml = latin1(head, 0, 64)
      .replace(/^\xef\xbb\xbf/, '')
      .trimStart()
      .startsWith('<?xml');
    return { kind: 'known', family: 'text', mime: xml ? 'application/xml' : textPlain };
  }
  return { kind: 'unknown', mime: octetStream };
}

/**
 * Follows a text file past its head: valid UTF-8 without NUL bytes to the end? Feed it every
 * chunk (the head included), then call end().
 */
export function textValidator(): { push(chunk: Uint8Array): void; end(): boolean } {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let valid = true;
  return {
    push(chunk) {
      if (!valid) return;
      if (chunk.includes(0)) valid = false;
      else
        try {
          decoder.decode(chunk, { stream: true });
        } catch {
          valid = false;
        }
    },
    end() {
      if (valid)
        try {
          decoder.decode();
        } catch {
          valid = false;
        }
      return valid;
    },
  };
}

interface Claim {
  family: Family;
  /** "a PNG image": what the name says the file is. */
  label: string;
  /** The type to record for generic container content (a .docx is a zip). */
  mime?: string;
}

const claims: Record<string, Claim> = {};
function claim(extensions: string[], family: Family, label: string, mime?: string) {
  for (const extension of extensions) claims[extension] = mime ? { family, label, mime } : { family, label };
}
claim(['png'], 'png', 'a PNG image');
claim(['jpg', 'jpeg', 'jpe', 'jfif', 'pjpeg', 'pjp'], 'jpeg', 'a JPEG image');
claim(['gif'], 'gif', 'a GIF image');
claim(['webp'], 'webp', 'a WebP image');
claim(['avif', 'heic', 'heif'], 'heif', 'a HEIF/AVIF image');
claim(['pdf'], 'pdf', 'a PDF document');
claim(['zip'], 'zip', 'a ZIP archive');
claim(['docx'], 'zip', 'a Word document', ooxml.docx);
claim(['xlsx'], 'zip', 'an Excel workbook', ooxml.xlsx);
claim(['pptx'], 'zip', 'a PowerPoint presentation', ooxml.pptx);
claim(['odt'], 'zip', 'an OpenDocument text', 'application/vnd.oasis.opendocument.text');
claim(['ods'], 'zip', 'an OpenDocument spreadsheet', 'application/vnd.oasis.opendocument.spreadsheet');
claim(['odp'], 'zip', 'an OpenDocument presentation', 'application/vnd.oasis.opendocument.presentation');
claim(['odg'], 'zip', 'an OpenDocument drawing', 'application/vnd.oasis.opendocument.graphics');
claim(['epub'], 'zip', 'an EPUB book', 'application/epub+zip');
claim(['mp4', 'm4v'], 'mp4', 'an MP4 video');
claim(['m4a'], 'mp4', 'an MP4 audio file');
claim(['mov', 'qt'], 'mp4', 'a QuickTime video');
claim(['3gp'], 'mp4', 'a 3GP video');
claim(['webm'], 'webm', 'a WebM video');
claim(['mkv', 'mka'], 'webm', 'a Matroska file');
claim(['mp3'], 'mp3', 'an MP3 audio file');
claim(['aac'], 'aac', 'an AAC audio file');
claim(['flac'], 'flac', 'a FLAC audio file');
claim(['ogg', 'oga', 'opus', 'spx'], 'ogg', 'an Ogg audio file');
claim(['ogv'], 'ogg', 'an Ogg video');
claim(['wav'], 'wav', 'a WAV audio file');
claim(['avi'], 'avi', 'an AVI video');
claim(
  [
    'txt',
    'text',
    'md',
    'markdown',
    'csv',
    'tsv',
    'log',
    'json',
    'yaml',
    'yml',
    'ini',
    'toml',
    'rst',
    'srt',
    'vtt',
  ],
  'text',
  'a text file',
);

/**
 * Names that browsers or operating systems open as markup or run as programs: refused
 * whatever the content (a text file saved as page.html is a web page once downloaded).
 */
const refusedExtensions = new Set([
  'html',
  'htm',
  'xhtml',
  'xht',
  'shtml',
  'mht',
  'mhtml',
  'svg',
  'svgz',
  'hta',
  'exe',
  'dll',
  'com',
  'scr',
  'pif',
  'msi',
  'msp',
  'bat',
  'cmd',
  'ps1',
  'vbs',
  'vbe',
  'jse',
  'wsf',
  'wsh',
  'cpl',
  'lnk',
  'reg',
]);

export function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return dot > 0 ? fileName.slice(dot + 1).toLowerCase() : '';
}

export type Verdict = { ok: true; mimeType: string; inline: boolean } | { ok: false; reason: string };

const notAccepted = 'HTML, SVG, scripts and executables are not accepted as attachments';

/** Whether a file named `fileName` with this content may be shared, and as what type. */
export function checkUpload(fileName: string, detection: Detection): Verdict {
  const extension = extensionOf(fileName);
  if (refusedExtensions.has(extension))
    return {
      ok: false,
      reason: `${fileName} was refused: .${extension} files are not accepted (${notAccepted})`,
    };
  if (detection.kind === 'forbidden')
    return {
      ok: false,
      reason: `${fileName} was refused: its content is ${detection.description} (${notAccepted})`,
    };
  const claimed = claims[extension];
  const family = detection.kind === 'known' ? detection.family : null;
  if (claimed && claimed.family !== family)
    return { ok: false, reason: `${fileName} is not ${claimed.label} (its content is ${detection.mime})` };
  const mimeType =
    detection.kind === 'known' && detection.mime === 'application/zip' && claimed?.mime
      ? claimed.mime
      : detection.mime;
  return { ok: true, mimeType, inline: isInlineType(mimeType) };
}

/**
 * A file name fit to store and show: the last path segment, without control or bidi
 * override characters (which can disguise an extension), at most 200 characters with the
 * extension kept.
 */
export function sanitizeFileName(raw: string, maxLength = 200): string {
  const name = (raw.split(/[/\\]/).pop() ?? '')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .normalize('NFC');
  if (/^\.*$/.test(name)) return 'file';
  const chars = Array.from(name);
  if (chars.length <= maxLength) return name;
  const extension = extensionOf(name);
  const suffix = extension && extension.length <= 16 ? `.${extension}` : '';
  const stem = Array.from(name.slice(0, name.length - suffix.length));
  return `${stem
    .slice(0, maxLength - Array.from(suffix).length)
    .join('')
    .trimEnd()}${suffix}`;
}
