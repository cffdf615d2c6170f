/** Replaces every occurrence of a secret by `********` (longest secrets first). */
export const MASK = '********';

export type Masker = (text: string) => string;

export function makeMasker(secrets: Iterable<string | undefined>): Masker {
  const list = [...new Set([...secrets].filter((s): s is string => typeof s === 'string' && s.length > 0))].sort(
    (a, b) => b.length - a.length,
  );
  if (list.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const secret of list) out = out.split(secret).join(MASK);
    return out;
  };
}
