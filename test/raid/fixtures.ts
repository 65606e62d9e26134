import fs from 'node:fs'
import path from 'node:path'

import {ROOT} from '../helpers/env.js'

export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'raid')

/** One captured md output by its number prefix ("22" → 22-mdstat-failed.txt). */
export function md(prefix: string): string {
  const dir = path.join(FIXTURES, 'md')
  const f = fs.readdirSync(dir).find((n) => n.startsWith(`${prefix}-`))
  if (!f) throw new Error(`no md fixture ${prefix}-*`)
  return fs.readFileSync(path.join(dir, f), 'utf8')
}

/**
 * The output of the n-th (0-based) command in a captured btrfs lab log whose "$ " line starts with
 * `command`, up to its "[rc=N]" line.
 */
export function btrfsBlock(log: string, command: string, n = 0): string {
  const lines = fs.readFileSync(path.join(FIXTURES, 'btrfs', log), 'utf8').split('\n')
  let seen = 0
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith(`$ ${command}`)) continue
    if (seen++ < n) continue
    const out: string[] = []
    for (let j = i + 1; j < lines.length && !/^\[(replace )?rc=\d+\]$/.test(lines[j]); j++) out.push(lines[j])
    return out.join('\n')
  }
  throw new Error(`no "${command}" #${n} in ${log}`)
}
