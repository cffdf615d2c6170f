import type { CommandResult } from './types.js';

/** A remote helper command (writeFile, batch framing) failed; carries the masked result. */
export class RemoteCommandError extends Error {
  override name = 'RemoteCommandError';
  constructor(
    message: string,
    readonly result: CommandResult,
  ) {
    super(message);
  }
}
