/** Parameters shared by the DRBD step kinds. */
import { z } from 'zod';

/** What drbdadm reads of the configuration (resource names, see contract.ts). */
export const DRBD_CONFIG = ['/etc/drbd.conf', '/etc/drbd.d'] as const;

export const resourceName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/, 'a DRBD resource name (letters, digits, "_", "." and "-")');

/** Replication (in)activity states in which a resync is running or about to. */
export const SYNCING = new Set(['SyncSource', 'SyncTarget', 'PausedSyncS', 'PausedSyncT', 'WFBitMapS', 'WFBitMapT', 'WFSyncUUID', 'StartingSyncS', 'StartingSyncT']);
