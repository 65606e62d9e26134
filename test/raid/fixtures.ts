import fs from 'node:fs'
import path from 'node:path'

import type {ArrayStatus} from '../../src/raid/engine.js'
import {parseDetail} from '../../src/raid/md/detail.js'
import {parseMdstat} from '../../src/raid/md/mdstat.js'
import {buildMdStatus} from '../../src/raid/md/status.js'
import type {MdSysfs} from '../../src/raid/md/sysfs.js'
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

/** An md ArrayStatus from captured files: mdstat number, detail number, optional sysfs values. */
export function mdFrom(mdstat: string, detail?: string, sysfs?: MdSysfs, arrayIndex = 0): ArrayStatus {
  return buildMdStatus({mdstat: parseMdstat(md(mdstat)).arrays[arrayIndex], detail: detail ? parseDetail(md(detail)) : undefined, sysfs})
}
