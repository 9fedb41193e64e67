import { readFileSync } from 'node:fs';
import { isMap, isNode, isPair, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';

/**
 * Reading a config file for a schema, for both CLIs: YAML or JSON (JSON is YAML 1.2, so one parser
 * keeps the node ranges for both), validated with zod, and every error names the key path AND the
 * line, because "destinations.b.forwards.1.advertise" alone is hard to find in a long file.
 */

/** A config file that cannot be read, parsed or validated: one line saying where and what. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    /** The file, as it was named. */
    readonly path: string,
    /** 1-based line of the problem, when known. */
    readonly line?: number,
  ) {
    super(message);
  }
}

/** The parsed file before validation, with what is needed to point at a line. */
export interface ConfigSource {
  path: string;
  /** How messages name the file. */
  label: string;
  data: unknown;
  /** 1-based line of the node at `keyPath`, or of its nearest existing ancestor. */
  lineOf(keyPath: readonly PropertyKey[], keyName?: string): number | undefined;
}

/**
 * Reads and parses `path` (not yet validated). `label` names the file in messages: `--config
 * gateway.yaml`, `config /etc/ftpfwd-sshd.yaml`. Throws ConfigError.
 */
export function readConfigSource(path: string, label = `--config ${path}`): ConfigSource {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read ${label}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      path,
    );
  }
  return parseConfigSource(text, path, label);
}

/** Parses config text (YAML or JSON) as if read from `path`. Throws ConfigError. */
export function parseConfigSource(text: string, path: string, label = `--config ${path}`): ConfigSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const line = lines.linePos(first.pos[0]).line;
    throw new ConfigError(
      `${label} line ${line}: not valid YAML/JSON: ${first.message.split('\n')[0]}`,
      path,
      line,
    );
  }
  const lineAt = (node: unknown): number | undefined =>
    isNode(node) && node.range ? lines.linePos(node.range[0]).line : undefined;
  return {
    path,
    label,
    data: doc.toJS() ?? {},
    lineOf(keyPath, keyName) {
      // Walk up until a node exists: a missing key is reported at its parent's line.
      for (let n = keyPath.length; n >= 0; n--) {
        const node = doc.getIn(keyPath.slice(0, n) as unknown[], true) as Node | undefined;
        if (n === 0 && !node) return lineAt(doc.contents);
        if (!node) continue;
        // An unknown key: point at the key itself, not at the map that holds it.
        if (keyName !== undefined && n === keyPath.length && isMap(node)) {
          const pair = node.items.find(
            (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === keyName,
          );
          if (pair && isScalar(pair.key)) return lineAt(pair.key);
        }
        return lineAt(node);
      }
      return undefined;
    },
  };
}

/**
 * Validates `src` against `schema`; every problem becomes one clause with its line and key path:
 * `--config gw.yaml line 12: destinations.b.port: expected number, received string; line 14: …`.
 * Throws ConfigError (its `line` is the first problem's).
 */
export function validateConfig<S extends z.ZodType>(src: ConfigSource, schema: S): z.output<S> {
  const r = schema.safeParse(src.data);
  if (r.success) return r.data;
  const problems = r.error.issues.map((issue) => {
    const unknown = issue.code === 'unrecognized_keys' ? issue.keys : undefined;
    const keyPath = unknown?.length ? [...issue.path, unknown[0] as string] : issue.path;
    const line = src.lineOf(issue.path, unknown?.[0]);
    const where = keyPath.map(String).join('.') || '(top level)';
    // zod wraps a bad record key ("Invalid key in record"); its own issue says what was expected.
    const inner = issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
    const what = unknown ? `unknown key(s) ${unknown.join(', ')}` : (inner ?? issue.message);
    return { line, text: `${line ? `line ${line}: ` : ''}${where}: ${what}` };
  });
  const first = problems[0];
  const text = problems.map((p) => p.text).join('; ');
  throw new ConfigError(`${src.label}${first?.line ? ' ' : ': '}${text || 'invalid'}`, src.path, first?.line);
}
