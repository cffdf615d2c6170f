/** Secret masking: the one home of MASK and of the functions every output path uses. */
export const MASK = '********';

export type Masker = (text: string) => string;

/** A function replacing every occurrence of each secret (longest first) by MASK; empty and undefined secrets are ignored. */
export function makeMasker(secrets: Iterable<string | undefined>): Masker {
  const list = [...new Set([...secrets].filter((s): s is string => typeof s === 'string' && s.length > 0))].sort((a, b) => b.length - a.length);
  if (list.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const secret of list) if (out.includes(secret)) out = out.split(secret).join(MASK);
    return out;
  };
}

/** Replace every occurrence of every secret (longest first) by MASK. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  if (secrets.length === 0 || text.length === 0) return text;
  return makeMasker(secrets)(text);
}

/** True when any secret occurs in text. */
export function containsSecret(text: string, secrets: readonly string[]): boolean {
  return secrets.some((s) => s.length > 0 && text.includes(s));
}
