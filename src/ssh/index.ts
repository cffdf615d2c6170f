export type { Command, CommandResult, Endpoint, HostKeyPolicy, Session } from './types.js';
export { SshError } from './types.js';
export { RemoteCommandError } from './errors.js';
export { openSession, type OpenSessionOptions } from './session.js';
export { withRetry, openSessionWithRetry, isTransientSshError, backoffDelays, type RetryOptions } from './retry.js';
export { shQuote, shJoin } from './quote.js';
export { fingerprint, hostKeyName } from './known-hosts.js';
