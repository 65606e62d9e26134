import {expect} from 'chai'
import {createHash, randomBytes} from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'

import {LocalBackend} from '../../src/backup/backend/local.js'
import {NotFoundError, RepositoryExistsError} from '../../src/backup/errors.js'
import {removeTree, tempDir} from './repo-helpers.js'

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe('backup/backend/local', () => {
  let dir: string
  let be: LocalBackend
  beforeEach(async () => {
    dir = await tempDir()
    be = new LocalBackend(path.join(dir, 'repo'))
    await be.create()
  })
  afterEach(() => removeTree(dir))

  it('creates restic\'s layout with private folders', async () => {
    for (const d of ['keys', 'index', 'snapshots', 'locks', 'data', 'data/00', 'data/7f', 'data/ff']) {
      const st = await fs.stat(path.join(dir, 'repo', d))
      expect(st.isDirectory(), d).to.equal(true)
      expect(st.mode & 0o777, d).to.equal(0o700)
    }
    expect((await fs.readdir(path.join(dir, 'repo', 'data'))).length).to.equal(256)
  })

  it('saves files read-only at the right place, loads whole and ranged, lists, removes', async () => {
    const data = randomBytes(10_000)
    const id = sha(data)
    await be.save({type: 'pack', name: id}, data)
    const file = path.join(dir, 'repo', 'data', id.slice(0, 2), id)
    expect((await fs.stat(file)).mode & 0o777).to.equal(0o400)
    expect((await be.load({type: 'pack', name: id})).equals(data)).to.equal(true)
    expect((await be.load({type: 'pack', name: id}, 100, 50)).equals(data.subarray(100, 150))).to.equal(true)
    expect((await be.stat({type: 'pack', name: id})).size).to.equal(10_000)
    const snap = randomBytes(100)
    await be.save({type: 'snapshot', name: sha(snap)}, snap)
    expect(await be.list('pack')).to.deep.equal([{name: id, size: 10_000}])
    expect(await be.list('snapshot')).to.deep.equal([{name: sha(snap), size: 100}])
    expect(await be.list('index')).to.deep.equal([])
    // no temp files left behind
    expect(await fs.readdir(path.dirname(file))).to.deep.equal([id])
    await be.remove({type: 'pack', name: id})
    expect(await be.exists({type: 'pack', name: id})).to.equal(false)
  })

  it('raises NotFoundError for missing files and refuses a short ranged read', async () => {
    const missing = sha(Buffer.from('nope'))
    for (const fn of [() => be.load({type: 'index', name: missing}), () => be.stat({type: 'index', name: missing}), () => be.remove({type: 'index', name: missing})]) {
      let err: unknown
      await fn().catch((error) => (err = error))
      expect(err).to.be.instanceOf(NotFoundError)
    }
    const data = Buffer.from('short')
    await be.save({type: 'index', name: sha(data)}, data)
    let err: unknown
    await be.load({type: 'index', name: sha(data)}, 2, 10).catch((error) => (err = error))
    expect(err).to.be.instanceOf(Error)
  })

  it('refuses to create over an existing repository', async () => {
    await be.save({type: 'config', name: 'config'}, Buffer.from('x'))
    let err: unknown
    await be.create().catch((error) => (err = error))
    expect(err).to.be.instanceOf(RepositoryExistsError)
  })
})
