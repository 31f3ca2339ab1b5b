#!/usr/bin/env node
// Rewrites the mediasoup worker's meson files (in a copy of node_modules/mediasoup/worker)
// so that it builds offline against Debian's system libraries instead of meson
// subprojects downloaded from the internet. Every replacement must match exactly once, the
// subprojects removed must be exactly the ones this script knows how to replace, and no
// subproject may remain afterwards: a different mediasoup version fails loudly here instead
// of building something odd.
//
// Written for mediasoup 3.27.x. Its worker needs: libuv, OpenSSL, libsrtp3 (versatica's
// fork; Debian has libsrtp2: see build-patches/srtp.h), ankerl::unordered_dense (not in
// Debian: see build-patches/ankerl/unordered_dense.h), flatbuffers, and for deps/libwebrtc
// (the default bandwidth estimator) abseil. The worker directory must contain meet-compat/
// with those two headers (obtain-worker.sh copies them there).
//
// Usage: node patch-worker-meson.mjs <worker-dir>
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const workerDir = process.argv[2];
if (!workerDir) {
  console.error('usage: patch-worker-meson.mjs <worker-dir>');
  process.exit(2);
}

function fail(message) {
  throw new Error(`patch-worker-meson: ${message}`);
}

// Replaces the single match of `pattern` (a RegExp) or `literal` (a string); returns the new
// text and the matched text.
function replaceOnce(text, pattern, replacement, what) {
  const re =
    typeof pattern === 'string'
      ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g')
      : new RegExp(pattern.source, pattern.flags.replace('g', '') + 'g');
  const matches = [...text.matchAll(re)];
  if (matches.length !== 1) fail(`expected exactly one match for ${what}, found ${matches.length}`);
  const [m] = matches;
  // The only match is the first one; replacement patterns ($1) work as in String.replace.
  return [text.replace(new RegExp(re.source, re.flags.replace('g', '')), replacement), m[0]];
}

function names(text, re) {
  return [...text.matchAll(re)].map((m) => m[1]).sort();
}

function expectSame(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify([...expected].sort())) {
    fail(`${what}: expected [${[...expected].sort()}], found [${actual}]`);
  }
}

// ---- worker/meson.build
const mesonPath = join(workerDir, 'meson.build');
let meson = readFileSync(mesonPath, 'utf8');
let removed;

// Debian 12's meson is 1.0.1; nothing the worker's build files use needs 1.1.
[meson] = replaceOnce(meson, "meson_version: '>= 1.1.0'", "meson_version: '>= 1.0.0'", 'meson_version');

// The subprojects (and the unordered_dense wrap) before the flatbuffers schemas.
[meson, removed] = replaceOnce(
  meson,
  /^libuv_proj = subproject\([\s\S]*?(?=^# flatbuffers schemas subdirectory\.)/m,
  `# --- meet: system libraries and header shims instead of downloaded subprojects ---
openssl_dep = dependency('openssl', version: '>= 3.0.0', static: true)
libuv_dep = dependency('libuv')
libsrtp_dep = dependency('libsrtp2')
flatbuffers_dep = dependency('flatbuffers')
# meet-compat/: <srtp.h> (libsrtp3 API over libsrtp2) and <ankerl/unordered_dense.h>.
meet_compat_dep = declare_dependency(include_directories: include_directories('meet-compat'))
ankerl_unordered_dense_dep = meet_compat_dep

`,
  'subproject block',
);
expectSame(
  names(removed, /subproject\(\s*'([^']+)'/g),
  ['libuv', 'openssl', 'libsrtp3', 'flatbuffers'],
  'subprojects replaced',
);
expectSame(names(removed, /dependency\(\s*'([^']+)'/g), ['unordered_dense'], 'wrap dependencies replaced');

[meson] = replaceOnce(
  meson,
  /^dependencies = \[\n[\s\S]*?^\]\n/m,
  `dependencies = [
  libuv_dep,
  openssl_dep,
  meet_compat_dep,
  libsrtp_dep,
  flatbuffers_dep,
  flatbuffers_generator_dep,
]
`,
  'dependencies list',
);
// link_whole only serves the (not built) libmediasoup-worker library; libwebrtc is added below.
[meson] = replaceOnce(meson, /^link_whole = \[\n[\s\S]*?^\]\n/m, 'link_whole = []\n', 'link_whole list');

// abseil (only deps/libwebrtc uses it): Debian's libabsl-dev.
[meson, removed] = replaceOnce(
  meson,
  /^ {2}abseil_cpp_proj = subproject\([\s\S]*?^ {2}\)\n/m,
  `  absl_strings_dep = dependency('absl_strings')
  absl_optional_dep = dependency('absl_optional')
`,
  'abseil subproject',
);
expectSame(names(removed, /subproject\(\s*'([^']+)'/g), ['abseil-cpp'], 'abseil subproject');
// The worker's own sources do not use abseil's containers; linking them is not needed.
[meson] = replaceOnce(
  meson,
  /^ *abseil_cpp_proj\.get_variable\('absl_container_dep'\),\n/m,
  '',
  'absl_container_dep',
);
[meson] = replaceOnce(
  meson,
  /^ *abseil_cpp_proj\.get_variable\('absl_container_lib'\),\n/m,
  '',
  'absl_container_lib',
);

// Windows only (wingetopt subproject).
[meson] = replaceOnce(
  meson,
  /^if host_machine\.system\(\) == 'windows'\n {2}wingetopt_proj = subproject\([\s\S]*?^endif\n/m,
  '',
  'wingetopt block',
);
// Tests (catch2) and fuzzers are not built here.
[meson] = replaceOnce(
  meson,
  /^if get_option\('ms_build_tests'\)\n {2}catch2_proj = subproject\([\s\S]*?^endif\n/m,
  '',
  'catch2 block',
);
[meson] = replaceOnce(meson, /^mock_sources = \[[\s\S]*$/m, '', 'test and fuzzer targets');
writeFileSync(mesonPath, meson);

// ---- worker/deps/libwebrtc/meson.build
const webrtcPath = join(workerDir, 'deps', 'libwebrtc', 'meson.build');
let webrtc = readFileSync(webrtcPath, 'utf8');
[webrtc, removed] = replaceOnce(
  webrtc,
  /^abseil_cpp_proj = subproject\([\s\S]*?^\)\n/m,
  '',
  'libwebrtc abseil subproject',
);
expectSame(names(removed, /subproject\(\s*'([^']+)'/g), ['abseil-cpp'], 'libwebrtc abseil subproject');
[webrtc] = replaceOnce(
  webrtc,
  "openssl_proj.get_variable('openssl_dep')",
  'openssl_dep',
  'libwebrtc openssl_dep',
);
[webrtc] = replaceOnce(webrtc, "libuv_proj.get_variable('libuv_dep')", 'libuv_dep', 'libwebrtc libuv_dep');
// Also make libwebrtc wait for the generated flatbuffers headers (FBS/*.h) it includes.
[webrtc] = replaceOnce(
  webrtc,
  /^( *)flatbuffers_proj\.get_variable\('flatbuffers_dep'\),\n/m,
  '$1flatbuffers_dep,\n$1flatbuffers_generator_dep,\n',
  'libwebrtc flatbuffers_dep',
);
for (const [from, to] of [
  ["abseil_cpp_proj.get_variable('absl_strings_dep')", 'absl_strings_dep'],
  ["abseil_cpp_proj.get_variable('absl_types_dep')", 'absl_optional_dep'],
]) {
  const count = webrtc.split(from).length - 1;
  if (count !== 2) fail(`expected 2 uses of ${from} in libwebrtc (library and dependency), found ${count}`);
  webrtc = webrtc.replaceAll(from, to);
}
writeFileSync(webrtcPath, webrtc);

// ---- nothing may still reach for a subproject or a dependency this build does not provide.
const allowedDeps = ['openssl', 'libuv', 'libsrtp2', 'flatbuffers', 'absl_strings', 'absl_optional'];
for (const file of [
  mesonPath,
  webrtcPath,
  join(workerDir, 'fbs', 'meson.build'),
  join(workerDir, 'fbs', 'FBS', 'meson.build'),
]) {
  const text = readFileSync(file, 'utf8');
  if (/subproject\(|_proj\./.test(text)) fail(`${file} still references a subproject`);
  for (const dep of names(text, /dependency\(\s*'([^']+)'/g)) {
    if (!allowedDeps.includes(dep))
      fail(`${file} asks for dependency '${dep}', which this build does not provide`);
  }
}

console.log('patch-worker-meson: patched', mesonPath, 'and', webrtcPath);
