/**
 * Backup engine benchmark: restic 0.14 (the anchor) and Lifeboat on the same data, in the same run, one
 * after the other, page cache dropped before each timed step when possible (root).
 *
 *   npx tsx bench/backup.ts [--data DIR] [--work DIR] [--rounds N] [--warm]
 *
 * Steps: first backup, no-change backup, restore, check --read-data. Prints wall time and peak RSS of each
 * tool and the ratio lifeboat / restic (lower is better), as a table and as JSON (bench/out/backup.json).
 * Needs: restic, GNU time (/usr/bin/time), a built Lifeboat (npm run build).
 */
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {type Measure, option, timed} from './lib.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const opt = (name: string, def: string) => option(args, name, def)
const data = opt('--data', path.join(os.tmpdir(), 'lb-bench-data'))
const work = opt('--work', path.join(os.tmpdir(), 'lb-bench-work'))
const rounds = Number(opt('--rounds', '1'))
const password = 'bench-password'

if (!fs.existsSync(path.join(data, '.complete'))) {
  execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'bench', 'make-data.ts'), data], {stdio: 'inherit'})
}
fs.rmSync(work, {recursive: true, force: true})
fs.mkdirSync(work, {recursive: true})
const resticRepo = path.join(work, 'restic-repo')
const lbRepo = path.join(work, 'lifeboat-repo')
const resticEnv = {RESTIC_PASSWORD: password, RESTIC_REPOSITORY: resticRepo, RESTIC_CACHE_DIR: path.join(work, 'restic-cache')}
const lbEnv = {LIFEBOAT_PASSWORD: password, LIFEBOAT_REPOSITORY: lbRepo, RESTIC_PASSWORD: '', RESTIC_REPOSITORY: ''}
// bin/run.js is run as users run it (its shebang carries the V8 flags).
const lb = [path.join(root, 'bin', 'run.js')]

execFileSync('restic', ['init', '-q'], {env: {...process.env, ...resticEnv}})
execFileSync(lb[0], ['backup', 'init'], {env: {...process.env, ...lbEnv}, stdio: 'ignore'})

type Step = 'first backup' | 'no-change backup' | 'restore' | 'check --read-data'
const results: Record<Step, {restic: Measure[]; lifeboat: Measure[]}> = {
  'first backup': {restic: [], lifeboat: []},
  'no-change backup': {restic: [], lifeboat: []},
  restore: {restic: [], lifeboat: []},
  'check --read-data': {restic: [], lifeboat: []},
}

for (let round = 0; round < rounds; round++) {
  if (round > 0) {
    for (const r of [resticRepo, lbRepo]) fs.rmSync(r, {recursive: true, force: true})
    execFileSync('restic', ['init', '-q'], {env: {...process.env, ...resticEnv}})
    execFileSync(lb[0], ['backup', 'init'], {env: {...process.env, ...lbEnv}, stdio: 'ignore'})
  }
  results['first backup'].restic.push(timed(['restic', 'backup', '-q', data], resticEnv))
  results['first backup'].lifeboat.push(timed([...lb, 'backup', 'run', data], lbEnv))
  results['no-change backup'].restic.push(timed(['restic', 'backup', '-q', data], resticEnv))
  results['no-change backup'].lifeboat.push(timed([...lb, 'backup', 'run', data], lbEnv))
  for (const t of ['restic-restore', 'lifeboat-restore']) fs.rmSync(path.join(work, t), {recursive: true, force: true})
  results.restore.restic.push(timed(['restic', 'restore', 'latest', '-q', '--target', path.join(work, 'restic-restore')], resticEnv))
  results.restore.lifeboat.push(timed([...lb, 'backup', 'restore', 'latest', '--target', path.join(work, 'lifeboat-restore')], lbEnv))
  results['check --read-data'].restic.push(timed(['restic', 'check', '-q', '--read-data'], resticEnv))
  results['check --read-data'].lifeboat.push(timed([...lb, 'backup', 'check', '--read-data'], lbEnv))
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const repoSize = (d: string) => Number(execFileSync('du', ['-sb', d], {encoding: 'utf8'}).split('\t')[0])
const summary = Object.entries(results).map(([step, r]) => {
  const rs = median(r.restic.map((m) => m.seconds))
  const ls = median(r.lifeboat.map((m) => m.seconds))
  const rr = Math.max(...r.restic.map((m) => m.rssMiB))
  const lr = Math.max(...r.lifeboat.map((m) => m.rssMiB))
  return {step, resticSeconds: rs, lifeboatSeconds: ls, timeRatio: ls / rs, resticRssMiB: rr, lifeboatRssMiB: lr, rssRatio: lr / rr}
})
const info = {
  data,
  files: fs.readFileSync(path.join(data, '.complete'), 'utf8').trim(),
  cpus: os.cpus().length,
  rounds,
  resticRepoBytes: repoSize(resticRepo),
  lifeboatRepoBytes: repoSize(lbRepo),
}
console.log(`data: ${info.files}; ${info.cpus} CPUs; ${rounds} round(s); ${process.argv.includes('--warm') ? 'warm' : 'cold (dropped)'} page cache; repository size restic ${(info.resticRepoBytes / 2 ** 20).toFixed(0)} MiB, lifeboat ${(info.lifeboatRepoBytes / 2 ** 20).toFixed(0)} MiB`)
console.log('step                 restic s  lifeboat s  ratio   restic RSS  lifeboat RSS  ratio')
for (const s of summary) {
  console.log(
    `${s.step.padEnd(20)} ${s.resticSeconds.toFixed(2).padStart(8)}  ${s.lifeboatSeconds.toFixed(2).padStart(10)}  ${s.timeRatio.toFixed(2).padStart(5)}  ${s.resticRssMiB.toFixed(0).padStart(7)} MiB  ${s.lifeboatRssMiB.toFixed(0).padStart(8)} MiB  ${s.rssRatio.toFixed(2).padStart(5)}`,
  )
}
fs.mkdirSync(path.join(root, 'bench', 'out'), {recursive: true})
fs.writeFileSync(path.join(root, 'bench', 'out', process.argv.includes('--warm') ? 'backup-warm.json' : 'backup.json'), JSON.stringify({info, summary, results}, null, 2))
