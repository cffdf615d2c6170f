/**
 * POSIX shell quoting: the ONE place where argv becomes a command string.
 *
 * A word is either left bare (only characters no POSIX shell treats
 * specially, and never `=` or `~`, so it cannot become an assignment or a
 * tilde expansion) or wrapped in single quotes, inside which nothing is
 * special; a `'` inside the value becomes `'\''`.
 */
const SAFE_WORD = /^[A-Za-z0-9_/.,:@%+-]+$/;

export function shQuote(value: string): string {
  if (value.includes('\0')) {
    throw new Error('a shell word cannot contain a NUL byte');
  }
  if (SAFE_WORD.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** `data` as text a shell word can hold, or undefined when it holds a NUL byte or is not UTF-8. */
export function asText(data: string | Buffer): string | undefined {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  if (text.includes('\0') || (Buffer.isBuffer(data) && !Buffer.from(text, 'utf8').equals(data))) return undefined;
  return text;
}

export function shJoin(argv: readonly string[]): string {
  return argv.map(shQuote).join(' ');
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `env K=V ...` prefix words (each assignment one quoted word), validated names. */
export function envWords(env: Readonly<Record<string, string>> | undefined): string[] {
  if (env === undefined) return [];
  const names = Object.keys(env);
  if (names.length === 0) return [];
  const words = ['env'];
  for (const name of names.sort()) {
    if (!ENV_NAME.test(name)) {
      throw new Error(`invalid environment variable name ${JSON.stringify(name)}: expected letters, digits and _ (not starting with a digit)`);
    }
    words.push(`${name}=${env[name]}`);
  }
  return words;
}
