import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Prompter } from '@ftpfwd/ftp-proxy/cli';
import { FtpfwdError } from './errors.js';
import {
  blobKeyType,
  checkHostKey,
  fingerprint,
  formatKnownHostLine,
  type KnownHostEntry,
  keyTypeLabel,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
} from './known-hosts.js';
import type { StrictHostKeyChecking } from './options.js';

export interface HostKeyPolicy {
  host: string;
  port: number;
  /** First one is where new keys are recorded. */
  userKnownHostsFiles: string[];
  globalKnownHostsFiles: string[];
  strict: StrictHostKeyChecking;
  batchMode: boolean;
  prompter: Prompter;
  /** Told about keys that were added (accept-new, no, or a "yes" answer). */
  onAdded?: (message: string) => void;
}

function loadEntries(files: string[]): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue; // a missing known_hosts file is simply empty, as in OpenSSH
    }
    out.push(...parseKnownHosts(text, f));
  }
  return out;
}

/** Key types known for this host, in file order, to put first in the host-key algorithm list. */
export function preferredHostKeyTypes(policy: HostKeyPolicy): string[] {
  const entries = loadEntries([...policy.userKnownHostsFiles, ...policy.globalKnownHostsFiles]);
  return knownKeyTypes(entries, knownHostsName(policy.host, policy.port));
}

/**
 * Verifies the key a server presented. Resolves when it is acceptable (possibly after recording it),
 * rejects with a typed error that names the host, the fingerprints and the file otherwise.
 */
export async function verifyHostKey(policy: HostKeyPolicy, blob: Buffer): Promise<void> {
  const name = knownHostsName(policy.host, policy.port);
  const files = [...policy.userKnownHostsFiles, ...policy.globalKnownHostsFiles];
  const entries = loadEntries(files);
  const verdict = checkHostKey(entries, name, blob);
  const label = keyTypeLabel(blobKeyType(blob));
  const fp = fingerprint(blob);
  switch (verdict.status) {
    case 'ok':
      return;
    case 'revoked':
      throw new FtpfwdError(
        'host-key-revoked',
        `host key for ${name} is marked @revoked in ${verdict.entry.source} (${label} ${fp}); refusing to connect`,
      );
    case 'changed': {
      const old = verdict.known
        .map((e) => `${fingerprint(Buffer.from(e.keyBase64, 'base64'))} in ${e.source}`)
        .join(', ');
      throw new FtpfwdError(
        'host-key-changed',
        `WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED for ${name}: it offered ${label} key ${fp}, known_hosts has ${old}; refusing to connect (possible man-in-the-middle attack; if the change is expected remove the old entry with ssh-keygen -R '${name}')`,
      );
    }
    case 'unknown': {
      const ca =
        verdict.certAuthorities.length > 0
          ? ` (@cert-authority entries for it in ${verdict.certAuthorities.map((e) => e.source).join(', ')} are not supported)`
          : '';
      const where = files.length > 0 ? files.join(', ') : '(no known_hosts file)';
      const unknown = (why: string) =>
        new FtpfwdError(
          'host-key-unknown',
          `host key verification failed: no known_hosts entry for ${name} (${label} key ${fp}) in ${where}${ca}; ${why}`,
        );
      if (policy.strict === 'yes') throw unknown('StrictHostKeyChecking=yes');
      if (policy.strict === 'ask') {
        if (policy.batchMode) throw unknown('BatchMode forbids asking');
        if (!policy.prompter.available)
          throw unknown('no terminal to ask on (use -o StrictHostKeyChecking=accept-new or add the key)');
        const answer = await policy.prompter.ask(
          `The authenticity of host '${name}' can't be established.\n${label} key fingerprint is ${fp}.\nAre you sure you want to continue connecting (yes/no/[fingerprint])? `,
          true,
        );
        const a = (answer ?? '').trim();
        if (a.toLowerCase() !== 'yes' && a !== fp) throw unknown('not confirmed');
      }
      record(policy, name, blob, label);
      return;
    }
  }
}

function record(policy: HostKeyPolicy, name: string, blob: Buffer, label: string): void {
  const file = policy.userKnownHostsFiles[0];
  if (!file || file === '/dev/null' || file === 'none') return;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    appendFileSync(file, formatKnownHostLine(name, blob), { mode: 0o600 });
    policy.onAdded?.(`Permanently added '${name}' (${label}) to the list of known hosts (${file}).`);
  } catch (err) {
    // OpenSSH connects anyway and warns; so do we.
    policy.onAdded?.(`Failed to add the host to ${file}: ${(err as Error).message}`);
  }
}
