/**
 * Cutting a command's output free of the login shell's noise. Every command
 * line starts with `prefixLine(M)`, M random per call: whatever the remote
 * rc files print before it (bash sources ~/.bashrc even for `bash -c` under
 * sshd) is cut off at M, so results never depend on rc files; the pid that
 * follows on stdout is the remote command's, for killing it. Pure.
 */

/**
 * `printf '%s%s%s' M $$ M` (stdout) and `printf %s M` (stderr): $$ is the pid
 * (and process group) of the remote command, for killing it on timeout or abort.
 */
export function prefixLine(marker: string): string {
  return `printf '%s%s%s' ${marker} $$ ${marker}; printf %s ${marker} >&2`;
}

/**
 * What follows the marker in `buf` (with `withPid`, the stdout form
 * M<pid>M), or null when it is not all there yet; `pid` only when it is one
 * (an integer above 1).
 */
export function afterMarker(buf: Buffer, marker: string, withPid: boolean): { rest: Buffer; pid?: number } | null {
  const at = buf.indexOf(marker);
  if (at < 0) return null;
  if (!withPid) return { rest: buf.subarray(at + marker.length) };
  const end = buf.indexOf(marker, at + marker.length);
  if (end < 0) return null;
  const pid = Number(buf.subarray(at + marker.length, end).toString('latin1'));
  return { rest: buf.subarray(end + marker.length), pid: Number.isInteger(pid) && pid > 1 ? pid : undefined };
}
