/**
 * `npm run build` (after `tsc --noEmit`, the type check): the CLI as ONE
 * CommonJS file, dist/cli.cjs (+ dist/cli.cjs.map), which bin/ha-provision.js
 * loads through a V8 code cache (see there).
 *
 * Why: start-up is most of a no-change run. Node's module loader spends more
 * on ~300 separate files (resolve, read, compile each, and for ES modules
 * its asynchronous linking) than on one file holding the same code, and only
 * a classic script can be given a code cache on Node 20 (vm.Script
 * cachedData). Modules the source imports dynamically (a command's code,
 * each step kind, listr2 for the live view) stay lazy in the bundle: their
 * top-level code, zod schemas included, runs only when they are imported.
 * Dependencies are bundled too, except the native parts of ssh2 (its crypto
 * binding and cpu-features), which are required from node_modules as ssh2
 * itself would.
 *
 * The source map maps back to src/ and node_modules/: bin/ha-provision.js
 * maps the bundle's stack frames through it when a stack is formatted (with
 * or without `node --enable-source-maps`).
 *
 *   node scripts/build.mjs [--no-minify] [--metafile]
 */
import { build } from 'esbuild';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** ssh2's native crypto binding stays in node_modules, required by package path from the bundle. */
const nativeFromNodeModules = {
  name: 'native-from-node-modules',
  setup(b) {
    b.onResolve({ filter: /\.node$/ }, (args) => {
      const m = /node_modules\/(ssh2\/.*)$/.exec(`${args.resolveDir}/${args.path}`.replace(/\/\.\//g, '/'));
      if (!m) return { errors: [{ text: `native module ${args.path} (from ${args.importer}) is not one the build knows how to load` }] };
      return { path: m[1], external: true };
    });
  },
};

/**
 * `import { z } from 'zod'` binds zod's namespace object as a value, so
 * esbuild keeps all of zod, with its 40-odd locales (730 kB); the same code
 * written `import * as z from 'zod'` lets it drop what is unused (170 kB). The
 * sources keep the form zod's docs use; the bundle reads them in the other.
 */
const zodNamespaceImport = {
  name: 'zod-namespace-import',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => ({
      contents: (await readFile(args.path, 'utf8')).replace(/^import \{ z \} from 'zod';$/gm, "import * as z from 'zod';"),
      loader: 'ts',
    }));
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['cpu-features'],
  plugins: [nativeFromNodeModules, zodNamespaceImport],
  // whitespace and syntax only: identifiers keep their names, so stack frames name real functions
  // (renaming them too made no measurable difference to start-up with the code cache)
  ...(process.argv.includes('--no-minify') ? {} : { minifyWhitespace: true, minifySyntax: true }),
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: process.argv.includes('--metafile'),
  write: false,
});
// Each output replaces the old one by rename (a CLI run meanwhile sees the old or the new file, whole);
// whatever else is in dist/ (an older build's outputs, the code cache of the old bundle) goes.
await mkdir(`${root}dist`, { recursive: true });
const keep = new Set(result.outputFiles.map((f) => f.path));
for (const f of result.outputFiles) {
  await writeFile(`${f.path}.${process.pid}.tmp`, f.contents);
  await rename(`${f.path}.${process.pid}.tmp`, f.path);
}
for (const name of await readdir(`${root}dist`)) {
  if (!keep.has(`${root}dist/${name}`)) await rm(`${root}dist/${name}`, { recursive: true, force: true });
}
if (result.metafile) {
  // what the bundle holds, biggest inputs first (per package)
  const by = new Map();
  for (const [f, i] of Object.entries(result.metafile.outputs['dist/cli.cjs'].inputs)) {
    const k = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f)?.[1] ?? f.split('/').slice(0, 2).join('/');
    by.set(k, (by.get(k) ?? 0) + i.bytesInOutput);
  }
  for (const [k, n] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${String(n).padStart(8)} ${k}`);
}
