/** Secret masking: the one function every output path uses. */
export const MASK = '********';

/** Replace every occurrence of every secret (longest first) by MASK. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  if (secrets.length === 0 || text.length === 0) return text;
  let out = text;
  for (const s of [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)) {
    if (out.includes(s)) out = out.split(s).join(MASK);
  }
  return out;
}

/** True when any secret occurs in text. */
export function containsSecret(text: string, secrets: readonly string[]): boolean {
  return secrets.some((s) => s.length > 0 && text.includes(s));
}
