import {expect} from 'chai'
import {execFile} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

import {envelope, lifeboat} from '../helpers/cli.js'
import {compareTrees} from '../helpers/fs-compare.js'

const run = promisify(execFile)

describe('concurrent writers @integration', function () {
  this.timeout(300_000)
  let dir: string
  afterEach(() => fs.rmSync(dir, {recursive: true, force: true}))

  it('four backups at once into one repository all succeed, and every snapshot restores', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-conc-'))
    const repo = path.join(dir, 'repo')
    const env = {LIFEBOAT_PASSWORD: 'pw', XDG_CONFIG_HOME: path.join(dir, 'c'), XDG_DATA_HOME: path.join(dir, 'd')}
    await lifeboat(['backup', 'init', '--repo', repo], env)
    const shared = crypto.randomBytes(8 << 20) // the same file in every source: deduplicated across writers
    const sources = [0, 1, 2, 3].map((i) => {
      const src = path.join(dir, `host${i}`)
      fs.mkdirSync(path.join(src, 'docs'), {recursive: true})
      fs.writeFileSync(path.join(src, 'shared.bin'), shared)
      fs.writeFileSync(path.join(src, 'own.bin'), crypto.randomBytes(12 << 20))
      for (let k = 0; k < 200; k++) fs.writeFileSync(path.join(src, 'docs', `n${k}.txt`), `host ${i} note ${k}\n`.repeat(k + 1))
      return src
    })
    const results = await Promise.all(sources.map((src, i) => lifeboat(['backup', 'run', '--repo', repo, src, '--host', `host${i}`, '--json'], env)))
    for (const r of results) expect(r.code, r.stderr).to.equal(0)
    const ids = results.map((r) => envelope(r.stdout).result.snapshot_id)
    const snaps = envelope((await lifeboat(['backup', 'snapshots', '--repo', repo, '--json'], env)).stdout).result.snapshots
    expect(snaps.map((s: any) => s.id).sort()).to.deep.equal([...ids].sort())
    expect(fs.readdirSync(path.join(repo, 'locks'))).to.deep.equal([])
    const rEnv = {...process.env, RESTIC_PASSWORD: 'pw', RESTIC_CACHE_DIR: path.join(dir, 'rc')}
    await run('restic', ['-r', repo, 'check', '--read-data'], {env: rEnv})
    for (const [i, src] of sources.entries()) {
      const target = path.join(dir, `restore${i}`)
      const r = await lifeboat(['backup', 'restore', ids[i], '--repo', repo, '--target', target], env)
      expect(r.code, r.stderr).to.equal(0)
      expect(compareTrees(src, path.join(target, src))).to.deep.equal([])
    }
  })
})
