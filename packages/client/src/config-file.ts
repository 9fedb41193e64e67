import { readConfigSource, validateConfig } from '@ftpfwd/ftp-proxy/cli';
import { z } from 'zod';
import { configErrors } from './errors.js';

/**
 * `--config FILE`, single-destination form: the command line as YAML (or JSON), for services. The
 * several-destination form is gateway-config.ts; a file with `destinations:` is read as that. Every key is optional; the command line
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
export const scalar = z
  .union([z.string(), z.number(), z.boolean()])
  .transform((v) => (typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v)));
export const stringList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]));

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
    sftpLogin: z.string().min(1).optional(),
    sftpJail: z.boolean().optional(),
    metrics: z.string().optional(),
    verbose: z.number().int().min(0).max(3).optional(),
    logFormat: z.enum(['text', 'json']).optional(),
  })
  .strict();

export type ConfigFile = z.output<typeof ConfigFileSchema>;

/** Reads the single-destination form (the command line as YAML/JSON). */
export function readConfigFile(path: string): ConfigFile {
  return configErrors(() => validateConfig(readConfigSource(path), ConfigFileSchema));
}
