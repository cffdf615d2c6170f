/** `file`: a whole file with exact content, mode, owner and group. */
import { z } from 'zod';
import { OWNER_NAMES, type Change, type StepNode } from '../contract.js';
import { defineStep, exec, refuse, sudoOf, upload } from '../define.js';
import { fileHashProbe, formatMode } from '../../facts/file.js';
import { containsSecret, maskSecrets } from '../../mask.js';
import { unifiedDiff } from '../udiff.js';
import { absolutePath, modeString, userName } from '../params.js';
import { sha256 } from '../../hash.js';

/** Old content is fetched for the diff only up to this size. */
export const MAX_DIFF_BYTES = 65536;

export const fileParams = z
  .object({
    path: absolutePath,
    content: z.string(),
    mode: modeString.default('0644'),
    owner: userName.default('root'),
    group: userName.default('root'),
    /** Content is secret: never fetched, never shown. */
    secret: z.boolean().default(false),
    sudo: z.boolean().default(false),
  })
  .strict();
export type FileParams = z.infer<typeof fileParams>;

function isSecret(p: FileParams, node: StepNode): boolean {
  return p.secret || containsSecret(p.content, node.secrets);
}

export const fileStep = defineStep({
  kind: 'file',
  params: fileParams,
  // the probe's stat names the owner and group: /etc/passwd and /etc/group
  reads: (p) => [p.path, ...OWNER_NAMES],
  writes: (p) => [p.path],
  probes: (p: FileParams, node) => ({ file: fileHashProbe(p.path, sha256(p.content), isSecret(p, node) ? -1 : MAX_DIFF_BYTES, p.sudo) }),
  diff(p, { file: f }, node) {
    const secret = isSecret(p, node);
    const write = (diff: string): Change =>
      upload({
        path: p.path,
        content: p.content,
        mode: p.mode,
        owner: p.owner,
        group: p.group,
        ...sudoOf(p.sudo),
        description: `write ${p.path} (${Buffer.byteLength(p.content)} bytes, ${p.mode} ${p.owner}:${p.group})`,
        diff,
        ...(secret ? { secret: true } : {}),
      });
    switch (f.state) {
      case 'notfile':
        return [refuse(`${p.path} exists and is not a regular file`)];
      case 'absent':
        return [write(secret ? `(new secret file ${p.path}, content hidden)\n` : unifiedDiff('', maskSecrets(p.content, node.secrets), '/dev/null', p.path))];
      case 'file': {
        const changes: Change[] = [];
        if (f.sha256 !== sha256(p.content)) {
          let diff: string;
          if (secret) diff = `(secret content of ${p.path} changes, diff hidden)\n`;
          else if (f.content === undefined) diff = `(content of ${p.path} changes; old file is ${f.stat.size} bytes, not shown)\n`;
          else diff = unifiedDiff(maskSecrets(f.content, node.secrets), maskSecrets(p.content, node.secrets), p.path, p.path);
          // the upload sets mode and owner too
          return [write(diff)];
        }
        if (f.stat.mode !== parseInt(p.mode, 8)) {
          changes.push(exec(['chmod', p.mode, '--', p.path], `chmod ${p.path} ${formatMode(f.stat.mode)} -> ${p.mode}`, { sudo: p.sudo }));
        }
        if (f.stat.owner !== p.owner || f.stat.group !== p.group) {
          changes.push(exec(['chown', `${p.owner}:${p.group}`, '--', p.path], `chown ${p.path} ${f.stat.owner}:${f.stat.group} -> ${p.owner}:${p.group}`, { sudo: p.sudo }));
        }
        return changes;
      }
    }
  },
});
