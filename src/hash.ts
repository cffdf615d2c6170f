/** The one sha256 helper: hex digest of a string (as UTF-8) or bytes. */
import { createHash } from 'node:crypto';

export const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
