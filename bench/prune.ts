/**
 * Prune benchmark: restic 0.14 (the anchor) and Lifeboat on copies of the same repository, in the same run.
 *
 *   npx tsx bench/prune.ts [--data DIR] [--work DIR]
 *
 * restic makes a repository with four snapshots of overlapping parts of the data (the first of all of it, so
 * its packs mix files of every part), forgets the first and the third, and the repository is copied; then
 * `restic prune` runs on one copy and `lifeboat backup prune` on the other (default --max-unused 5 %).
 * Both copies must pass `restic check` afterwards. Prints wall time and peak RSS of each tool and the ratio
 * lifeboat / restic (lower is better), as a table and as JSON (bench/out/prune.json).
 * Needs: restic, GNU time (/usr/bin/time), a built Lifeboat (npm run build).
 */
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {option, timed} from './lib.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const opt = (name: string, def: string) => option(args, name, def)
const data = opt('--data', path.join(os.tmpdir(), 'lb-bench-data'))
const work = opt('--work', path.join(os.tmpdir(), 'lb-bench-prune'))
const password = 'bench-password'

if (!fs.existsSync(path.join(data, '.complete'))) {
  execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'bench', 'make-data.ts'), data], {stdio: 'inherit'})
}
fs.rmSync(work, {recursive: true, force: true})
fs.mkdirSync(work, {recursive: true})
const base = path.join(work, 'base-repo')
const resticRepo = path.join(work, 'restic-repo')
const lbRepo = path.join(work, 'lifeboat-repo')
const cache = path.join(work, 'restic-cache')
const env = (repo: string) => ({RESTIC_PASSWORD: password, RESTIC_REPOSITORY: repo, RESTIC_CACHE_DIR: cache, LIFEBOAT_PASSWORD: password, LIFEBOAT_REPOSITORY: repo})
const restic = (repo: string, ...a: string[]) => execFileSync('restic', a, {env: {...process.env, ...env(repo)}, encoding: 'utf8', maxBuffer: 64 << 20})

const parts = fs.readdirSync(data).filter((d) => fs.statSync(path.join(data, d)).isDirectory()).sort()
const p = (...names: string[]) => names.filter(Boolean).map((n) => path.join(data, n))
restic(base, 'init', '-q')
// 1: everything (packs mix all parts); 2..4: overlapping subsets.
const sets = [[data], p(parts[0], parts[1]), p(parts[2]), p(parts[3] ?? parts[0], parts[1])]
for (const s of sets) restic(base, 'backup', '-q', ...s)
const snaps = (JSON.parse(restic(base, 'snapshots', '--json')) as Array<{id: string; time: string}>).sort((a, b) => (a.time < b.time ? -1 : 1))
restic(base, 'forget', '-q', snaps[0].id, snaps[2].id)
for (const r of [resticRepo, lbRepo]) fs.cpSync(base, r, {recursive: true})
const repoSize = (d: string) => Number(execFileSync('du', ['-sb', d], {encoding: 'utf8'}).split('\t')[0])
const before = repoSize(base)

const resticM = timed(['restic', 'prune'], env(resticRepo))
const lbM = timed([path.join(root, 'bin', 'run.js'), 'backup', 'prune'], env(lbRepo))
for (const r of [resticRepo, lbRepo]) restic(r, 'check', '-q')

const info = {
  data,
  files: fs.readFileSync(path.join(data, '.complete'), 'utf8').trim(),
  cpus: os.cpus().length,
  snapshots: `${sets.length} made, 2 forgotten`,
  repoBytesBefore: before,
  resticRepoBytesAfter: repoSize(resticRepo),
  lifeboatRepoBytesAfter: repoSize(lbRepo),
}
const summary = {
  resticSeconds: resticM.seconds,
  lifeboatSeconds: lbM.seconds,
  timeRatio: lbM.seconds / resticM.seconds,
  resticRssMiB: resticM.rssMiB,
  lifeboatRssMiB: lbM.rssMiB,
  rssRatio: lbM.rssMiB / resticM.rssMiB,
}
const mib = (n: number) => (n / 2 ** 20).toFixed(0)
console.log(`data: ${info.files}; ${info.cpus} CPUs; ${info.snapshots}; repository ${mib(before)} MiB → restic ${mib(info.resticRepoBytesAfter)} MiB, lifeboat ${mib(info.lifeboatRepoBytesAfter)} MiB`)
console.log('step     restic s  lifeboat s  ratio   restic RSS  lifeboat RSS  ratio')
console.log(
  `prune    ${summary.resticSeconds.toFixed(2).padStart(8)}  ${summary.lifeboatSeconds.toFixed(2).padStart(10)}  ${summary.timeRatio.toFixed(2).padStart(5)}  ${summary.resticRssMiB.toFixed(0).padStart(7)} MiB  ${summary.lifeboatRssMiB.toFixed(0).padStart(8)} MiB  ${summary.rssRatio.toFixed(2).padStart(5)}`,
)
fs.mkdirSync(path.join(root, 'bench', 'out'), {recursive: true})
fs.writeFileSync(path.join(root, 'bench', 'out', 'prune.json'), JSON.stringify({info, summary}, null, 2))
