import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { FtpfwdError } from './errors.js';

/**
 * `--config FILE`: the command line as YAML, for services. Every key is optional; the command line
 * wins over the file. Unknown keys are errors that name them.
 *
 *   destination: tester@bastion        # or host/user/port
 *   identityFile: [/etc/ftpfwd/id_ed25519]
 *   options: { StrictHostKeyChecking: "yes", UserKnownHostsFile: /etc/ftpfwd/known_hosts }
 *   local: ["ftp/0.0.0.0:2121:ftp.internal:21"]
 *   remote: []
 *   gatewayPorts: true
 *   advertise: 203.0.113.7
 *   dataPorts: 40000-40099
 *   metrics: 127.0.0.1:9464
 */
const scalar = z
  .union([z.string(), z.number(), z.boolean()])
  .transform((v) => (typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v)));
const stringList = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));

export const ConfigFileSchema = z
  .object({
    destination: z.string().optional(),
    host: z.string().optional(),
    user: z.string().optional(),
    port: z.number().int().min(1).max(65535).optional(),
    identityFile: stringList.optional(),
    sshConfig: z.string().optional(),
    options: z.record(z.string(), scalar).optional(),
    local: stringList.optional(),
    remote: stringList.optional(),
    gatewayPorts: z.boolean().optional(),
    pasvTarget: z.enum(['control', 'reply']).optional(),
    advertise: z.string().optional(),
    dataPorts: z.string().optional(),
    remoteDataBind: z.string().optional(),
    remoteDataAdvertise: z.string().optional(),
    metrics: z.string().optional(),
    verbose: z.number().int().min(0).max(3).optional(),
    logFormat: z.enum(['text', 'json']).optional(),
  })
  .strict();

export type ConfigFile = z.output<typeof ConfigFileSchema>;

export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FtpfwdError(
      'config',
      `cannot read --config ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let data: unknown;
  try {
    data = parseYaml(text) ?? {};
  } catch (err) {
    throw new FtpfwdError(
      'config',
      `--config ${path}: not valid YAML: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  const r = ConfigFileSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.join('.') || '(top level)';
    const what =
      issue?.code === 'unrecognized_keys'
        ? `unknown key(s) ${issue.keys.join(', ')}`
        : (issue?.message ?? 'invalid');
    throw new FtpfwdError('config', `--config ${path}: ${where}: ${what}`);
  }
  return r.data;
}
