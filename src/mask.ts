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

/** A parameter whose value is a credential, whatever the value (fence agents' password, passwd, snmp_priv_passwd...; not passwd_script, a path). */
export function isCredentialName(name: string): boolean {
  return /passw|secret|community/i.test(name) && !/_script$/.test(name);
}

/**
 * Values of CIB name/value pairs (`<nvpair name="password" value="..."/>`)
 * whose name is a credential's, replaced by MASK: a CIB read holds the
 * credentials Pacemaker was given, also ones this run does not know as its
 * secrets (the password before it was changed in the inventory).
 */
export function redactCibCredentials(text: string): string {
  if (!text.includes('<nvpair')) return text;
  return text.replace(/<nvpair\b[^>]*>/g, (el) => {
    const name = /\bname="([^"]*)"/.exec(el)?.[1];
    return name !== undefined && isCredentialName(name) ? el.replace(/\bvalue="[^"]*"/, `value="${MASK}"`) : el;
  });
}
