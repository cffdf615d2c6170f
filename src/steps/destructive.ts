/**
 * Which commands destroy data: a pure check the `command` step kind runs at
 * validation (issue 11.4), so that a playbook cannot hide a forced DRBD
 * primary, a mkfs or a partition-table write behind a weak guard. The step
 * kinds made for these jobs (partition, mkfs, drbd-create-md,
 * drbd-initial-sync, sbd-device) read the device first and refuse to run over data they
 * did not create; a `command` step that must do it anyway says so with
 * `destructive: true` (and carries its guard, as every command step does).
 *
 * What is caught (by the command's name and its arguments):
 *   drbdadm / drbdsetup  primary with --force or --overwrite-data-of-peer
 *                        (in any order, e.g. `drbdadm -- --overwrite-data-of-peer primary all`);
 *                        invalidate, invalidate-remote
 *   drbdadm / drbdmeta   create-md, wipe-md
 *   mkfs, mkfs.*, mke2fs, mkswap, mkdosfs   always (but --version/-V, --help, mke2fs -n)
 *   sfdisk               unless every option is a read-only one (-l, -d, -J, -s, -g, -F, -V, -T, -n, ...)
 *   fdisk                unless it lists (-l, -x)
 *   parted               unless its commands only print (print, unit X, help, version) or it lists (-l)
 *   sgdisk               unless every option is read-only (-p, -i N, -v, -L, -O, -b FILE, -D, -E, -F, -f)
 *                        or it only pretends (-P)
 *   wipefs               with -a/--all or -o/--offset (unless -n/--no-act)
 *   dd                   with of=/dev/... (but /dev/null, /dev/stdout, /dev/stderr, /dev/fd/N, /dev/tty)
 *   blkdiscard           always (but --version, --help)
 *   sbd                  create (not dump, list, message, watch...)
 *
 * Where it looks:
 *   argv   argv[0], after the wrappers that run their arguments (sudo, env,
 *          nice, ionice, nohup, timeout, stdbuf, setsid, exec, xargs, chroot,
 *          flock, taskset, time, command; `command -v X` only looks X up);
 *          a shell's inline script (`sh -c SCRIPT`, also `-ec`, `-euc`...,
 *          `su -c`, `runuser -c`, `flock FILE -c`, `eval ...`), and the
 *          shell's positional arguments when the script runs "$@"; a shell
 *          with no script (`sh`, `sh -s`) runs its stdin, which is scanned.
 *   shell  (the `shell:` parameter) the whole text, as a script.
 * Scripts are not parsed as a shell would: every word of the text is taken as
 * a possible command name, with the words after it (up to ; & | ( ) ` or a
 * newline) as its arguments, and quotes are ignored (a quoted string may be
 * another script: `su -c "mkfs ..."`, `ssh host 'wipefs -a ...'`). This is
 * the conservative choice: a script that merely mentions a destroying
 * command (`echo mkfs`, a message naming `drbdadm create-md`) is refused
 * too and must be reworded, or carry `destructive: true` (so is a script
 * that installs a package named like one, `apt-get install parted`: the
 * packages kind does that); a script cannot
 * run one unseen except by building its name at run time (`$cmd`), which
 * no text scan can see. Only comments (# to the end of the line) and a name
 * being looked up (`command -v X`, `which X`, `type X`, `hash X`,
 * `test -x X` / `[ -x X ]`) are not counted.
 */

/** One destroying command found. */
export interface DestructiveFinding {
  /** The command as found (its name and arguments, shortened), e.g. "drbdadm -- --overwrite-data-of-peer primary all". */
  command: string;
  /** What it destroys, e.g. "drbdadm primary --overwrite-data-of-peer overwrites the peer's data with this node's". */
  why: string;
}

/** A problem of a command step's parameters: where (a path under `with:`) and what. */
export interface DestructiveProblem {
  path: (string | number)[];
  message: string;
  finding: DestructiveFinding;
}

export const DESTRUCTIVE_ADVICE =
  'use the partition/mkfs/drbd-create-md/drbd-initial-sync/sbd-device step kinds, which check the device first, or set destructive: true with a guard (creates/unless) that proves the data is not there';

// ---------------------------------------------------------------- per command

const base = (w: string): string => w.slice(w.lastIndexOf('/') + 1);

interface Opts {
  /** Option names as written, e.g. "-l", "--list" (a bundle "-lu" gives "-l", "-u"; "--x=y" gives "--x"). */
  names: string[];
  /** Words that are not options (and not option values). */
  words: string[];
}

/** Splits arguments into options and other words. `withValue`: options whose value is the next word (or attached). */
function options(args: readonly string[], withValue: ReadonlySet<string> = new Set()): Opts {
  const names: string[] = [];
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      words.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a : a.slice(0, eq);
      names.push(name);
      if (eq < 0 && withValue.has(name)) i++;
    } else if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const name = `-${a[j]!}`;
        names.push(name);
        if (withValue.has(name)) {
          if (j === a.length - 1) i++; // value is the next word; else it is attached (-i1, -ofoo)
          break;
        }
      }
    } else words.push(a);
  }
  return { names, words };
}

/** True when at least one option is read-only and every option is read-only or neutral. */
function onlyReading(o: Opts, readOnly: ReadonlySet<string>, neutral: ReadonlySet<string> = new Set()): boolean {
  return o.names.some((n) => readOnly.has(n)) && o.names.every((n) => readOnly.has(n) || neutral.has(n));
}

const set = (...xs: string[]) => new Set(xs);

const VERSION_HELP = set('-V', '--version', '-h', '--help');

const SFDISK_RO = set(
  '-l',
  '--list',
  '-d',
  '--dump',
  '-J',
  '--json',
  '-s',
  '--show-size',
  '-g',
  '--show-geometry',
  '-F',
  '--list-free',
  '-V',
  '--verify',
  '-T',
  '--list-types',
  '-v',
  '--version',
  '-h',
  '--help',
  '-n',
  '--no-act',
);
const SFDISK_NEUTRAL = set('-q', '--quiet', '-o', '--output', '--color', '--bytes', '-u', '--unit');
const SFDISK_VALUE = set(
  '-o',
  '--output',
  '-O',
  '--backup-file',
  '-X',
  '--label',
  '-Y',
  '--label-nested',
  '-w',
  '--wipe',
  '-W',
  '--wipe-partitions',
  '-N',
  '--partno',
  '-u',
  '--unit',
  '--sector-size',
);

const FDISK_RO = set('-l', '--list', '-x', '--list-details', '-V', '-v', '--version', '-h', '--help');
const FDISK_NEUTRAL = set('-u', '--units', '-b', '--sector-size', '-o', '--output', '-L', '--color', '--bytes', '-c', '--compatibility');
const FDISK_VALUE = set(
  '-b',
  '--sector-size',
  '-o',
  '--output',
  '-C',
  '--cylinders',
  '-H',
  '--heads',
  '-S',
  '--sectors',
  '-w',
  '--wipe',
  '-W',
  '--wipe-partitions',
  '-t',
  '--type',
);

const PARTED_RO_OPTS = set('-l', '--list', '-v', '--version', '-h', '--help');
const PARTED_NEUTRAL = set('-s', '--script', '-m', '--machine', '-a', '--align', '-f', '--fix', '-j', '--json');
const PARTED_VALUE = set('-a', '--align');
const PARTED_RO_WORDS = set(
  'print',
  'p',
  'free',
  'all',
  'list',
  'devices',
  'unit',
  'help',
  'version',
  's',
  'b',
  'kb',
  'mb',
  'mib',
  'gb',
  'gib',
  'tb',
  'tib',
  '%',
  'cyl',
  'chs',
  'compact',
);

const SGDISK_RO = set(
  '-p',
  '--print',
  '-i',
  '--info',
  '-v',
  '--verify',
  '-V',
  '--version',
  '-L',
  '--list-types',
  '-O',
  '--print-mbr',
  '-?',
  '--help',
  '--usage',
  '-D',
  '--display-alignment',
  '-E',
  '--end-of-largest',
  '-F',
  '--first-in-largest',
  '-f',
  '--first-aligned-in-largest',
  '-b',
  '--backup',
);
const SGDISK_VALUE = set(
  '-i',
  '--info',
  '-b',
  '--backup',
  '-a',
  '--set-alignment',
  '-n',
  '--new',
  '-d',
  '--delete',
  '-t',
  '--typecode',
  '-c',
  '--change-name',
  '-u',
  '--partition-guid',
  '-U',
  '--disk-guid',
  '-A',
  '--attributes',
  '-l',
  '--load-backup',
  '-R',
  '--replicate',
  '-h',
  '--hybrid',
  '-m',
  '--gpttombr',
  '-r',
  '--transpose',
  '-x',
  '--transform-bsd',
  '-N',
  '--largest-new',
);

const DD_HARMLESS = /^\/dev\/(null|stdout|stderr|tty|fd\/\d+|zero)$/;

const MKFS_NAMES = set('mkfs', 'mke2fs', 'mkswap', 'mkdosfs', 'mkfs.vfat', 'mkfs.fat', 'mkntfs', 'mkreiserfs');

/** sbd's options that take a value (sbd(8)). */
const SBD_VALUE = set('-d', '-1', '-2', '-3', '-4', '-5', '-n', '-p', '-r', '-w', '-F', '-P', '-C', '-S', '-t', '-I', '-c', '-W', '-Z');

type Rule = (args: readonly string[]) => string | undefined;

const drbdRule =
  (tool: string, subcommands: readonly string[]): Rule =>
  (args) => {
    // `--` does not end drbdadm's options: it passes the ones after it to drbdsetup.
    const forced = args.map((a) => a.split('=')[0]!).find((n) => n === '--force' || n === '--overwrite-data-of-peer');
    const words = args.filter((a) => !a.startsWith('-'));
    const sub = subcommands.find((s) => words.includes(s));
    if (sub === 'create-md') return `${tool} create-md writes new DRBD metadata over the backing device's`;
    if (sub === 'wipe-md') return `${tool} wipe-md erases the DRBD metadata`;
    if (sub === 'invalidate') return `${tool} invalidate throws away this node's data and resyncs it from the peer`;
    if (sub === 'invalidate-remote') return `${tool} invalidate-remote throws away the peer's data and resyncs it from this node`;
    if (words.includes('primary') && forced !== undefined) {
      return `${tool} primary ${forced} makes this node's data win, overwriting the peer's (or promotes data that is not up to date)`;
    }
    return undefined;
  };

const RULES: Record<string, Rule> = {
  drbdadm: drbdRule('drbdadm', ['create-md', 'wipe-md', 'invalidate', 'invalidate-remote']),
  drbdsetup: drbdRule('drbdsetup', ['invalidate', 'invalidate-remote']),
  drbdmeta: drbdRule('drbdmeta', ['create-md', 'wipe-md']),
  sfdisk: (args) => (onlyReading(options(args, SFDISK_VALUE), SFDISK_RO, SFDISK_NEUTRAL) ? undefined : 'sfdisk writes a partition table'),
  fdisk: (args) => (onlyReading(options(args, FDISK_VALUE), FDISK_RO, FDISK_NEUTRAL) ? undefined : 'fdisk (not listing with -l) writes a partition table'),
  parted: (args) => {
    const o = options(args, PARTED_VALUE);
    if (o.names.some((n) => PARTED_RO_OPTS.has(n))) return undefined;
    const commands = o.words.slice(1); // the first word is the device
    if (o.names.every((n) => PARTED_NEUTRAL.has(n)) && commands.length > 0 && commands.every((w) => PARTED_RO_WORDS.has(w.toLowerCase()))) return undefined;
    return 'parted (other than print) changes a partition table';
  },
  sgdisk: (args) => {
    const o = options(args, SGDISK_VALUE);
    if (o.names.includes('-P') || o.names.includes('--pretend')) return undefined;
    return onlyReading(o, SGDISK_RO) ? undefined : 'sgdisk (other than -p/-i/-v) writes a partition table';
  },
  wipefs: (args) => {
    const o = options(args, set('-o', '--offset', '-t', '--types'));
    if (o.names.includes('-n') || o.names.includes('--no-act')) return undefined;
    const wipe = o.names.find((n) => n === '-a' || n === '--all' || n === '-o' || n === '--offset');
    return wipe !== undefined ? `wipefs ${wipe} erases file system, RAID or partition-table signatures` : undefined;
  },
  dd: (args) => {
    const of = args.find((a) => a.startsWith('of=/dev/') && !DD_HARMLESS.test(a.slice(3)));
    return of !== undefined ? `dd ${of} overwrites a device` : undefined;
  },
  blkdiscard: (args) => (onlyReading(options(args), VERSION_HELP) ? undefined : 'blkdiscard discards every block of a device'),
  // sbd's commands are words after its options (-d DEV, -1 N, -4 N...): only `create` writes the disk's header
  sbd: (args) => (options(args, SBD_VALUE).words.includes('create') ? "sbd create writes a new SBD header over the disk (and resets every node's slot)" : undefined),
};

function mkfsRule(name: string, args: readonly string[]): string | undefined {
  const o = options(args);
  if (onlyReading(o, VERSION_HELP)) return undefined;
  if ((name === 'mke2fs' || /^mkfs\.ext[234]$/.test(name)) && o.names.includes('-n')) return undefined; // -n: only shows what it would do
  return `${name} creates a new file system (or swap area) over whatever the device holds`;
}

/** The rule for one command name and its arguments: what it destroys, if anything. */
export function destroys(name: string, args: readonly string[]): string | undefined {
  const n = base(name);
  if (MKFS_NAMES.has(n) || n.startsWith('mkfs.')) return mkfsRule(n, args);
  const rule = Object.hasOwn(RULES, n) ? RULES[n] : undefined;
  return rule?.(args);
}

// ---------------------------------------------------------------- argv

const SHELLS = set('sh', 'bash', 'dash', 'ash', 'ksh', 'mksh', 'zsh');

/** Wrappers that run their arguments: their options that take a value, and how many positional words come before the command. */
const WRAPPERS: Record<string, { value: ReadonlySet<string>; positional: number }> = {
  sudo: {
    value: set(
      '-u',
      '--user',
      '-g',
      '--group',
      '-C',
      '--close-from',
      '-D',
      '--chdir',
      '-h',
      '--host',
      '-p',
      '--prompt',
      '-r',
      '--role',
      '-t',
      '--type',
      '-U',
      '--other-user',
      '-T',
      '--command-timeout',
    ),
    positional: 0,
  },
  doas: { value: set('-u', '-C'), positional: 0 },
  env: { value: set('-u', '--unset', '-C', '--chdir', '-S', '--split-string'), positional: 0 },
  nice: { value: set('-n', '--adjustment'), positional: 0 },
  ionice: { value: set('-c', '--class', '-n', '--classdata', '-p', '--pid', '-P', '--pgid', '-u', '--uid'), positional: 0 },
  nohup: { value: set(), positional: 0 },
  setsid: { value: set(), positional: 0 },
  exec: { value: set('-a'), positional: 0 },
  time: { value: set('-f', '--format', '-o', '--output'), positional: 0 },
  stdbuf: { value: set('-i', '--input', '-o', '--output', '-e', '--error'), positional: 0 },
  timeout: { value: set('-k', '--kill-after', '-s', '--signal'), positional: 1 },
  chroot: { value: set('--userspec', '--groups'), positional: 1 },
  taskset: { value: set(), positional: 1 },
  xargs: { value: set('-a', '--arg-file', '-d', '--delimiter', '-E', '-e', '-I', '-i', '-L', '-l', '-n', '--max-args', '-P', '--max-procs', '-s', '--max-chars'), positional: 0 },
  command: { value: set(), positional: 0 },
  builtin: { value: set(), positional: 0 },
  busybox: { value: set(), positional: 0 },
  flock: { value: set('-w', '--timeout', '-E', '--conflict-exit-code'), positional: 1 },
  runuser: { value: set('-u', '--user', '-g', '--group', '-G', '--supp-group', '-s', '--shell', '-w', '--whitelist-environment'), positional: 0 },
};

const ENV_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

function shortList(words: readonly string[]): string {
  const shown = words.slice(0, 8).map((w) => (w.length > 40 ? `${w.slice(0, 37)}...` : w));
  return shown.join(' ') + (words.length > 8 ? ' ...' : '');
}

/** Finds a destroying command in an argv (as exec'd). `stdin`: what the command reads, scanned when a shell reads its script from it. */
export function findInArgv(argv: readonly string[], stdin?: string, depth = 0): DestructiveFinding | undefined {
  if (depth > 8) return undefined;
  let i = 0;
  // Peel wrappers (and env assignments after `env`) off the front.
  for (;;) {
    const w = argv[i];
    if (w === undefined) return undefined;
    const name = base(w);
    if (ENV_ASSIGNMENT.test(w)) {
      i++;
      continue;
    }
    const script = inlineScript(name, argv.slice(i + 1));
    if (script !== undefined) return findInInlineScript(script, depth);
    const wrapper = Object.hasOwn(WRAPPERS, name) ? WRAPPERS[name]! : undefined;
    if (wrapper === undefined) break;
    const rest = argv.slice(i + 1);
    let j = 0;
    const optionNames: string[] = [];
    while (j < rest.length && rest[j]!.startsWith('-') && rest[j] !== '-') {
      const a = rest[j]!;
      if (a === '--') {
        j++;
        break;
      }
      const o = a.startsWith('--') ? a.split('=')[0]! : a.slice(0, 2);
      optionNames.push(o);
      j += wrapper.value.has(o) && !a.includes('=') && (a.startsWith('--') || a.length === 2) ? 2 : 1;
    }
    // `command -v X` / `command -V X` only look X up.
    if ((name === 'command' || name === 'builtin') && optionNames.some((o) => o === '-v' || o === '-V')) return undefined;
    i += 1 + j + wrapper.positional;
  }
  const name = base(argv[i]!);
  const args = argv.slice(i + 1);
  if (name === 'eval') return findInScript(args.join(' '), depth + 1);
  if (SHELLS.has(name) && stdin !== undefined && readsStdin(args)) return findInScript(stdin, depth + 1);
  const why = destroys(name, args);
  return why !== undefined ? { command: shortList(argv.slice(i)), why } : undefined;
}

function findInInlineScript(script: { text: string; positional: string[] }, depth: number): DestructiveFinding | undefined {
  const inScript = findInScript(script.text, depth + 1);
  if (inScript) return inScript;
  // "$@" / "$*" run the positional arguments (after $0) as a command.
  if (/\$[@*]|\$\{[@*]\}/.test(script.text) && script.positional.length > 1) return findInArgv(script.positional.slice(1), undefined, depth + 1);
  return undefined;
}

/** The inline script of `sh -c SCRIPT [$0 ARGS...]`, `su -c SCRIPT`, `runuser ... -c SCRIPT`, `flock FILE -c SCRIPT`. */
function inlineScript(name: string, args: readonly string[]): { text: string; positional: string[] } | undefined {
  if (!SHELLS.has(name) && name !== 'su' && name !== 'runuser' && name !== 'flock') return undefined;
  for (let k = 0; k < args.length; k++) {
    const a = args[k]!;
    if (a === '--command' && args[k + 1] !== undefined) return { text: args[k + 1]!, positional: args.slice(k + 2) };
    if (a.startsWith('--command=')) return { text: a.slice('--command='.length), positional: args.slice(k + 1) };
    // -c, or a bundle of single-letter shell options that contains c (-ec, -euc, -xc)
    if (/^-[a-zA-Z]*c[a-zA-Z]*$/.test(a) && !a.startsWith('--')) {
      // sh: the script is the first word after the options
      let s = k + 1;
      if (SHELLS.has(name)) while (args[s] !== undefined && /^[-+][a-zA-Z]+$/.test(args[s]!)) s++;
      if (args[s] === undefined) return undefined;
      return { text: args[s]!, positional: args.slice(s + 1) };
    }
  }
  return undefined;
}

/** A shell given no script file and no -c reads its script from stdin (`sh`, `sh -s`, `bash -e`). */
function readsStdin(args: readonly string[]): boolean {
  const words = args.filter((a) => !/^[-+][a-zA-Z]*$/.test(a));
  return words.length === 0 || args.some((a) => /^-[a-zA-Z]*s[a-zA-Z]*$/.test(a));
}

// ---------------------------------------------------------------- scripts

type Token = { word: string } | { sep: true };

/**
 * Words and command separators of a shell text. Quotes are dropped (their
 * text is split into words like any other), `\` escapes one character,
 * comments are dropped; ; & | ( ) ` and newlines separate commands.
 */
export function scriptTokens(text: string): Token[] {
  const out: Token[] = [];
  let word = '';
  let started = false;
  let quote: "'" | '"' | undefined;
  const end = () => {
    if (started) out.push({ word });
    word = '';
    started = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'" ? c === "'" : quote === '"' ? c === '"' : false) {
      quote = undefined;
      started = true;
      continue;
    }
    if (quote === undefined && (c === "'" || c === '"')) {
      quote = c;
      started = true;
      continue;
    }
    if (c === '\\' && quote !== "'" && i + 1 < text.length) {
      const n = text[++i]!;
      if (n === '\n') continue; // line continuation
      word += n;
      started = true;
      continue;
    }
    if (quote === undefined && c === '#' && !started) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
      continue;
    }
    if (/\s/.test(c) && c !== '\n') {
      end();
      continue;
    }
    if (c === '\n' || c === ';' || c === '&' || c === '|' || c === '(' || c === ')' || c === '`') {
      end();
      if (out.length > 0 && !('sep' in out[out.length - 1]!)) out.push({ sep: true });
      continue;
    }
    if (c === '<' || c === '>') {
      end();
      continue;
    }
    word += c;
    started = true;
  }
  end();
  return out;
}

const LOOKUPS = set('which', 'type', 'hash', 'whereis');

/** Finds a destroying command anywhere in a shell text (conservatively: every word may be a command; see the header). */
export function findInScript(text: string, depth = 0): DestructiveFinding | undefined {
  if (depth > 8) return undefined;
  const tokens = scriptTokens(text);
  const wordAt = (k: number): string | undefined => {
    const t = tokens[k];
    return t !== undefined && 'word' in t ? t.word : undefined;
  };
  for (let k = 0; k < tokens.length; k++) {
    const w = wordAt(k);
    if (w === undefined) continue;
    const prev = wordAt(k - 1);
    const prev2 = wordAt(k - 2);
    if (prev !== undefined && LOOKUPS.has(prev)) continue;
    if ((prev === '-v' || prev === '-V') && prev2 === 'command') continue;
    if ((prev === '-x' || prev === '-e' || prev === '-f') && (prev2 === 'test' || prev2 === '[' || prev2 === '[[')) continue;
    const args: string[] = [];
    for (let m = k + 1; wordAt(m) !== undefined; m++) args.push(wordAt(m)!);
    const why = destroys(w, args);
    if (why !== undefined) return { command: shortList([w, ...args]), why };
  }
  return undefined;
}

// ---------------------------------------------------------------- the step's parameters

export interface CommandLike {
  argv?: readonly string[] | undefined;
  shell?: string | undefined;
  unless?: readonly string[] | undefined;
  stdin?: string | undefined;
  destructive?: boolean | undefined;
}

/**
 * The problems of a command step's parameters: a destroying command in
 * `argv`/`shell` without `destructive: true`, and any destroying command in
 * `unless` (a guard runs on every plan, which changes nothing by contract).
 */
export function destructiveProblems(p: CommandLike): DestructiveProblem[] {
  const out: DestructiveProblem[] = [];
  if (p.destructive !== true) {
    let found: { finding: DestructiveFinding; path: (string | number)[] } | undefined;
    if (p.argv !== undefined) {
      const f = findInArgv(p.argv, p.stdin);
      // point at the argv element holding the script when the finding is inside one
      if (f) found = { finding: f, path: ['argv', ...scriptIndex(p.argv, f)] };
    } else if (p.shell !== undefined) {
      const f = findInScript(p.shell);
      if (f) found = { finding: f, path: ['shell'] };
    }
    if (found) {
      out.push({
        ...found,
        message: `refused: runs \`${found.finding.command}\`, which destroys data (${found.finding.why}); ${DESTRUCTIVE_ADVICE}`,
      });
    }
  }
  if (p.unless !== undefined) {
    const f = findInArgv(p.unless);
    if (f) {
      out.push({
        path: ['unless'],
        finding: f,
        message: `refused: the guard runs \`${f.command}\`, which destroys data (${f.why}); a guard runs on every plan and apply and must only read (destructive: true does not apply to it)`,
      });
    }
  }
  return out;
}

/** [i] when the finding is inside argv[i] (a script), [] when it is the argv itself. */
function scriptIndex(argv: readonly string[], f: DestructiveFinding): number[] {
  const i = argv.findIndex((a) => /\s/.test(a) && findInScript(a)?.command === f.command);
  return i >= 0 ? [i] : [];
}
