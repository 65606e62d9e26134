import {createHash, randomBytes} from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

import {expect} from 'chai'

import {parseS3Location, S3Backend} from '../../src/backup/backend/s3.js'
import {envelope, lifeboat} from '../helpers/cli.js'
import {compareTrees} from '../helpers/fs-compare.js'
import {type FaultProxy, makeCert, S3RVER_ENV, type S3Server, startFaultProxy, startS3rver} from '../helpers/s3.js'
import {makeVariedTree} from './fixtures/varied-tree.js'
import {hasRestic, removeTree, restic, tempDir, writePasswordFile} from './repo-helpers.js'

describe('S3 repository locations', () => {
  it('parses restic-style and AWS-style locations', () => {
    expect(parseS3Location('s3:https://127.0.0.1:9000/bucket/a/b')).to.deep.equal({bucket: 'bucket', prefix: 'a/b', endpoint: 'https://127.0.0.1:9000'})
    expect(parseS3Location('s3:minio.lan/bucket')).to.deep.equal({bucket: 'bucket', prefix: '', endpoint: 'https://minio.lan'})
    expect(parseS3Location('s3:http://nas:9000/bkt/')).to.deep.equal({bucket: 'bkt', prefix: '', endpoint: 'http://nas:9000'})
    expect(parseS3Location('s3://my-bucket/site/repo')).to.deep.equal({bucket: 'my-bucket', prefix: 'site/repo', endpoint: undefined})
    expect(parseS3Location('s3:https://s3.amazonaws.com/my-bucket/x').endpoint).to.equal(undefined)
  })

  it('rejects a location without a bucket or with an invalid bucket name, naming it', () => {
    expect(() => parseS3Location('s3://')).to.throw(/no bucket name/)
    expect(() => parseS3Location('s3:https://host/')).to.throw(/no bucket name/)
    expect(() => parseS3Location('s3://Bad_Bucket/x')).to.throw(/"Bad_Bucket" is not a valid bucket name/)
  })
})

describe('S3 repositories against s3rver over real HTTP @integration', function () {
  this.timeout(300_000)
  let dir: string
  let tlsServer: S3Server
  let plainServer: S3Server
  let cert: {cert: string; key: string}
  let pwFile: string
  let src: string
  let proxyCold: FaultProxy | undefined
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    ...S3RVER_ENV,
    LIFEBOAT_PASSWORD: '',
    LIFEBOAT_REPOSITORY: '',
    RESTIC_REPOSITORY: '',
    RESTIC_PASSWORD: '',
    XDG_CONFIG_HOME: path.join(dir, 'xdg-config'),
    XDG_DATA_HOME: path.join(dir, 'xdg-data'),
    LIFEBOAT_S3_RETRY_BASE_MS: '20',
    ...extra,
  })

  before(async function () {
    if (!hasRestic()) this.skip()
    dir = await tempDir('lifeboat-s3-')
    cert = makeCert(dir)
    tlsServer = await startS3rver(path.join(dir, 's3-tls'), cert)
    plainServer = await startS3rver(path.join(dir, 's3-plain'))
    pwFile = await writePasswordFile(dir, 'correct horse battery staple')
    src = path.join(dir, 'src')
    makeVariedTree(src)
    // Some incompressible bulk so there are several data packs.
    fs.writeFileSync(path.join(src, 'bulk.bin'), randomBytes(20 * 1024 * 1024))
  })

  after(async () => {
    await proxyCold?.stop()
    await tlsServer?.stop()
    await plainServer?.stop()
    if (dir) await removeTree(dir)
  })

  it('writes a repository that restic 0.14 checks (--read-data) and restores, over TLS with a custom CA', async () => {
    const repo = `s3:https://127.0.0.1:${tlsServer.port}/ours/repo`
    const common = ['-r', repo, '--password-file', pwFile, '--cacert', cert.cert]
    const init = await lifeboat(['backup', 'init', ...common, '--json'], env())
    expect(init.code, init.stderr).to.equal(0)
    expect(envelope(init.stdout).result.location).to.equal(repo)
    const run = await lifeboat(['backup', 'run', src, ...common], env())
    expect(run.code, run.stderr).to.equal(0)
    const ours = await lifeboat(['backup', 'check', '--read-data', ...common], env())
    expect(ours.code, ours.stderr).to.equal(0)

    const resticEnv = {...S3RVER_ENV}
    const check = await restic(repo, pwFile, ['--cacert', cert.cert, 'check', '--read-data'], resticEnv)
    expect(check.stdout).to.match(/no errors were found/)
    const target = path.join(dir, 'restic-restore')
    await restic(repo, pwFile, ['--cacert', cert.cert, 'restore', 'latest', '--target', target], resticEnv)
    // restic 0.14 itself cannot restore a symlink target that is not UTF-8 (it stores it as a string).
    expect(compareTrees(src, path.join(target, src), {skip: ['badlink']})).to.deep.equal([])
  })

  it('reads a repository restic wrote on S3: snapshots, restore, check; s3://BUCKET with AWS_ENDPOINT_URL_S3 and NODE_EXTRA_CA_CERTS', async () => {
    const repo = `s3:https://127.0.0.1:${tlsServer.port}/theirs/repo`
    const resticEnv = {...S3RVER_ENV}
    await restic(repo, pwFile, ['--cacert', cert.cert, 'init'], resticEnv)
    await restic(repo, pwFile, ['--cacert', cert.cert, 'backup', src], resticEnv)

    // The AWS-style location, its endpoint and CA from the SDK's and Node's own settings.
    const awsEnv = env({AWS_ENDPOINT_URL_S3: `https://127.0.0.1:${tlsServer.port}`, NODE_EXTRA_CA_CERTS: cert.cert})
    const common = ['-r', 's3://theirs/repo', '--s3-path-style', '--password-file', pwFile]
    const snaps = await lifeboat(['backup', 'snapshots', ...common, '--json'], awsEnv)
    expect(snaps.code, snaps.stderr).to.equal(0)
    const list = envelope(snaps.stdout).result.snapshots
    expect(list).to.have.length(1)
    expect(list[0].paths).to.deep.equal([src])

    const target = path.join(dir, 'our-restore')
    const restore = await lifeboat(['backup', 'restore', 'latest', '--target', target, ...common], awsEnv)
    expect(restore.code, restore.stderr).to.equal(0)
    // restic 0.14 stored the non-UTF-8 symlink target as a (mangled) string at backup time.
    expect(compareTrees(src, path.join(target, src), {skip: ['badlink']})).to.deep.equal([])
    const check = await lifeboat(['backup', 'check', '--read-data', ...common], awsEnv)
    expect(check.code, check.stderr).to.equal(0)
  })

  it('an unknown CA is refused with a clear error, not a stack trace', async () => {
    const repo = `s3:https://127.0.0.1:${tlsServer.port}/ours/repo`
    const r = await lifeboat(['backup', 'snapshots', '-r', repo, '--password-file', pwFile], env({LIFEBOAT_S3_MAX_ATTEMPTS: '2'}))
    expect(r.code).to.equal(1)
    expect(r.stderr).to.match(/S3 .* failed.*certificate/i)
    expect(r.stderr).not.to.match(/\n\s+at /)
  })

  describe('through a fault-injecting proxy', () => {
    let proxy: FaultProxy
    afterEach(async () => proxy?.stop())

    it('completes a backup despite 500s, SlowDown, resets and slow responses; packs are tagged by kind; restic check --read-data passes', async () => {
      proxy = await startFaultProxy(plainServer.port, {error500: 0.03, slowDown: 0.03, reset: 0.03, slow: 0.03, delayMs: 200})
      const repo = `s3:${proxy.url}/faulty/repo`
      const common = ['-r', repo, '--password-file', pwFile]
      const init = await lifeboat(['backup', 'init', ...common], env())
      expect(init.code, init.stderr).to.equal(0)
      const run = await lifeboat(['backup', 'run', src, ...common, '--json'], env())
      expect(run.code, run.stderr).to.equal(0)
      const injected = proxy.injected
      expect(injected.error500 + injected.slowDown + injected.reset + injected.slow, JSON.stringify(injected)).to.be.greaterThan(0)

      // Every pack carries its kind as a tag (the lifecycle preset moves only data packs to cold storage);
      // metadata objects carry none.
      const tagged = [...proxy.tagging.entries()]
      const packs = tagged.filter(([k]) => k.includes('/repo/data/'))
      expect(packs.some(([, t]) => t === 'lifeboat-pack=data')).to.equal(true)
      expect(packs.some(([, t]) => t === 'lifeboat-pack=tree')).to.equal(true)
      expect(tagged.filter(([k]) => !k.includes('/repo/data/'))).to.deep.equal([])

      // restic judges the result over TLS on the same storage folder.
      const tls2 = await startS3rver(plainServer.dir, cert)
      try {
        const check = await restic(`s3:https://127.0.0.1:${tls2.port}/faulty/repo`, pwFile, ['--cacert', cert.cert, 'check', '--read-data'], {...S3RVER_ENV})
        expect(check.stdout).to.match(/no errors were found/)
      } finally {
        await tls2.stop()
      }
    })

    it('a total outage ends with a clear error, exit 1, and no snapshot written', async () => {
      proxy = await startFaultProxy(plainServer.port, {})
      const repo = `s3:${proxy.url}/outage/repo`
      const common = ['-r', repo, '--password-file', pwFile]
      expect((await lifeboat(['backup', 'init', ...common], env())).code).to.equal(0)
      proxy.plan.outage = true
      const run = await lifeboat(['backup', 'run', src, ...common], env({LIFEBOAT_S3_MAX_ATTEMPTS: '3'}))
      expect(run.code).to.equal(1)
      expect(run.stderr).to.match(/S3 .* failed after 3 attempts/)
      expect(run.stderr).to.match(/ServiceUnavailable|HTTP 503/)
      expect(run.stderr).not.to.match(/\n\s+at /)
      proxy.plan.outage = false
      const snaps = await lifeboat(['backup', 'snapshots', ...common, '--json'], env())
      expect(snaps.code, snaps.stderr).to.equal(0)
      expect(envelope(snaps.stdout).result.snapshots).to.deep.equal([])
    })

    it('prune refuses, changing nothing, while objects it would delete are under object-lock retention', async () => {
      const until = new Date(Date.now() + 5 * 86_400_000).toISOString()
      proxy = await startFaultProxy(plainServer.port, {
        // The bucket reports a default retention, and each object a retain-until date (s3rver has no object lock).
        respond: (req) =>
          req.method === 'GET' && /[?&]object-lock/.test(req.url ?? '')
            ? {
                status: 200,
                body: '<?xml version="1.0" encoding="UTF-8"?><ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>5</Days></DefaultRetention></Rule></ObjectLockConfiguration>',
              }
            : undefined,
        extraHeaders: (req) => (req.method === 'HEAD' ? {'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': until} : undefined),
      })
      const repo = `s3:${proxy.url}/locked/repo`
      const common = ['-r', repo, '--password-file', pwFile]
      expect((await lifeboat(['backup', 'init', ...common], env())).code).to.equal(0)
      const one = path.join(dir, 'one')
      fs.mkdirSync(one, {recursive: true})
      fs.writeFileSync(path.join(one, 'a.bin'), randomBytes(3 * 1024 * 1024))
      expect((await lifeboat(['backup', 'run', one, ...common], env())).code).to.equal(0)
      fs.writeFileSync(path.join(one, 'a.bin'), randomBytes(3 * 1024 * 1024))
      expect((await lifeboat(['backup', 'run', one, ...common], env())).code).to.equal(0)
      expect((await lifeboat(['backup', 'forget', '--keep-last', '1', ...common], env())).code).to.equal(0)
      const before = objectsUnder(path.join(plainServer.dir, 'locked'))
      const prune = await lifeboat(['backup', 'prune', ...common, '--json'], env())
      expect(prune.code).to.equal(1)
      const e = envelope(prune.stdout)
      expect(e.error.code).to.equal('OBJECT_LOCKED')
      expect(e.error.message).to.match(/object-lock retention \(GOVERNANCE\).*nothing was changed/)
      expect(objectsUnder(path.join(plainServer.dir, 'locked'))).to.deep.equal(before)
    })
  })

  it('restore of data packs in Glacier: without --wait exit 1 naming the command to run; with --wait RestoreObject, then restored files', async () => {
    // The proxy plays S3's cold storage in front of s3rver: data packs (tagged lifeboat-pack=data on upload) are
    // listed as GLACIER, unreadable (403 InvalidObjectState) until a RestoreObject and two polls later.
    const state = new Map<string, 'archived' | 'ongoing' | 'done'>()
    const polls = new Map<string, number>()
    let restoreRequests = 0
    const isCold = (key: string) => state.has(key) && state.get(key) !== 'done'
    proxyCold = await startFaultProxy(plainServer.port, {
      respond: (req) => {
        const key = decodeURIComponent((req.url ?? '').split('?')[0])
        if (req.method === 'POST' && /[?&]restore/.test(req.url ?? '') && state.has(key)) {
          restoreRequests++
          if (state.get(key) === 'archived') state.set(key, 'ongoing')
          return {status: 202, body: ''}
        }
        if (req.method === 'GET' && !(req.url ?? '').includes('?list-type') && isCold(key)) {
          return {status: 403, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidObjectState</Code><Message>The operation is not valid for the object\'s storage class</Message></Error>'}
        }
        return undefined
      },
      extraHeaders: (req) => {
        const key = decodeURIComponent((req.url ?? '').split('?')[0])
        if (req.method !== 'HEAD' || !state.has(key)) return undefined
        const st = state.get(key)!
        if (st === 'ongoing') {
          const n = (polls.get(key) ?? 0) + 1
          polls.set(key, n)
          if (n >= 2) state.set(key, 'done')
        }
        const now = state.get(key)
        return {
          'x-amz-storage-class': 'GLACIER',
          ...(now === 'archived' ? {} : {'x-amz-restore': now === 'done' ? 'ongoing-request="false", expiry-date="Fri, 01 Jan 2027 00:00:00 GMT"' : 'ongoing-request="true"'}),
        }
      },
      rewrite: (req) =>
        req.method === 'GET' && (req.url ?? '').includes('list-type=2')
          ? (body) =>
              body.replace(/<Contents>([\s\S]*?)<\/Contents>/g, (m, inner: string) => {
                const k = /<Key>([^<]+)<\/Key>/.exec(inner)?.[1]
                return k && state.has(`/cold/${k}`) ? m.replace(/<StorageClass>[^<]*<\/StorageClass>/, '<StorageClass>GLACIER</StorageClass>') : m
              })
          : undefined,
    })
    const repo = `s3:${proxyCold.url}/cold/repo`
    const common = ['-r', repo, '--password-file', pwFile]
    expect((await lifeboat(['backup', 'init', ...common], env())).code).to.equal(0)
    expect((await lifeboat(['backup', 'run', src, ...common], env())).code).to.equal(0)
    for (const [key, tag] of proxyCold.tagging) if (tag === 'lifeboat-pack=data') state.set(key, 'archived')
    expect(state.size).to.be.greaterThan(0)

    // Snapshots, ls and check without --read-data need no cold object.
    expect((await lifeboat(['backup', 'ls', 'latest', ...common], env())).code).to.equal(0)
    expect((await lifeboat(['backup', 'check', ...common], env())).code).to.equal(0)

    const target = path.join(dir, 'cold-restore')
    const first = await lifeboat(['backup', 'restore', 'latest', '--target', target, '--cold-tier', 'Bulk', ...common, '--json'], env())
    expect(first.code).to.equal(1)
    const err = envelope(first.stdout).error
    expect(err.message).to.match(new RegExp(`${state.size} .*pack`))
    expect(err.message + (err.hint ?? '')).to.match(/Bulk/)
    expect(err.hint ?? err.message).to.match(/--wait/)
    expect(restoreRequests).to.equal(state.size)
    expect(fs.existsSync(path.join(target, src, 'bulk.bin'))).to.equal(false)

    const second = await lifeboat(['backup', 'restore', 'latest', '--target', target, '--cold-tier', 'Bulk', '--wait', ...common], env({LIFEBOAT_S3_COLD_POLL_MS: '50'}))
    expect(second.code, second.stderr).to.equal(0)
    expect(second.stderr).to.match(/cold storage: \d+\/\d+ packs readable/)
    expect(compareTrees(src, path.join(target, src))).to.deep.equal([])
  })

  it('uploads a large file in parts (multipart, Content-MD5 per part) and reads ranges back exactly', async () => {
    const backend = new S3Backend(`s3:${plainServer.url}/multipart/repo`, {multipartThreshold: 6 * 1024 * 1024, partSize: 5 * 1024 * 1024, retryBaseMs: 20})
    const prev = {...process.env}
    Object.assign(process.env, S3RVER_ENV)
    try {
      await backend.create()
      const file = path.join(dir, 'big-pack')
      const data = randomBytes(13 * 1024 * 1024 + 123)
      fs.writeFileSync(file, data)
      const id = createHash('sha256').update(data).digest('hex')
      await backend.saveFile({type: 'pack', name: id}, file, data.length, {packType: 'data'})
      expect((await backend.stat({type: 'pack', name: id})).size).to.equal(data.length)
      const whole = await backend.load({type: 'pack', name: id})
      expect(whole.equals(data)).to.equal(true)
      const slice = await backend.load({type: 'pack', name: id}, 5 * 1024 * 1024 - 10, 20)
      expect(slice.equals(data.subarray(5 * 1024 * 1024 - 10, 5 * 1024 * 1024 + 10))).to.equal(true)
      const tail = await backend.load({type: 'pack', name: id}, data.length - 7)
      expect(tail.equals(data.subarray(data.length - 7))).to.equal(true)
      expect((await backend.list('pack')).map((f) => f.name)).to.deep.equal([id])
    } finally {
      process.env = prev
      await backend.close()
    }
  })
})

/** The objects s3rver holds under a bucket folder (relative names). */
function objectsUnder(bucketDir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, {withFileTypes: true})) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('._S3rver_object')) out.push(path.relative(bucketDir, p))
    }
  }
  walk(bucketDir)
  return out.sort()
}
