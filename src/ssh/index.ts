export type { Command, CommandResult, Endpoint, HostKeyPolicy, Session } from './types.js';
export { SshError } from './types.js';
export { openSession, type OpenSessionOptions } from './session.js';
export { openSessionWithRetry, type RetryOptions } from './retry.js';
