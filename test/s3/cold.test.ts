import {HeadObjectCommand, RestoreObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {type AwsClientStub, mockClient} from 'aws-sdk-client-mock'
import {expect} from 'chai'

import {ColdObjectsPendingError, ensureReadable, parseRestoreHeader, requireReadable, waitCommand, type ColdTier} from '../../src/s3/cold.js'
import {s3Error} from './helpers.js'

let s3: AwsClientStub<S3Client>
const HOUR = 3_600_000

/**
 * A bucket whose archived objects restore on a clock: RestoreObject starts a restore that finishes after the
 * tier's time; HeadObject reports `x-amz-restore` as S3 does (ongoing-request="true", then "false" with an
 * expiry date). The fake sleep advances the clock.
 */
class ColdBucket {
  now = 0
  objects = new Map<string, {cls?: string; archive?: string; doneAt?: number; expiresAt?: number}>()
  restores: any[] = []
  duration: Record<ColdTier, number> = {Expedited: 3 * 60_000, Standard: 4 * HOUR, Bulk: 10 * HOUR}
  sleeps: number[] = []
  sleep = async (ms: number) => {
    this.sleeps.push(ms)
    this.now += ms
  }

  install(): void {
    s3.on(HeadObjectCommand).callsFake((input) => {
      const o = this.objects.get(input.Key)
      if (!o) throw s3Error('NotFound', 404, 'Not Found')
      const out: any = {ContentLength: 16_777_216, ETag: '"e"'}
      if (o.cls) out.StorageClass = o.cls
      if (o.archive) out.ArchiveStatus = o.archive
      if (o.expiresAt !== undefined && this.now >= o.expiresAt) o.doneAt = o.expiresAt = undefined
      if (o.doneAt !== undefined) {
        out.Restore = this.now < o.doneAt ? 'ongoing-request="true"' : `ongoing-request="false", expiry-date="${new Date(Date.UTC(2026, 10, 29) + this.now).toUTCString()}"`
        if (o.archive && this.now >= o.doneAt) delete out.ArchiveStatus
      }
      return out
    })
    s3.on(RestoreObjectCommand).callsFake((input) => {
      this.restores.push(structuredClone(input))
      const o = this.objects.get(input.Key)!
      if (o.cls !== 'GLACIER' && o.cls !== 'DEEP_ARCHIVE' && !o.archive) throw s3Error('ObjectAlreadyInActiveTierError', 403, 'Restore is not allowed for the object\'s current storage class')
      if (o.doneAt !== undefined && this.now < o.doneAt) throw s3Error('RestoreAlreadyInProgress', 409, 'Object restore is already in progress')
      const tier = input.RestoreRequest.GlacierJobParameters.Tier as ColdTier
      if (o.cls === 'DEEP_ARCHIVE' && tier === 'Expedited') throw s3Error('InvalidObjectState', 403, 'Expedited is not supported for DEEP_ARCHIVE')
      o.doneAt = this.now + this.duration[tier] * (o.cls === 'DEEP_ARCHIVE' ? 3 : 1)
      return {}
    })
  }
}

describe('s3 cold storage: ensureReadable', () => {
  // Mocked only while this file's tests run: other files (the S3 backend, over real HTTP) need the real client.
  before(() => {
    s3 = mockClient(S3Client)
  })
  after(() => s3.restore())

  let b: ColdBucket
  beforeEach(() => {
    s3.reset()
    b = new ColdBucket()
    b.install()
  })

  it('parses the x-amz-restore header', () => {
    expect(parseRestoreHeader(undefined)).to.equal(undefined)
    expect(parseRestoreHeader('ongoing-request="true"')).to.deep.equal({ongoing: true, expiry: undefined})
    const done = parseRestoreHeader('ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"')
    expect(done?.ongoing).to.equal(false)
    expect(done?.expiry?.toISOString()).to.equal('2012-12-21T00:00:00.000Z')
  })

  it('without wait: readable classes are ready, archived ones get RestoreObject {Days, Tier}, and the estimate says how long', async () => {
    b.objects.set('r/data/aa/std', {})
    b.objects.set('r/data/aa/ir', {cls: 'GLACIER_IR'})
    b.objects.set('r/data/aa/ia', {cls: 'STANDARD_IA'})
    b.objects.set('r/data/bb/g1', {cls: 'GLACIER'})
    b.objects.set('r/data/bb/g2', {cls: 'GLACIER'})
    b.objects.set('r/data/cc/deep', {cls: 'DEEP_ARCHIVE'})
    b.objects.set('r/data/dd/restored', {cls: 'GLACIER', doneAt: -1})
    const keys = [...b.objects.keys()]
    const r = await ensureReadable(new S3Client({region: 'eu-west-1'}), 'bk', keys, {tier: 'Standard', wait: false, sleep: b.sleep})
    expect(r.ready).to.deep.equal(['r/data/aa/std', 'r/data/aa/ir', 'r/data/aa/ia', 'r/data/dd/restored'])
    expect(r.pending).to.deep.equal(['r/data/bb/g1', 'r/data/bb/g2', 'r/data/cc/deep'])
    expect(r.requested).to.deep.equal(r.pending)
    expect(b.restores).to.deep.equal([
      {Bucket: 'bk', Key: 'r/data/bb/g1', RestoreRequest: {Days: 7, GlacierJobParameters: {Tier: 'Standard'}}},
      {Bucket: 'bk', Key: 'r/data/bb/g2', RestoreRequest: {Days: 7, GlacierJobParameters: {Tier: 'Standard'}}},
      {Bucket: 'bk', Key: 'r/data/cc/deep', RestoreRequest: {Days: 7, GlacierJobParameters: {Tier: 'Standard'}}},
    ])
    expect(r.estimate).to.equal('2 objects in GLACIER: 3–5 hours (Standard retrieval); 1 object in DEEP_ARCHIVE: within 12 hours (Standard retrieval)')
    expect(r.byClass).to.deep.equal({GLACIER: 2, DEEP_ARCHIVE: 1})
    expect(b.sleeps).to.deep.equal([])
  })

  for (const [tier, glacier, deep, deepTier] of [
    ['Bulk', '5–12 hours', 'within 48 hours', 'Bulk'],
    ['Expedited', '1–5 minutes', 'within 12 hours', 'Standard'],
  ] as const) {
    it(`${tier} tier: RestoreObject carries it (Deep Archive: ${deepTier}), estimate ${glacier} / ${deep}`, async () => {
      b.objects.set('g', {cls: 'GLACIER'})
      b.objects.set('d', {cls: 'DEEP_ARCHIVE'})
      const r = await ensureReadable(new S3Client({}), 'bk', ['g', 'd'], {tier, wait: false, days: 2})
      expect(b.restores.map((x) => [x.Key, x.RestoreRequest.GlacierJobParameters.Tier, x.RestoreRequest.Days])).to.deep.equal([
        ['g', tier, 2],
        ['d', deepTier, 2],
      ])
      expect(r.estimate).to.equal(`1 object in GLACIER: ${glacier} (${tier} retrieval); 1 object in DEEP_ARCHIVE: ${deep} (${deepTier} retrieval)`)
      if (tier === 'Expedited') expect(r.notes.join('\n')).to.contain('Expedited retrieval does not exist for Deep Archive')
      else expect(r.notes).to.deep.equal([])
    })
  }

  it('with wait: polls HeadObject until every restore is done (ongoing → done), reporting progress', async () => {
    b.objects.set('a', {})
    b.objects.set('g', {cls: 'GLACIER'})
    b.objects.set('d', {cls: 'DEEP_ARCHIVE'})
    const progress: Array<{ready: number; pending: number; total: number}> = []
    const r = await ensureReadable(new S3Client({}), 'bk', ['a', 'g', 'd', 'g'], {
      tier: 'Standard',
      wait: true,
      pollMs: HOUR,
      sleep: b.sleep,
      onProgress: (p) => progress.push(p),
    })
    expect(r.ready).to.deep.equal(['a', 'g', 'd'])
    expect(r.pending).to.deep.equal([])
    expect(r.requested).to.deep.equal(['g', 'd'])
    // GLACIER Standard is done after 4 h, DEEP_ARCHIVE after 12 h: polls every hour until then.
    expect(b.sleeps).to.deep.equal(Array.from({length: 12}, () => HOUR))
    expect(progress[0]).to.deep.equal({ready: 1, pending: 2, total: 3})
    expect(progress[4]).to.deep.equal({ready: 2, pending: 1, total: 3})
    expect(progress.at(-1)).to.deep.equal({ready: 3, pending: 0, total: 3})
    expect(b.restores).to.have.length(2)
    // only the pending keys are polled: 3 first HEADs + 4 polls of 2 keys + 8 polls of 1 key
    expect(s3.commandCalls(HeadObjectCommand)).to.have.length(3 + 4 * 2 + 8)
  })

  it('a restore already in progress is waited for, not requested again; an expired copy is requested again', async () => {
    b.objects.set('busy', {cls: 'GLACIER', doneAt: 2 * HOUR})
    b.objects.set('short', {cls: 'GLACIER', doneAt: -1, expiresAt: HOUR / 2})
    const first = await ensureReadable(new S3Client({}), 'bk', ['busy', 'short'], {tier: 'Bulk', wait: false})
    expect(first.pending).to.deep.equal(['busy'])
    expect(first.ready).to.deep.equal(['short'])
    expect(first.requested).to.deep.equal([])
    expect(b.restores).to.have.length(0)
    // A restore that vanishes while waited for (its copy expired, or the request was lost) is requested again.
    b.objects.set('lost', {cls: 'GLACIER', doneAt: HOUR, expiresAt: HOUR})
    const r = await ensureReadable(new S3Client({}), 'bk', ['lost'], {tier: 'Standard', wait: true, pollMs: HOUR, sleep: b.sleep})
    expect(r.ready).to.deep.equal(['lost'])
    expect(b.restores.map((x) => x.Key)).to.deep.equal(['lost'])
  })

  it('Intelligent-Tiering archive tiers: RestoreObject without Days; ready once back in a frequent tier', async () => {
    b.objects.set('it', {cls: 'INTELLIGENT_TIERING', archive: 'ARCHIVE_ACCESS'})
    const r = await ensureReadable(new S3Client({}), 'bk', ['it'], {tier: 'Bulk', wait: true, pollMs: HOUR, sleep: b.sleep})
    expect(b.restores).to.deep.equal([{Bucket: 'bk', Key: 'it', RestoreRequest: {GlacierJobParameters: {Tier: 'Bulk'}}}])
    expect(r.ready).to.deep.equal(['it'])
  })

  it('Expedited capacity not available: falls back to Standard and says so', async () => {
    b.objects.set('g', {cls: 'GLACIER'})
    s3.on(RestoreObjectCommand, {RestoreRequest: {Days: 7, GlacierJobParameters: {Tier: 'Expedited'}}}).rejects(
      s3Error('GlacierExpeditedRetrievalNotAvailable', 503, 'Glacier expedited retrievals are currently not available, please try again later'),
    )
    const r = await ensureReadable(new S3Client({}), 'bk', ['g'], {tier: 'Expedited', wait: false})
    expect(s3.commandCalls(RestoreObjectCommand).map((c) => c.args[0].input.RestoreRequest?.GlacierJobParameters?.Tier)).to.deep.equal(['Expedited', 'Standard'])
    expect(r.requested).to.deep.equal(['g'])
    expect(r.estimate).to.equal('1 object in GLACIER: 3–5 hours (Standard retrieval)')
    expect(r.notes[0]).to.contain('Standard tier was used instead')
  })

  it('a missing pack and a denied RestoreObject are clear errors', async () => {
    try {
      await ensureReadable(new S3Client({}), 'bk', ['nope'], {tier: 'Standard', wait: false})
      expect.fail('should throw')
    } catch (error: any) {
      expect(error.code).to.equal('S3_OBJECT_MISSING')
      expect(error.message).to.equal('s3://bk/nope does not exist')
    }
    b.objects.set('g', {cls: 'GLACIER'})
    s3.on(RestoreObjectCommand).rejects(s3Error('AccessDenied', 403, 'Access Denied'))
    try {
      await ensureReadable(new S3Client({}), 'bk', ['g'], {tier: 'Standard', wait: false})
      expect.fail('should throw')
    } catch (error: any) {
      expect(error.code).to.equal('S3_ACCESS_DENIED')
      expect(error.hint).to.contain('s3:RestoreObject')
    }
  })

  it('ColdObjectsPendingError: exit 1, how many, tier, estimate and the exact command to run with --wait', () => {
    const command = waitCommand(['backup', 'restore', 'latest', '--target', '/srv/my files', '--wait'], {tier: 'Bulk'})
    expect(command).to.equal("lifeboat backup restore latest --target '/srv/my files' --cold-tier Bulk --wait")
    expect(waitCommand(['backup', 'check', '--read-data', '--cold-tier', 'Expedited'], {tier: 'Expedited'})).to.equal('lifeboat backup check --read-data --cold-tier Expedited --wait')
    const e = new ColdObjectsPendingError({pending: 12, requested: 10, tier: 'Bulk', estimate: '12 objects in GLACIER: 5–12 hours (Bulk retrieval)', command, bucket: 'bk'})
    expect(e.exitCode).to.equal(1)
    expect(e.code).to.equal('COLD_OBJECTS_PENDING')
    expect(e.message).to.equal('12 packs are in cold storage and not readable yet; 10 restores were requested now with the Bulk tier (12 objects in GLACIER: 5–12 hours (Bulk retrieval))')
    expect(e.hint).to.equal(`run this again once they are readable, or let it wait for them: ${command}`)
  })

  it('requireReadable: throws ColdObjectsPendingError with the command to run; returns when all are readable', async () => {
    b.objects.set('r/data/aa/g', {cls: 'GLACIER'})
    b.objects.set('r/data/aa/d', {cls: 'DEEP_ARCHIVE'})
    const argv = ['backup', 'restore', 'latest', '--target', '/srv', '--cold-tier', 'Expedited']
    const e = await requireReadable(new S3Client({}), 'bk', ['r/data/aa/g', 'r/data/aa/d'], {tier: 'Expedited', wait: false, argv}).catch((error) => error)
    expect(e).to.be.instanceOf(ColdObjectsPendingError)
    expect(e.message).to.equal(
      '2 packs are in cold storage and not readable yet; 2 restores were requested now with the Expedited tier (1 object in GLACIER: 1–5 minutes (Expedited retrieval); 1 object in DEEP_ARCHIVE: within 12 hours (Standard retrieval))',
    )
    expect(e.command).to.equal('lifeboat backup restore latest --target /srv --cold-tier Expedited --wait')
    expect(e.details.notes[0]).to.contain('Expedited retrieval does not exist for Deep Archive')
    const ok = await requireReadable(new S3Client({}), 'bk', ['r/data/aa/g', 'r/data/aa/d'], {tier: 'Expedited', wait: true, pollMs: 60_000, sleep: b.sleep, argv})
    expect(ok.pending).to.deep.equal([])
    expect(b.restores).to.have.length(2)
  })
})
