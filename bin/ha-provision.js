#!/usr/bin/env node
// Launcher: the CLI (src/cli) is bundled by `npm run build` (scripts/build.mjs)
// into one CommonJS file, dist/cli.cjs, loaded here through a V8 code cache,
// dist/cli.cjs.cache: with it V8 neither parses nor compiles the bundle's
// functions again (about a third of a no-change run's CPU time otherwise).
// The cache is written after a `plan` or `apply` (so it holds the functions
// such a run compiles) when it is missing, belongs to another build (it starts
// with the SHA-1 of the bundle it was made from: V8 itself checks only the
// source's length) or V8 rejected it (another Node version, other V8 flags);
// if dist/ is not writable, nothing is cached and everything works as without. Stack frames in the bundle are
// mapped back to src/ through dist/cli.cjs.map when a stack is printed.
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire, SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const file = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
const cacheFile = `${file}.cache`;
let bytes;
try {
  bytes = readFileSync(file);
} catch {
  process.stderr.write(`ha-provision: ${file} is missing: run \`npm run build\` first\n`);
  process.exit(1);
}
const digest = createHash('sha1').update(bytes).digest();
let cachedData;
try {
  const c = readFileSync(cacheFile);
  if (c.subarray(0, digest.length).equals(digest)) cachedData = c.subarray(digest.length);
} catch {
  /* first run, or not cached */
}

mapStackTraces(file);
// the CommonJS wrapper on a line of its own, which lineOffset hides: stack positions are the bundle's
const wrapped = `(function (exports, require, module, __filename, __dirname) {\n${bytes.toString('utf8')}\n})`;
const script = new Script(wrapped, { filename: file, lineOffset: -1, ...(cachedData ? { cachedData } : {}) });
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));

const argv = process.argv.slice(2);
process.exitCode = await module.exports.main(argv);

if ((cachedData === undefined || script.cachedDataRejected) && (argv[0] === 'apply' || argv[0] === 'plan')) {
  try {
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.concat([digest, script.createCachedData()]));
    renameSync(tmp, cacheFile);
  } catch {
    /* dist/ not writable: run without a cache */
  }
}

/** Frames in `bundle` are shown at their place in src/ (the source map is read only when a stack is formatted). */
function mapStackTraces(bundle) {
  let map;
  const original = (line, column) => {
    try {
      map ??= new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, 'utf8')));
      const e = map.findEntry(line - 1, column - 1);
      if (!e || e.originalSource === undefined) return undefined;
      const src = e.originalSource.startsWith('file://') ? fileURLToPath(e.originalSource) : resolve(dirname(bundle), e.originalSource);
      return `${src}:${e.originalLine + 1}:${e.originalColumn + 1}`;
    } catch {
      map = null; // no map (or unreadable): frames stay as they are
      return undefined;
    }
  };
  Error.prepareStackTrace = (err, frames) => {
    const head = Error.prototype.toString.call(err);
    const lines = frames.map((f) => {
      const text = String(f);
      if (map === null || f.getFileName() !== bundle) return `    at ${text}`;
      const at = original(f.getLineNumber(), f.getColumnNumber());
      return `    at ${at ? text.replace(`${bundle}:${f.getLineNumber()}:${f.getColumnNumber()}`, at) : text}`;
    });
    return [head, ...lines].join('\n');
  };
}
