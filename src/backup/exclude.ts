/**
 * Exclude patterns with restic's meaning: a pattern is matched against the whole path, component by
 * component; `*`, `?` and `[…]` work within a component, `**` spans any number of components. A pattern
 * that does not start with `/` may match at any depth (as if it started with `**​/`). A matching directory
 * excludes everything below it. Lines of an exclude file: blank lines and `#` comments are ignored.
 */
import fs from 'node:fs'

import {UsageError} from '../errors.js'

type Part = {any: true} | {re: RegExp}

export class ExcludeMatcher {
  private readonly patterns: Part[][]
  constructor(readonly sources: string[]) {
    this.patterns = sources.map((p) => compile(p))
  }

  get empty(): boolean {
    return this.patterns.length === 0
  }

  /** Whether an absolute path (components, raw bytes decoded as latin1-safe strings) is excluded. */
  matches(absPath: string): boolean {
    if (this.patterns.length === 0) return false
    const comps = absPath.split('/').filter(Boolean)
    return this.patterns.some((p) => matchParts(p, 0, comps, 0))
  }
}

function compile(pattern: string): Part[] {
  let p = pattern.trim()
  if (p === '') throw new UsageError('empty exclude pattern')
  const absolute = p.startsWith('/')
  p = p.replace(/\/+$/, '')
  const parts: Part[] = p
    .split('/')
    .filter(Boolean)
    .map((c) => (c === '**' ? {any: true as const} : {re: globToRegExp(c)}))
  return absolute ? parts : [{any: true}, ...parts]
}

function globToRegExp(glob: string): RegExp {
  let re = '^'
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2)
      if (close === -1) re += '\\['
      else {
        let cls = glob.slice(i + 1, close)
        if (cls.startsWith('!') || cls.startsWith('^')) cls = '^' + cls.slice(1)
        re += `[${cls.replaceAll('\\', '\\\\')}]`
        i = close
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      re += escapeRe(glob[++i])
    } else re += escapeRe(c)
  }
  return new RegExp(re + '$', 's')
}

function escapeRe(c: string): string {
  return /[.*+?^${}()|[\]\\]/.test(c) ? '\\' + c : c
}

function matchParts(p: Part[], pi: number, comps: string[], ci: number): boolean {
  if (pi === p.length) return ci === comps.length
  const part = p[pi]
  if ('any' in part) {
    for (let k = ci; k <= comps.length; k++) if (matchParts(p, pi + 1, comps, k)) return true
    return false
  }
  if (ci >= comps.length) return false
  return part.re.test(comps[ci]) && matchParts(p, pi + 1, comps, ci + 1)
}

/** Reads patterns from exclude files (one per line; `#` comments). */
export function readExcludeFiles(files: string[]): string[] {
  const out: string[] = []
  for (const f of files) {
    let text: string
    try {
      text = fs.readFileSync(f, 'utf8')
    } catch (error) {
      throw new UsageError(`cannot read exclude file ${f}: ${(error as NodeJS.ErrnoException).code ?? error}`, {where: f})
    }
    for (const line of text.split(/\r?\n/)) {
      const t = line.trim()
      if (t && !t.startsWith('#')) out.push(t)
    }
  }
  return out
}
