import {
  DeleteBucketReplicationCommand,
  GetBucketLocationCommand,
  GetBucketReplicationCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  PutBucketReplicationCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  type ReplicationConfiguration,
  S3Client,
} from '@aws-sdk/client-s3'
import {type AwsClientStub, mockClient} from 'aws-sdk-client-mock'
import {expect} from 'chai'

import S3ObjectLockSet from '../../src/commands/s3/object-lock/set.js'
import S3ObjectLockShow from '../../src/commands/s3/object-lock/show.js'
import S3ReplicationRemove from '../../src/commands/s3/replication/remove.js'
import S3ReplicationSet from '../../src/commands/s3/replication/set.js'
import S3ReplicationShow from '../../src/commands/s3/replication/show.js'
import S3VersioningEnable from '../../src/commands/s3/versioning/enable.js'
import S3VersioningStatus from '../../src/commands/s3/versioning/status.js'
import S3VersioningSuspend from '../../src/commands/s3/versioning/suspend.js'
import {commandTestHooks, runCmd, s3Error} from './helpers.js'

let s3: AwsClientStub<S3Client>
const ROLE = 'arn:aws:iam::123456789012:role/s3-replication'

/** Buckets with versioning, replication and object lock as S3 answers them. */
class FakeS3 {
  versioning = new Map<string, 'Enabled' | 'Suspended'>()
  region = new Map<string, string>()
  replication = new Map<string, ReplicationConfiguration>()
  lock = new Map<string, any>()
  /** Versioning Puts the server accepts but ignores (to test verify). */
  ignoreVersioningPuts = false

  install(): void {
    s3.on(GetBucketVersioningCommand).callsFake(({Bucket}) => {
      const s = this.versioning.get(Bucket)
      return s ? {Status: s} : {}
    })
    s3.on(PutBucketVersioningCommand).callsFake(({Bucket, VersioningConfiguration}) => {
      if (VersioningConfiguration.Status === 'Suspended' && this.replication.has(Bucket)) {
        throw s3Error('InvalidBucketState', 409, 'Replication configuration is present on this bucket, so the versioning state cannot be changed.')
      }
      if (!this.ignoreVersioningPuts) this.versioning.set(Bucket, VersioningConfiguration.Status)
      return {}
    })
    s3.on(GetBucketLocationCommand).callsFake(({Bucket}) => ({LocationConstraint: this.region.get(Bucket)}))
    s3.on(GetBucketReplicationCommand).callsFake(({Bucket}) => {
      const c = this.replication.get(Bucket)
      if (!c) throw s3Error('ReplicationConfigurationNotFoundError', 404, 'The replication configuration was not found')
      return {ReplicationConfiguration: structuredClone(c)}
    })
    s3.on(PutBucketReplicationCommand).callsFake(({Bucket, ReplicationConfiguration}) => {
      if (this.versioning.get(Bucket) !== 'Enabled') throw s3Error('InvalidRequest', 400, 'Versioning must be \'Enabled\' on the bucket to apply a replication configuration')
      for (const rule of ReplicationConfiguration.Rules) {
        const dest = rule.Destination.Bucket.replace('arn:aws:s3:::', '')
        if (this.versioning.get(dest) !== 'Enabled') throw s3Error('InvalidRequest', 400, 'Destination bucket must have versioning enabled.')
      }
      this.replication.set(Bucket, structuredClone(ReplicationConfiguration))
      return {}
    })
    s3.on(DeleteBucketReplicationCommand).callsFake(({Bucket}) => {
      this.replication.delete(Bucket)
      return {}
    })
    s3.on(GetObjectLockConfigurationCommand).callsFake(({Bucket}) => {
      const c = this.lock.get(Bucket)
      if (!c) throw s3Error('ObjectLockConfigurationNotFoundError', 404, 'Object Lock configuration does not exist for this bucket')
      return {ObjectLockConfiguration: structuredClone(c)}
    })
    s3.on(PutObjectLockConfigurationCommand).callsFake(({Bucket, ObjectLockConfiguration}) => {
      if (this.versioning.get(Bucket) !== 'Enabled') throw s3Error('InvalidBucketState', 409, 'Versioning must be \'Enabled\' on the bucket to apply a Object Lock configuration')
      this.lock.set(Bucket, structuredClone(ObjectLockConfiguration))
      return {}
    })
  }
}

describe('s3 versioning, replication, object-lock', () => {
  // Mocked only while this file's tests run: other files (the S3 backend, over real HTTP) need the real client.
  before(() => {
    s3 = mockClient(S3Client)
  })
  after(() => s3.restore())

  let fake: FakeS3
  const hooks = commandTestHooks(() => {
    s3.reset()
    fake = new FakeS3()
    fake.install()
  })

  describe('versioning', () => {
    it('status of a never-versioned bucket is Unversioned', async () => {
      const r = await runCmd(S3VersioningStatus, ['--bucket', 'my-backups', '--json'])
      expect(r.json.result).to.deep.equal({bucket: 'my-backups', status: 'Unversioned'})
    })

    it('enable writes {Status: Enabled}, verifies, and a second enable writes nothing', async () => {
      const r = await runCmd(S3VersioningEnable, ['--bucket', 'my-backups', '--json'])
      expect(r.code, r.stdout).to.equal(0)
      expect(s3.commandCalls(PutBucketVersioningCommand).map((c) => c.args[0].input)).to.deep.equal([{Bucket: 'my-backups', VersioningConfiguration: {Status: 'Enabled'}}])
      expect(r.json.result).to.deep.include({before: 'Unversioned', after: 'Enabled', changed: true, verifyReads: 1})
      const again = await runCmd(S3VersioningEnable, ['--bucket', 'my-backups'])
      expect(again.stdout).to.contain('already Enabled; nothing to do')
      expect(s3.commandCalls(PutBucketVersioningCommand)).to.have.length(1)
    })

    it('suspend needs --yes in scripts (exit 2), then writes Suspended; replication present → InvalidBucketState explained', async () => {
      fake.versioning.set('my-backups', 'Enabled')
      const noYes = await runCmd(S3VersioningSuspend, ['--bucket', 'my-backups'])
      expect(noYes.code).to.equal(2)
      expect(noYes.stderr).to.contain('pass --yes')
      expect(s3.commandCalls(PutBucketVersioningCommand)).to.have.length(0)
      const ok = await runCmd(S3VersioningSuspend, ['--bucket', 'my-backups', '--yes'])
      expect(ok.code).to.equal(0)
      expect(fake.versioning.get('my-backups')).to.equal('Suspended')

      fake.versioning.set('my-backups', 'Enabled')
      fake.replication.set('my-backups', {Role: ROLE, Rules: []})
      const refused = await runCmd(S3VersioningSuspend, ['--bucket', 'my-backups', '--yes', '--json'])
      expect(refused.code).to.equal(1)
      expect(refused.json.error.code).to.equal('S3_INVALID_BUCKET_STATE')
      expect(refused.json.error.message).to.contain('Replication configuration is present')
      expect(refused.json.error.hint).to.contain('lifeboat s3 replication remove')
    })

    it('verify after enable: a server that ignores the write fails with exit 1', async () => {
      fake.ignoreVersioningPuts = true
      const r = await runCmd(S3VersioningEnable, ['--bucket', 'my-backups', '--json'])
      expect(r.code).to.equal(1)
      expect(r.json.error.code).to.equal('S3_VERIFY_FAILED')
      expect(r.json.error.message).to.contain('versioning: expected Enabled, found Unversioned')
      expect(hooks.sleeps()).to.have.length(4)
    })
  })

  describe('replication', () => {
    const SET = ['--bucket', 'my-backups', '--to-bucket', 'my-backups-dr', '--role', ROLE, '--storage-class', 'DEEP_ARCHIVE', '--prefix', 'hosts/pi/']

    it('refuses before writing when a bucket is not versioned, naming it and the command (destination in its own region)', async () => {
      fake.versioning.set('my-backups', 'Enabled')
      fake.region.set('my-backups-dr', 'eu-central-1')
      const r = await runCmd(S3ReplicationSet, [...SET, '--yes', '--json'])
      expect(r.code).to.equal(1)
      expect(r.json.error.code).to.equal('VERSIONING_REQUIRED')
      expect(r.json.error.message).to.equal('replication needs versioning Enabled on both buckets: my-backups-dr is Unversioned')
      expect(r.json.error.hint).to.contain('lifeboat s3 versioning enable --bucket my-backups-dr --region eu-central-1')
      expect(s3.commandCalls(PutBucketReplicationCommand)).to.have.length(0)
      // the destination's versioning was asked with a client in the destination's region
      const destCall = s3.commandCalls(GetBucketVersioningCommand).find((c) => c.args[0].input.Bucket === 'my-backups-dr')!
      expect(await destCall.thisValue.config.region()).to.equal('eu-central-1')
    })

    it('when versioning cannot be checked (denied), AWS\'s InvalidRequest is explained the same way', async () => {
      fake.versioning.set('my-backups', 'Enabled')
      s3.on(GetBucketVersioningCommand, {Bucket: 'my-backups-dr'}).rejects(s3Error('AccessDenied', 403, 'Access Denied'))
      const r = await runCmd(S3ReplicationSet, [...SET, '--yes', '--json'])
      expect(r.code).to.equal(1)
      expect(r.json.warnings[0]).to.contain('could not read the versioning of my-backups-dr')
      expect(r.json.error.code).to.equal('VERSIONING_REQUIRED')
      expect(r.json.error.message).to.contain('Destination bucket must have versioning enabled.')
    })

    it('set writes the exact rule, verifies it, and is idempotent; show and remove', async () => {
      fake.versioning.set('my-backups', 'Enabled')
      fake.versioning.set('my-backups-dr', 'Enabled')
      const none = await runCmd(S3ReplicationShow, ['--bucket', 'my-backups', '--json'])
      expect(none.json.result).to.deep.equal({bucket: 'my-backups', configured: false, rules: []})

      const r = await runCmd(S3ReplicationSet, [...SET, '--yes', '--json'])
      expect(r.code, r.stdout).to.equal(0)
      expect(s3.commandCalls(PutBucketReplicationCommand).map((c) => c.args[0].input)).to.deep.equal([
        {
          Bucket: 'my-backups',
          ReplicationConfiguration: {
            Role: ROLE,
            Rules: [
              {
                ID: 'lifeboat',
                Priority: 1,
                Status: 'Enabled',
                Filter: {Prefix: 'hosts/pi/'},
                Destination: {Bucket: 'arn:aws:s3:::my-backups-dr', StorageClass: 'DEEP_ARCHIVE'},
                DeleteMarkerReplication: {Status: 'Disabled'},
              },
            ],
          },
        },
      ])
      expect(r.json.result.applied).to.deep.equal({written: true, verifyReads: 1})

      const again = await runCmd(S3ReplicationSet, [...SET, '--yes'])
      expect(again.code).to.equal(0)
      expect(again.stdout).to.contain('no changes')
      expect(s3.commandCalls(PutBucketReplicationCommand)).to.have.length(1)

      const shown = await runCmd(S3ReplicationShow, ['--bucket', 'my-backups'])
      expect(shown.stdout).to.contain('prefix hosts/pi/ → s3://my-backups-dr as DEEP_ARCHIVE')

      const noYes = await runCmd(S3ReplicationRemove, ['--bucket', 'my-backups'])
      expect(noYes.code).to.equal(2)
      const removed = await runCmd(S3ReplicationRemove, ['--bucket', 'my-backups', '--yes', '--json'])
      expect(removed.json.result).to.deep.include({removed: true})
      expect(s3.commandCalls(DeleteBucketReplicationCommand).map((c) => c.args[0].input)).to.deep.equal([{Bucket: 'my-backups'}])
      expect(fake.replication.has('my-backups')).to.equal(false)
    })

    it('plan: another rule is kept (ours gets the next priority), the role change and field changes are shown', async () => {
      fake.versioning.set('my-backups', 'Enabled')
      fake.versioning.set('my-backups-dr', 'Enabled')
      fake.versioning.set('logs-copy', 'Enabled')
      const other = {ID: 'logs', Priority: 5, Status: 'Enabled', Filter: {Prefix: 'logs/'}, Destination: {Bucket: 'arn:aws:s3:::logs-copy'}, DeleteMarkerReplication: {Status: 'Disabled'}}
      fake.replication.set('my-backups', {Role: 'arn:aws:iam::123456789012:role/old', Rules: [other as any]})
      const dry = await runCmd(S3ReplicationSet, [...SET, '--delete-markers', '--dry-run'])
      expect(dry.code, dry.stderr).to.equal(0)
      expect(dry.stdout).to.contain(`~ role: arn:aws:iam::123456789012:role/old → ${ROLE}`)
      expect(dry.stdout).to.match(/= keep\s+logs/)
      expect(dry.stdout).to.match(/\+ add\s+lifeboat\n(\s+\+ .*\n)*\s+\+ priority: 6\n/)
      expect(dry.stdout).to.contain('+ deleteMarkerReplication: true')
      expect(s3.commandCalls(PutBucketReplicationCommand)).to.have.length(0)
      const r = await runCmd(S3ReplicationSet, [...SET, '--delete-markers', '--yes', '--json'])
      expect(r.code, r.stdout).to.equal(0)
      const written = s3.commandCalls(PutBucketReplicationCommand)[0].args[0].input.ReplicationConfiguration!
      expect(written.Rules![0]).to.deep.equal(other)
      expect(written.Rules![1]).to.deep.include({ID: 'lifeboat', Priority: 6, DeleteMarkerReplication: {Status: 'Enabled'}})
    })

    it('bad input is a usage error before any request', async () => {
      const r = await runCmd(S3ReplicationSet, ['--bucket', 'my-backups', '--to-bucket', 'other', '--role', 'my-role'])
      expect(r.code).to.equal(2)
      expect(r.stderr).to.contain('--role "my-role" is not an IAM role ARN')
      expect(s3.calls()).to.have.length(0)
    })
  })

  describe('object lock', () => {
    it('show: no configuration means not enabled', async () => {
      const r = await runCmd(S3ObjectLockShow, ['--bucket', 'my-backups', '--json'])
      expect(r.json.result).to.deep.equal({bucket: 'my-backups', enabled: false})
    })

    it('COMPLIANCE: --yes is not enough, a wrong --confirm aborts, --confirm BUCKET writes it; loud warnings', async () => {
      fake.versioning.set('my-backups', 'Enabled')
      const args = ['--bucket', 'my-backups', '--mode', 'COMPLIANCE', '--days', '30']
      const yes = await runCmd(S3ObjectLockSet, [...args, '--yes'])
      expect(yes.code).to.equal(2)
      expect(yes.stderr).to.contain('IRREVERSIBLE: COMPLIANCE mode')
      expect(yes.stderr).to.contain('pass --confirm my-backups (--yes is not enough)')
      const wrong = await runCmd(S3ObjectLockSet, [...args, '--confirm', 'my-backup'])
      expect(wrong.code).to.equal(2)
      expect(wrong.stderr).to.contain('does not match "my-backups"')
      expect(s3.commandCalls(PutObjectLockConfigurationCommand)).to.have.length(0)

      const ok = await runCmd(S3ObjectLockSet, [...args, '--confirm', 'my-backups', '--json'])
      expect(ok.code, ok.stdout).to.equal(0)
      expect(s3.commandCalls(PutObjectLockConfigurationCommand).map((c) => c.args[0].input)).to.deep.equal([
        {Bucket: 'my-backups', ObjectLockConfiguration: {ObjectLockEnabled: 'Enabled', Rule: {DefaultRetention: {Mode: 'COMPLIANCE', Days: 30}}}},
      ])
      expect(ok.json.warnings.join('\n')).to.contain('IRREVERSIBLE: object lock cannot be turned off')
      expect(ok.json.result.applied).to.deep.equal({written: true, verifyReads: 1})
      const shown = await runCmd(S3ObjectLockShow, ['--bucket', 'my-backups'])
      expect(shown.stdout).to.contain('default retention COMPLIANCE 30 day(s)')
    })

    it('GOVERNANCE: refused before writing without versioning; idempotent once set', async () => {
      const args = ['--bucket', 'my-backups', '--mode', 'GOVERNANCE', '--days', '14', '--yes', '--json']
      const r = await runCmd(S3ObjectLockSet, args)
      expect(r.code).to.equal(1)
      expect(r.json.error.code).to.equal('VERSIONING_REQUIRED')
      expect(r.json.error.hint).to.equal('enable it first: lifeboat s3 versioning enable --bucket my-backups')
      expect(s3.commandCalls(PutObjectLockConfigurationCommand)).to.have.length(0)
      fake.versioning.set('my-backups', 'Enabled')
      expect((await runCmd(S3ObjectLockSet, args)).code).to.equal(0)
      const again = await runCmd(S3ObjectLockSet, args)
      expect(again.json.result.changed).to.equal(false)
      expect(s3.commandCalls(PutObjectLockConfigurationCommand)).to.have.length(1)
    })
  })
})
