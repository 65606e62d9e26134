/**
 * S3 benchmark: restic 0.14 (the anchor) and Lifeboat back up the same data to the same S3 server on
 * loopback (s3rver over TLS, since restic's uploads to s3rver only work over HTTPS), in the same run, one
 * after the other; each into its own bucket.
 *
 *   npx tsx bench/s3.ts [--data DIR] [--work DIR] [--warm]
 *
 * Steps: first backup, no-change backup, restore. Prints wall time and peak RSS of each tool and the
 * ratio lifeboat / restic (lower is better), and writes bench/out/s3.json. Goal (issue 5): first backup ≤ 0.6×.
 * Needs: restic, openssl, GNU time (/usr/bin/time), a built Lifeboat (npm run build).
 */
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {makeCert, S3RVER_ENV, startS3rver} from '../test/helpers/s3.js'
import {type Measure, option, timed} from './lib.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const data = option(args, '--data', path.join(os.tmpdir(), 'lb-bench-data'))
const work = option(args, '--work', path.join(os.tmpdir(), 'lb-bench-s3'))
const password = 'bench-password'

if (!fs.existsSync(path.join(data, '.complete'))) {
  execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'bench', 'make-data.ts'), data], {stdio: 'inherit'})
}
fs.rmSync(work, {recursive: true, force: true})
fs.mkdirSync(work, {recursive: true})
const cert = makeCert(work)
const server = await startS3rver(path.join(work, 's3'), cert)
try {
  const url = `https://127.0.0.1:${server.port}`
  const resticEnv = {...S3RVER_ENV, RESTIC_PASSWORD: password, RESTIC_REPOSITORY: `s3:${url}/restic/repo`, RESTIC_CACHE_DIR: path.join(work, 'restic-cache')}
  const lbEnv = {...S3RVER_ENV, LIFEBOAT_PASSWORD: password, LIFEBOAT_REPOSITORY: `s3:${url}/lifeboat/repo`, RESTIC_PASSWORD: '', RESTIC_REPOSITORY: '', NODE_EXTRA_CA_CERTS: cert.cert}
  const lb = path.join(root, 'bin', 'run.js')
  execFileSync('restic', ['--cacert', cert.cert, 'init', '-q'], {env: {...process.env, ...resticEnv}})
  execFileSync(lb, ['backup', 'init'], {env: {...process.env, ...lbEnv}, stdio: 'ignore'})

  const results: Record<string, {restic: Measure; lifeboat: Measure}> = {}
  results['first backup'] = {
    restic: timed(['restic', '--cacert', cert.cert, 'backup', '-q', data], resticEnv),
    lifeboat: timed([lb, 'backup', 'run', data], lbEnv),
  }
  results['no-change backup'] = {
    restic: timed(['restic', '--cacert', cert.cert, 'backup', '-q', data], resticEnv),
    lifeboat: timed([lb, 'backup', 'run', data], lbEnv),
  }
  results.restore = {
    restic: timed(['restic', '--cacert', cert.cert, 'restore', 'latest', '-q', '--target', path.join(work, 'restic-restore')], resticEnv),
    lifeboat: timed([lb, 'backup', 'restore', 'latest', '--target', path.join(work, 'lifeboat-restore')], lbEnv),
  }
  const summary = Object.entries(results).map(([step, r]) => ({
    step,
    resticSeconds: r.restic.seconds,
    lifeboatSeconds: r.lifeboat.seconds,
    timeRatio: r.lifeboat.seconds / r.restic.seconds,
    resticRssMiB: r.restic.rssMiB,
    lifeboatRssMiB: r.lifeboat.rssMiB,
  }))
  console.log(`data: ${fs.readFileSync(path.join(data, '.complete'), 'utf8').trim()}; ${os.cpus().length} CPUs; s3rver over TLS on loopback`)
  console.log('step                 restic s  lifeboat s  ratio   restic RSS  lifeboat RSS')
  for (const s of summary) {
    console.log(
      `${s.step.padEnd(20)} ${s.resticSeconds.toFixed(2).padStart(8)}  ${s.lifeboatSeconds.toFixed(2).padStart(10)}  ${s.timeRatio.toFixed(2).padStart(5)}  ${s.resticRssMiB.toFixed(0).padStart(7)} MiB  ${s.lifeboatRssMiB.toFixed(0).padStart(8)} MiB`,
    )
  }
  fs.mkdirSync(path.join(root, 'bench', 'out'), {recursive: true})
  fs.writeFileSync(path.join(root, 'bench', 'out', 's3.json'), JSON.stringify({summary, results}, null, 2))
} finally {
  await server.stop()
}
