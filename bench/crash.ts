/**
 * Crash-safety trials: SIGKILL `lifeboat backup run` (and `backup prune`, when --prune is given) at random
 * moments, many times, on larger data than the CI test; after every kill `restic check` must pass and the
 * next run must complete. Prints the counts.
 *
 *   npx tsx bench/crash.ts [--trials N] [--data DIR] [--work DIR] [--prune]
 */
import {execFileSync, spawn} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const opt = (name: string, def: string) => {
  const i = args.indexOf(name)
  return i === -1 ? def : args[i + 1]
}
const trials = Number(opt('--trials', '50'))
const work = opt('--work', path.join(os.tmpdir(), 'lb-crash-work'))
const withPrune = args.includes('--prune')
const src = path.join(work, 'src')
const repo = path.join(work, 'repo')
const env = {...process.env, LIFEBOAT_PASSWORD: 'crash', LIFEBOAT_REPOSITORY: repo, RESTIC_PASSWORD: 'crash', RESTIC_REPOSITORY: repo, RESTIC_CACHE_DIR: path.join(work, 'rc')}
const cli = path.join(root, 'bin', 'run.js')

fs.rmSync(work, {recursive: true, force: true})
fs.mkdirSync(path.join(src, 'text'), {recursive: true})
for (let i = 0; i < 2000; i++) fs.writeFileSync(path.join(src, 'text', `f${i}.txt`), `record ${i}\n`.repeat(20 + (i % 500)))
for (let i = 0; i < 8; i++) fs.writeFileSync(path.join(src, `blob${i}.bin`), crypto.randomBytes(24 << 20))
execFileSync(cli, ['backup', 'init'], {env, stdio: 'ignore'})

function runKilled(argv: string[], delayMs: number): Promise<'killed' | 'finished'> {
  return new Promise((resolve) => {
    const child = spawn(cli, argv, {env, stdio: 'ignore'})
    let finished = false
    const t = setTimeout(() => {
      if (!finished) child.kill('SIGKILL')
    }, delayMs)
    child.on('close', (_code, signal) => {
      finished = true
      clearTimeout(t)
      resolve(signal === 'SIGKILL' ? 'killed' : 'finished')
    })
  })
}

const counts = {backupKills: 0, backupFinished: 0, pruneKills: 0, pruneFinished: 0, checksPassed: 0, checksFailed: 0}
// Kill moments are drawn over how long an uninterrupted run of the same kind took last time.
const lastDuration = {backup: 3000, prune: 1500}
async function trial(kind: 'backup' | 'prune', argv: string[]): Promise<'killed' | 'finished'> {
  const started = Date.now()
  const r = await runKilled(argv, Math.floor(Math.random() * lastDuration[kind] * 1.1))
  if (r === 'finished') lastDuration[kind] = Date.now() - started
  return r
}
for (let t = 0; t < trials; t++) {
  // Change some data each trial.
  fs.writeFileSync(path.join(src, `trial${t % 6}.bin`), crypto.randomBytes(16 << 20))
  const pruneNow = withPrune && t % 3 === 2
  if (pruneNow) {
    execFileSync(cli, ['backup', 'forget', '--keep-last', '2'], {env, stdio: 'ignore'})
    const r = await trial('prune', ['backup', 'prune'])
    if (r === 'killed') counts.pruneKills++
    else counts.pruneFinished++
  } else {
    const r = await trial('backup', ['backup', 'run', src])
    if (r === 'killed') counts.backupKills++
    else counts.backupFinished++
  }
  try {
    execFileSync('restic', ['unlock'], {env, stdio: 'ignore'})
    execFileSync('restic', ['check'], {env, stdio: 'ignore'})
    counts.checksPassed++
  } catch {
    counts.checksFailed++
    console.error(`trial ${t}: restic check FAILED`)
  }
}
execFileSync(cli, ['backup', 'run', src], {env, stdio: 'ignore'})
execFileSync('restic', ['check', '--read-data'], {env, stdio: 'ignore'})
console.log(JSON.stringify({trials, ...counts, finalRunAndReadDataCheck: 'passed'}))
