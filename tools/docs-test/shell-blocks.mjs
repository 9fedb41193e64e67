// Pulls the shell commands out of Markdown: every ```sh (or bash/shell) block, split into simple
// commands with their words, as a POSIX shell would see them (enough of it for documentation:
// quotes, backslash-newline, comments, && || ; | &, and heredocs).
import { readFileSync } from 'node:fs';

/** @returns {{ file: string, line: number, text: string }[]} */
export function shBlocks(file, text = readFileSync(file, 'utf8')) {
  return fencedBlocks(text, /^(\s*)```(sh|bash|shell|console)\s*$/).map((b) => ({ file, ...b }));
}

/** ```yaml blocks. */
export function yamlBlocks(file, text = readFileSync(file, 'utf8')) {
  return fencedBlocks(text, /^(\s*)```(yaml|yml)\s*$/).map((b) => ({ file, ...b }));
}

function fencedBlocks(text, opening) {
  const blocks = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = opening.exec(lines[i]);
    if (!open) continue;
    const body = [];
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j])) body.push(lines[j++].slice(open[1].length));
    blocks.push({ line: i + 1, text: body.join('\n') });
    i = j;
  }
  return blocks;
}

/**
 * @typedef {{ words: string[], text: string, line: number, heredoc?: string, redirect?: string }} SimpleCommand
 * `line` is relative to the block (1 = its first line). `heredoc` is the body of a `<<EOF` on it;
 * `redirect` the target of a `>` on it. Words keep `$VAR`, `$(…)` and `~` unexpanded.
 */
/** @returns {SimpleCommand[]} */
export function simpleCommands(block) {
  const src = block.replace(/\\\n/g, ' ');
  const out = [];
  let words = [];
  let word = null;
  let start = 0;
  let lineNo = 1;
  let cmdLine = 1;
  let pendingHeredoc = null;
  let redirect = null;
  let heredoc;
  const endWord = () => {
    if (word !== null) {
      if (redirect === '>') redirect = word;
      else words.push(word);
    }
    word = null;
  };
  const endCommand = (i) => {
    endWord();
    if (words.length) {
      const cmd = { words, text: src.slice(start, i).trim(), line: cmdLine };
      if (heredoc !== undefined) cmd.heredoc = heredoc;
      if (typeof redirect === 'string' && redirect !== '>') cmd.redirect = redirect;
      out.push(cmd);
    }
    words = [];
    heredoc = undefined;
    redirect = null;
    start = i + 1;
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (words.length === 0 && word === null && /\s/.test(c)) {
      if (c === '\n') lineNo++;
      start = i + 1;
      cmdLine = lineNo;
      continue;
    }
    if (c === '\n') {
      endCommand(i);
      lineNo++;
      if (pendingHeredoc) {
        // the heredoc body: up to a line that is exactly the delimiter
        const rest = src.slice(i + 1).split('\n');
        const end = rest.indexOf(pendingHeredoc.delim);
        const body = rest.slice(0, end < 0 ? rest.length : end);
        out[out.length - 1].heredoc = body.length ? `${body.join('\n')}\n` : '';
        i += body.reduce((n, l) => n + l.length + 1, 0) + pendingHeredoc.delim.length + 1;
        lineNo += body.length + 1;
        pendingHeredoc = null;
        start = i + 1;
      }
      cmdLine = lineNo;
      continue;
    }
    if (c === '#' && word === null) {
      while (i + 1 < src.length && src[i + 1] !== '\n') i++;
      continue;
    }
    if (/[ \t]/.test(c)) {
      endWord();
      continue;
    }
    if (c === ';' || c === '&' || c === '|') {
      endCommand(i);
      if ((c === '&' || c === '|') && src[i + 1] === c) start = ++i + 1;
      continue;
    }
    if (c === '<' && src[i + 1] === '<') {
      endWord();
      const m = /^<<-?\s*(['"]?)(\w+)\1/.exec(src.slice(i));
      if (m) {
        pendingHeredoc = { delim: m[2] };
        i += m[0].length - 1;
        continue;
      }
    }
    if (c === '>' && word === null) {
      redirect = '>';
      if (src[i + 1] === '>') i++;
      continue;
    }
    word ??= '';
    if (c === "'") {
      const end = src.indexOf("'", i + 1);
      word += src.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\' && j + 1 < src.length) j++;
        word += src[j++];
      }
      i = j;
    } else if (c === '$' && src[i + 1] === '(') {
      let depth = 0;
      let j = i;
      for (; j < src.length; j++) {
        if (src[j] === '(') depth++;
        else if (src[j] === ')' && --depth === 0) break;
      }
      word += src.slice(i, j + 1);
      i = j;
    } else if (c === '\\' && i + 1 < src.length) {
      word += src[++i];
    } else {
      word += c;
    }
  }
  endCommand(src.length);
  return out;
}

/** The program a command runs, past `VAR=value`, `sudo [-u USER]` and `npx`: `[name, argsIndex]`. */
export function programOf(words) {
  let i = 0;
  while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i])) i++;
  if (words[i] === 'sudo') {
    i++;
    while (i < words.length && words[i].startsWith('-')) i += words[i] === '-u' ? 2 : 1;
    while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i])) i++;
  }
  if (words[i] === 'npx') i++;
  if (i >= words.length) return ['', i];
  return [words[i].split('/').pop(), i + 1];
}
