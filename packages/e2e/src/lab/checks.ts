/**
 * The expectation checks: each step's (exit, files intact, output, markers) and each of the file's
 * `expect:` items (traffic on a link, the FTP server's peers, a log line), every one with a one-line
 * reason. Pure over what a run collected: step reports, files, link summaries, logs.
 */
import { existsSync } from 'node:fs';
import type { StepReport } from '../agent/plan.js';
import { type Payload, sha256File } from '../ftp.js';
import type { TcpConnection } from '../pcap.js';
import type { LinkSummary } from './links.js';
import type { ExpectationPlan, HostPlan, ScenarioPlan, StepPlan } from './plan.js';
import type { ExpectationSpec, StepExpect, TrafficClass } from './schema.js';
import { escapeRegExp } from './templates.js';

export interface ExpectationResult {
  id: string;
  title: string;
  ok: boolean;
  /** Why it failed, or what was seen. One line. */
  message: string;
  step?: string;
  /** Links it is about (for the drawing). */
  links?: string[];
}

export interface RunFiles {
  /** Host path of `name` in the host's /out. */
  out(host: string, name: string): string;
  /** Host path of `rel` in the FTP server host's /srv. */
  srv(host: string, rel: string): string;
  payload(name: string): { download?: Payload; upload?: Payload } | undefined;
}

export interface CheckInput {
  plan: ScenarioPlan;
  reports: Map<string, StepReport>;
  links: LinkSummary[];
  /** Every connection of a host's capture (all interfaces). */
  hostConnections(host: string): TcpConnection[] | undefined;
  logs: Map<string, string>;
  files: RunFiles;
}

interface Verdict {
  ok: boolean;
  message: string;
}
const pass = (message: string): Verdict => ({ ok: true, message });
const fail = (message: string): Verdict => ({ ok: false, message });

export function checkAll(input: CheckInput): ExpectationResult[] {
  return input.plan.expectations.map((e) => {
    const v = checkOne(e, input);
    const links = linksOf(e, input.plan);
    return {
      id: e.id,
      title: e.title,
      ok: v.ok,
      message: v.message,
      ...(e.kind === 'step' ? { step: e.step } : {}),
      ...(links.length ? { links } : {}),
    };
  });
}

/** Every expectation failed for the same reason (the run never got to checking). */
export function notChecked(plan: ScenarioPlan, reason: string): ExpectationResult[] {
  return plan.expectations.map((e) => ({
    id: e.id,
    title: e.title,
    ok: false,
    message: `not checked: ${reason}`,
    ...(e.kind === 'step' ? { step: e.step } : {}),
  }));
}

function linksOf(e: ExpectationPlan, plan: ScenarioPlan): string[] {
  if (e.kind === 'step') {
    const st = plan.steps.find((s) => s.name === e.step);
    const out: string[] = [];
    const visit = (x: StepExpect | undefined) => {
      if (x?.['marker-seen-on']) out.push(x['marker-seen-on']);
      x?.['any-of']?.forEach(visit);
    };
    visit(st?.expect);
    return out;
  }
  const t = e.spec.traffic ?? e.spec['only-ssh'];
  return t ? [t.link] : [];
}

function checkOne(e: ExpectationPlan, input: CheckInput): Verdict {
  if (e.kind === 'step') {
    const st = input.plan.steps.find((s) => s.name === e.step) as StepPlan;
    return checkStep(st, st.expect, input);
  }
  const spec = e.spec;
  if (spec['only-ssh']) return checkTraffic({ ...spec['only-ssh'], only: ['ssh'] }, true, input);
  if (spec.traffic) return checkTraffic(spec.traffic, false, input);
  if (spec['ftp-server-sees']) return checkServerPeers(spec['ftp-server-sees'], input);
  return checkLog(spec.log as NonNullable<ExpectationSpec['log']>, input);
}

// ---------------------------------------------------------------- steps

function checkStep(st: StepPlan, e: StepExpect, input: CheckInput): Verdict {
  const r = input.reports.get(st.name);
  if (!r) return fail(`did not run (host ${st.host} ended before it, or the run stopped)`);
  if (e['any-of']) {
    const alternatives = e['any-of'].map((x) => checkStep(st, x, input));
    const rest = checkStep(st, { ...e, 'any-of': undefined }, input);
    if (!rest.ok && hasOwnChecks(e)) return rest;
    const held = alternatives.find((v) => v.ok);
    return held
      ? pass(held.message)
      : fail(`none held: ${alternatives.map((v, i) => `(${i + 1}) ${v.message}`).join(' ')}`);
  }
  const exit = r.code === null ? `killed (${r.signal}) after ${secs(r.ms)}` : `exit ${r.code}`;
  if (e.fails !== undefined && e.fails !== false) {
    if (r.code === 0)
      return fail(
        `expected it to fail, but it exited 0${firstLine(r.stdout) ? `: ${firstLine(r.stdout)}` : ''}`,
      );
    if (typeof e.fails === 'string' && !new RegExp(e.fails).test(`${r.stdout}\n${r.stderr}`))
      return fail(
        `failed (${exit}) but its output does not match /${e.fails}/: ${firstLine(r.stderr) || firstLine(r.stdout)}`,
      );
  } else if (r.code !== 0)
    return fail(`${exit}: ${firstLine(r.stderr) || firstLine(r.stdout) || 'no output'}`);
  if (e.intact && !e.fails) {
    const v = checkIntact(st, r, input);
    if (!v.ok) return v;
  }
  if (e.output) {
    const v = checkOutput(r.stdout, e.output);
    if (!v.ok) return v;
  }
  const seenOn = e['marker-seen-on'];
  if (seenOn) {
    const link = input.links.find((l) => l.id === seenOn);
    if (!link?.markers) return fail(`${seenOn} was not captured in full`);
    if (!link.markers.some((m) => m.name === st.files))
      return fail(`the marker of ${st.files}'s file was not seen on ${seenOn}`);
  }
  const what = e.fails ? `failed as expected (${exit})` : `exit 0 in ${secs(r.ms)}`;
  return pass(
    `${what}${e.intact && !e.fails ? ', sha256 intact' : ''}${seenOn ? `, marker seen on ${seenOn}` : ''}`,
  );
}

function hasOwnChecks(e: StepExpect): boolean {
  return (
    e.fails !== undefined ||
    e.intact !== undefined ||
    e.output !== undefined ||
    e['marker-seen-on'] !== undefined
  );
}

function checkIntact(st: StepPlan, r: StepReport, input: CheckInput): Verdict {
  const p = input.files.payload(st.files as string);
  if ((st.downloadTo && !p?.download) || (st.uploadAs && !p?.upload))
    return fail(`the run made no payload for ${st.files}`);
  if (st.downloadTo && p?.download) {
    const path = input.files.out(st.host, st.downloadTo);
    if (!existsSync(path)) return fail(`the download ${st.downloadTo} is missing on ${st.host}`);
    const got = sha256File(path);
    if (got !== p.download.sha256)
      return fail(`sha256 of the download is ${short(got)}, expected ${short(p.download.sha256)}`);
  }
  if (st.uploadAs && p?.upload && st.ftpServer) {
    const path = input.files.srv(st.ftpServer, st.uploadAs);
    if (!existsSync(path)) return fail(`the upload ${st.uploadAs} is missing on ${st.ftpServer}`);
    const got = sha256File(path);
    if (got !== p.upload.sha256)
      return fail(
        `sha256 of the upload on ${st.ftpServer} is ${short(got)}, expected ${short(p.upload.sha256)}`,
      );
  }
  if (st.lists && !r.stdout.includes(st.lists))
    return fail(`the listing does not name ${st.lists}: ${firstLine(r.stdout) || 'empty'}`);
  return pass('intact');
}

function checkOutput(stdout: string, o: NonNullable<StepExpect['output']>): Verdict {
  const text = stdout.trim();
  if (o.equals !== undefined && text !== o.equals)
    return fail(`printed ${JSON.stringify(clip(text))}, expected exactly ${JSON.stringify(o.equals)}`);
  for (const c of o.contains ?? [])
    if (!stdout.includes(c)) return fail(`output lacks ${JSON.stringify(c)}: ${JSON.stringify(clip(text))}`);
  for (const c of o.lacks ?? []) if (stdout.includes(c)) return fail(`output contains ${JSON.stringify(c)}`);
  if (o.matches !== undefined && !new RegExp(o.matches, 'm').test(stdout))
    return fail(`output does not match /${o.matches}/: ${JSON.stringify(clip(text))}`);
  const lines = text === '' ? 0 : text.split('\n').length;
  if (o.lines !== undefined && lines !== o.lines) return fail(`printed ${lines} lines, expected ${o.lines}`);
  return pass('output as expected');
}

// ---------------------------------------------------------------- traffic

type Traffic = NonNullable<ExpectationSpec['traffic']>;

function checkTraffic(t: Traffic, onlySsh: boolean, input: CheckInput): Verdict {
  const link = input.links.find((l) => l.id === t.link);
  if (!link || link.capture === 'none') return fail(`${t.link} was not captured`);
  const conns = link.connections;
  const describe = (c: TcpConnection & { kind: TrafficClass }) =>
    `${c.src}:${c.sport} → ${c.dst}:${c.dport} (${c.kind})`;
  const min = t['min-connections'] ?? (onlySsh ? 1 : 0);
  if (conns.length < min) return fail(`${conns.length} connection(s) on ${t.link}, expected at least ${min}`);
  if (t.only) {
    const bad = conns.filter((c) => !t.only?.includes(c.kind));
    if (bad.length)
      return fail(
        `${bad.length} connection(s) other than ${t.only.join('/')} crossed ${t.link}, e.g. ${describe(bad[0] as ConnectionLike)}`,
      );
  }
  for (const k of t.sees ?? [])
    if (!conns.some((c) => c.kind === k)) return fail(`no ${k} connection crossed ${t.link}`);
  if (t.from) {
    const bad = conns.filter((c) => c.src !== t.from);
    if (bad.length)
      return fail(
        `${bad.length} connection(s) on ${t.link} not from ${t.from}, e.g. ${describe(bad[0] as ConnectionLike)}`,
      );
  }
  for (const to of t.to ?? []) {
    const i = to.lastIndexOf(':');
    if (!conns.some((c) => c.dst === to.slice(0, i) && c.dport === Number(to.slice(i + 1))))
      return fail(`no connection to ${to} crossed ${t.link}`);
  }
  if (t['distinct-source-ports'] && new Set(conns.map((c) => c.sport)).size !== conns.length)
    return fail(`two connections on ${t.link} share a source port`);
  const noMarker = t['no-marker'] ?? (onlySsh && link.capture === 'full' ? 'all' : undefined);
  if (noMarker) {
    if (!link.markers) return fail(`${t.link} was not captured in full; markers cannot be looked for`);
    const bad = link.markers.filter((m) => noMarker === 'all' || noMarker.includes(m.name));
    if (bad.length)
      return fail(
        `marker of ${bad.map((m) => `${m.name} (in ${m.kinds.join('/')})`).join(', ')} crossed ${t.link} in clear`,
      );
  }
  for (const m of t['marker-seen'] ?? []) {
    if (!link.markers) return fail(`${t.link} was not captured in full; markers cannot be looked for`);
    if (!link.markers.some((x) => x.name === m)) return fail(`marker ${m} was not seen on ${t.link}`);
  }
  const counts = (Object.entries(link.classes) as [TrafficClass, { connections: number }][])
    .filter(([, v]) => v.connections > 0)
    .map(([k, v]) => `${v.connections} ${k}`);
  const markers = link.markers
    ? link.markers.length
      ? `, markers seen: ${link.markers.map((m) => m.name).join(', ')}`
      : ', no marker'
    : '';
  return pass(`${counts.join(', ') || 'no connection'}${markers}`);
}

type ConnectionLike = TcpConnection & { kind: TrafficClass };

// ---------------------------------------------------------------- the FTP server's view

function checkServerPeers(f: NonNullable<ExpectationSpec['ftp-server-sees']>, input: CheckInput): Verdict {
  const host = input.plan.hosts.find((h) => h.name === f.host) as HostPlan;
  const server = host.programs.find((p) => p.kind === 'ftp-srv' || p.kind === 'vsftpd');
  const conns = input.hostConnections(f.host);
  if (!server?.listen || !server.pasv || !conns) return fail(`no capture of ${f.host}`);
  const own = new Set([
    ...(server.listen.address === '0.0.0.0' ? host.networks.map((n) => n.address) : []),
    server.listen.address,
  ]);
  const mine = (a: string) => own.has(a) || (server.listen?.address === '0.0.0.0' && a.startsWith('127.'));
  const pasv = server.pasv;
  const isData = (port: number) => port >= pasv.min && port <= pasv.max;
  const inbound = conns.filter((c) => mine(c.dst) && (c.dport === server.listen?.port || isData(c.dport)));
  const control = inbound.filter((c) => c.dport === server.listen?.port);
  if (control.length === 0)
    return fail(`no connection reached the FTP server's control port ${server.listen.port} on ${f.host}`);
  const strangers = inbound.filter((c) => c.src !== f.peer);
  if (strangers.length)
    return fail(
      `${strangers.length} connection(s) to the FTP server came from elsewhere than ${f.peer}: ${[...new Set(strangers.map((c) => c.src))].join(', ')}`,
    );
  const data = inbound.filter((c) => isData(c.dport));
  if (f['min-data-connections'] !== undefined && data.length < f['min-data-connections'])
    return fail(`${data.length} passive data connection(s), expected at least ${f['min-data-connections']}`);
  if (
    f['distinct-data-connections'] &&
    new Set(data.map((c) => `${c.sport}>${c.dport}`)).size !== data.length
  )
    return fail('two passive data connections share a port pair');
  let active = 0;
  if (f['active-data']) {
    const inboundSet = new Set(inbound);
    const outbound = conns.filter((c) => !inboundSet.has(c) && mine(c.src));
    const elsewhere = outbound.filter((c) => c.dst !== f.peer);
    if (elsewhere.length)
      return fail(
        `the FTP server's host opened connections to ${[...new Set(elsewhere.map((c) => c.dst))].join(', ')}, not only ${f.peer}`,
      );
    active = outbound.length;
    if (active === 0) return fail(`the FTP server opened no active data connection to ${f.peer}`);
  }
  return pass(
    `${control.length} control and ${data.length} passive data connection(s), all from ${f.peer}${f['active-data'] ? `; ${active} active data connection(s) to it` : ''}`,
  );
}

// ---------------------------------------------------------------- logs

/** The regular expression a log expectation waits for (also used by the runner to wait). */
export function logPattern(l: NonNullable<ExpectationSpec['log']>): RegExp {
  const body = l.program ? `^\\[${escapeRegExp(l.program)}\\].*(?:${l.matches})` : `(?:${l.matches})`;
  return new RegExp(body, l['ignore-case'] ? 'i' : '');
}

function checkLog(l: NonNullable<ExpectationSpec['log']>, input: CheckInput): Verdict {
  const re = logPattern(l);
  const line = (input.logs.get(l.host) ?? '').split('\n').find((x) => re.test(x));
  return line === undefined
    ? fail(
        `no line of ${l.host}'s log${l.program ? ` from ${l.program}` : ''} matches /${l.matches}/ (waited ${secs(l.within ?? 10_000)})`,
      )
    : pass(clip(line));
}

// ---------------------------------------------------------------- helpers

function firstLine(s: string): string {
  return clip(
    s
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)[0] ?? '',
  );
}

function clip(s: string, n = 160): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

function short(hash: string): string {
  return `${hash.slice(0, 12)}…`;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
