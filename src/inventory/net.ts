/** Address arithmetic via node:net (no hand-written bit math). */
import { BlockList, isIP } from 'node:net';

export interface ParsedCidr {
  base: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

export function parseCidr(cidr: string): ParsedCidr {
  const [base = '', prefix = '0'] = cidr.split('/');
  return { base, prefix: Number(prefix), family: isIP(base) === 6 ? 'ipv6' : 'ipv4' };
}

export function familyOf(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

export function cidrContains(cidr: string, address: string): boolean {
  const c = parseCidr(cidr);
  if (familyOf(address) !== c.family) return false;
  const list = new BlockList();
  list.addSubnet(c.base, c.prefix, c.family);
  return list.check(address, c.family);
}

/** True when `cidr` names its network address (10.0.0.0/24, not 10.0.0.7/24). */
export function isNetworkAddress(cidr: string): boolean {
  const c = parseCidr(cidr);
  if (c.family !== 'ipv4') return true;
  const n = c.base.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - c.prefix);
  return n % size === 0;
}
