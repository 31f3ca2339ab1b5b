#!/usr/bin/env node
// Rewrites the mediasoup worker's meson files (in a copy of node_modules/mediasoup/worker)
// so that it builds offline against Debian's system libraries instead of meson
// subprojects downloaded from the internet. Every replacement must match exactly once:
// a different mediasoup version fails loudly here instead of building something odd.
//
// Usage: node patch-worker-meson.mjs <worker-dir>
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const workerDir = process.argv[2];
if (!workerDir) {
  console.error('usage: patch-worker-meson.mjs <worker-dir>');
  process.exit(2);
}

function replaceOnce(text, pattern, replacement, what) {
  const matches = text.match(new RegExp(pattern.source, pattern.flags.replace('g', '') + 'g'));
  if (!matches || matches.length !== 1) {
    throw new Error(
      `patch-worker-meson: expected exactly one match for ${what}, found ${matches ? matches.length : 0}`,
    );
  }
  return text.replace(pattern, replacement);
}

const systemDeps = `
# --- meet: system libraries instead of downloaded subprojects ---
openssl_dep = dependency('openssl', version: '>= 3.0.0', static: true)
libuv_dep = dependency('libuv')
libsrtp_dep = dependency('libsrtp2')
usrsctp_dep = dependency('usrsctp')
absl_container_dep = dependency('absl_flat_hash_map')
absl_strings_dep = dependency('absl_strings')
absl_optional_dep = dependency('absl_optional')
flatbuffers_dep = dependency('flatbuffers')
# libsrtp3 API shim over libsrtp2 (meet-compat/srtp.h).
srtp_compat_dep = declare_dependency(include_directories: include_directories('meet-compat'))

`;

// ---- worker/meson.build
const mesonPath = join(workerDir, 'meson.build');
let meson = readFileSync(mesonPath, 'utf8');
meson = replaceOnce(meson, /meson_version: '>= 1\.1\.0'/, "meson_version: '>= 1.0.0'", 'meson_version');
meson = replaceOnce(
  meson,
  /openssl_proj = subproject\([\s\S]*?(?=# flatbuffers schemas subdirectory\.)/,
  systemDeps,
  'subproject block',
);
meson = replaceOnce(
  meson,
  /^dependencies = \[[\s\S]*?^\]\n/m,
  `dependencies = [
  absl_container_dep,
  openssl_dep,
  libuv_dep,
  srtp_compat_dep,
  libsrtp_dep,
  usrsctp_dep,
  flatbuffers_dep,
  flatbuffers_generator_dep,
  libwebrtc_dep,
]
`,
  'dependencies list',
);
meson = replaceOnce(
  meson,
  /^link_whole = \[[\s\S]*?^\]\n/m,
  'link_whole = [\n  libwebrtc,\n]\n',
  'link_whole list',
);
// Tests (catch2) and fuzzers are not built here.
meson = replaceOnce(meson, /^test_sources = \[[\s\S]*$/m, '', 'test and fuzzer targets');
writeFileSync(mesonPath, meson);

// ---- worker/deps/libwebrtc/meson.build
const webrtcPath = join(workerDir, 'deps', 'libwebrtc', 'meson.build');
let webrtc = readFileSync(webrtcPath, 'utf8');
webrtc = replaceOnce(
  webrtc,
  /^abseil_cpp_proj = subproject\([\s\S]*?^\)\n/m,
  '',
  'libwebrtc abseil subproject',
);
const vars = [
  [/openssl_proj\.get_variable\('openssl_dep'\)/, 'openssl_dep'],
  [/flatbuffers_proj\.get_variable\('flatbuffers_dep'\)/, 'flatbuffers_dep'],
  [/libuv_proj\.get_variable\('libuv_dep'\)/, 'libuv_dep'],
];
for (const [pattern, name] of vars) webrtc = replaceOnce(webrtc, pattern, name, name);
webrtc = webrtc
  .replaceAll("abseil_cpp_proj.get_variable('absl_strings_dep')", 'absl_strings_dep')
  .replaceAll("abseil_cpp_proj.get_variable('absl_types_dep')", 'absl_optional_dep');
if (webrtc.includes('_proj.')) throw new Error('patch-worker-meson: libwebrtc still references a subproject');
writeFileSync(webrtcPath, webrtc);

console.log('patch-worker-meson: patched', mesonPath, 'and', webrtcPath);
