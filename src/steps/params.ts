import { z } from 'zod';

export const absolutePath = z.string().regex(/^\//, 'an absolute path (starting with /)');
export const modeString = z
  .string()
  .regex(/^0?[0-7]{3,4}$/, 'an octal mode such as "0644"')
  .transform((m) => '0' + parseInt(m, 8).toString(8).padStart(3, '0'));
export const userName = z.string().regex(/^[a-z_][a-z0-9_.-]*\$?$/i, 'a user/group name');
