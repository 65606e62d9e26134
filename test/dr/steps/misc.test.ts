import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {
  BackupClient,
  DescribeRecoveryPointCommand,
  DescribeRestoreJobCommand,
  GetRecoveryPointRestoreMetadataCommand,
  ListRecoveryPointsByBackupVaultCommand,
  ListRecoveryPointsByResourceCommand,
  ResourceNotFoundException,
  StartRestoreJobCommand,
} from '@aws-sdk/client-backup'
import {expect} from 'chai'
import {mockClient} from 'aws-sdk-client-mock'

import {ApprovalRequiredError} from '../../../src/errors.js'
import {approval} from '../../../src/dr/steps/approval.js'
import {backupRestore} from '../../../src/dr/steps/backup-restore.js'
import {script} from '../../../src/dr/steps/script.js'
import {waitStep} from '../../../src/dr/steps/wait.js'
import {parseDurationMs} from '../../../src/dr/schema.js'
import {parseDuration} from '../../../src/dr/steps/common.js'
import {steps} from '../../../src/dr/steps/index.js'
import {hasRestic, restic, writePasswordFile} from '../../backup/repo-helpers.js'
import {type FakeAws, installFakeAws} from '../fake-aws.js'
import {testContext} from '../step-context.js'

const VOLUME_ARN = 'arn:aws:ec2:us-east-1:111122223333:volume/vol-0a1b2c3d4e5f60718'
const POINT = (n: number) => `arn:aws:ec2:us-west-2::snapshot/snap-0${n}aaaaaaaaaaaaaaa`

describe('dr steps: approval, script, wait, backup.restore', () => {
  it('registers all twelve step types', () => {
    expect(Object.keys(steps).sort()).to.deep.equal(
      ['ami.copy', 'approval', 'backup.restore', 'ec2.launch', 'ec2.resize', 'ec2.scale', 'eip.associate', 'http.check', 'route53.health', 'route53.weights', 'script', 'wait'],
    )
  })

  describe('approval', () => {
    it('passes when approved and throws ApprovalRequiredError (exit 10) naming --approve STEP otherwise', async () => {
      const asked: string[] = []
      const yes = testContext({stepId: 'go', approve: async (m) => (asked.push(m), true)})
      const r = await approval.run(approval.params.parse({message: 'Shift shop traffic to us-west-2?'}), yes)
      expect(asked).to.deep.equal(['Shift shop traffic to us-west-2?'])
      expect(r.outputs.approvedAt).to.equal('2026-11-22T05:00:00.000Z')

      const err = await approval.run(approval.params.parse({message: 'Shift?'}), testContext({stepId: 'go'})).catch((error) => error)
      expect(err).to.be.instanceOf(ApprovalRequiredError)
      expect(err.exitCode).to.equal(10)
      expect(err.hint).to.contain('--approve go')
    })
  })

  describe('script', () => {
    it('runs argv without a shell, with env and the run id, and outputs exitCode and the stdout tail', async () => {
      const ctx = testContext({runId: 'run-x', stepId: 'hook'})
      const r = await script.run(script.params.parse({command: ['sh', '-c', 'echo "$GREETING $LIFEBOAT_RUN_ID"; seq 1 30', 'ignored'], env: {GREETING: 'hello'}}), ctx)
      expect(r.outputs.exitCode).to.equal(0)
      const lines = (r.outputs.stdout as string).split('\n')
      expect(lines).to.have.length(20)
      expect(lines.at(-1)).to.equal('30')
      // No shell: an argument with shell syntax arrives as it is.
      const echo = await script.run(script.params.parse({command: ['echo', '$HOME; rm -rf /']}), ctx)
      expect(echo.outputs.stdout).to.equal('$HOME; rm -rf /')
    })

    it('a nonzero exit fails with the stderr tail; a timeout and a missing program fail clearly', async () => {
      const ctx = testContext({stepId: 'hook'})
      const err = await script.run(script.params.parse({command: ['sh', '-c', 'echo progress; echo "database unreachable" >&2; exit 3']}), ctx).catch((error) => error)
      expect(err.code).to.equal('DR_SCRIPT_FAILED')
      expect(err.message).to.equal('sh -c echo progress; echo "database unreachable" >&2; exit 3 exited with 3:\ndatabase unreachable')
      expect(err.details.exitCode).to.equal(3)
      const slow = await script.run(script.params.parse({command: ['sleep', '5'], timeout: '200ms'}), ctx).catch((error) => error)
      expect(slow.code).to.equal('DR_SCRIPT_TIMEOUT')
      const missing = await script.run(script.params.parse({command: ['no-such-program-lifeboat']}), ctx).catch((error) => error)
      expect(missing.code).to.equal('DR_SCRIPT_MISSING')
      expect(script.params.safeParse({command: 'echo hi'}).success).to.equal(false)
    })
  })

  describe('wait', () => {
    it('waits the duration in fake time, and a resumed wait counts from its first start', async () => {
      const ctx = testContext()
      const r = await waitStep.run(waitStep.params.parse({duration: '30s'}), ctx)
      expect(ctx.elapsed()).to.equal(30_000)
      expect(r.outputs.waitedUntil).to.equal('2026-11-22T05:00:30.000Z')
      const resumed = testContext({state: {until: Date.parse('2026-11-22T05:00:10.000Z')}})
      await waitStep.run(waitStep.params.parse({duration: '5m'}), resumed)
      expect(resumed.elapsed()).to.equal(10_000)
      const ctl = new AbortController()
      const stopped = testContext({onSleep: (_ms, now) => now.getTime() >= Date.parse('2026-11-22T05:00:15Z') && ctl.abort()})
      const err = await waitStep.run(waitStep.params.parse({duration: '1h'}), {...stopped, signal: ctl.signal}).catch((error) => error)
      expect(err.code).to.equal('DR_STEP_ABORTED')
      expect(stopped.elapsed()).to.equal(15_000)
      expect(parseDuration('1h30m')).to.equal(5_400_000)
      expect(() => parseDuration('5 minutes')).to.throw(/invalid duration/)
      // One parser for step params and playbook targets (src/dr/schema.ts): same values, same refusals.
      for (const v of ['1h30m', '90s', '500ms', '2d', '45', 30]) expect(parseDurationMs(v)).to.equal(parseDuration(v))
      expect(parseDurationMs('5 minutes')).to.equal(undefined)
      expect(waitStep.params.safeParse({duration: '5x'}).success).to.equal(false)
    })
  })

  describe('backup.restore from AWS Backup', () => {
    let aws: FakeAws
    let backup: ReturnType<typeof mockClient>
    beforeEach(() => {
      aws = installFakeAws()
      backup = mockClient(BackupClient)
      backup.on(ListRecoveryPointsByResourceCommand).resolves({
        RecoveryPoints: [
          {RecoveryPointArn: POINT(1), CreationDate: new Date('2026-11-22T04:20:00Z'), Status: 'COMPLETED', BackupVaultName: 'dr-vault', BackupSizeBytes: 8589934592},
          {RecoveryPointArn: POINT(2), CreationDate: new Date('2026-11-22T04:50:00Z'), Status: 'PARTIAL', BackupVaultName: 'dr-vault', BackupSizeBytes: 8589934592},
          {RecoveryPointArn: POINT(3), CreationDate: new Date('2026-11-21T04:20:00Z'), Status: 'COMPLETED', BackupVaultName: 'dr-vault', BackupSizeBytes: 8589934592},
        ],
      })
      backup.on(GetRecoveryPointRestoreMetadataCommand).resolves({
        BackupVaultArn: 'arn:aws:backup:us-west-2:111122223333:backup-vault:dr-vault',
        RecoveryPointArn: POINT(1),
        RestoreMetadata: {availabilityZone: 'us-east-1a', encrypted: 'false', volumeType: 'gp3', volumeSize: '8'},
        ResourceType: 'EBS',
      })
      backup.on(StartRestoreJobCommand).resolves({RestoreJobId: '1F2E3D4C-0000-1111-2222-333344445555'})
    })
    afterEach(() => {
      backup.restore()
      aws.restore()
    })

    const params = () =>
      backupRestore.params.parse({
        awsBackup: {resourceArn: VOLUME_ARN, iamRoleArn: 'arn:aws:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole', metadata: {availabilityZone: 'us-west-2a'}},
      })

    it('restores the newest COMPLETED point with merged metadata and IdempotencyToken, polls the job, outputs dataAgeSeconds', async () => {
      const created = 'arn:aws:ec2:us-west-2:111122223333:volume/vol-0fedcba9876543210'
      aws.ec2.volumes.set('vol-0fedcba9876543210', {region: 'us-west-2', VolumeId: 'vol-0fedcba9876543210', State: 'available', Tags: [], deleteOnTermination: false})
      backup
        .on(DescribeRestoreJobCommand)
        .resolvesOnce({RestoreJobId: '1F2E3D4C-0000-1111-2222-333344445555', Status: 'PENDING'})
        .resolvesOnce({RestoreJobId: '1F2E3D4C-0000-1111-2222-333344445555', Status: 'RUNNING', PercentDone: '40.00%'})
        .resolves({RestoreJobId: '1F2E3D4C-0000-1111-2222-333344445555', Status: 'COMPLETED', CreatedResourceArn: created})
      const ctx = testContext({stepId: 'restore-db'})
      const r = await backupRestore.run(params(), ctx)
      const start = backup.commandCalls(StartRestoreJobCommand)[0].args[0].input
      expect(start).to.deep.equal({
        RecoveryPointArn: POINT(1),
        Metadata: {availabilityZone: 'us-west-2a', encrypted: 'false', volumeType: 'gp3', volumeSize: '8'},
        IamRoleArn: 'arn:aws:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole',
        IdempotencyToken: ctx.token(),
        ResourceType: 'EBS',
      })
      expect(backup.commandCalls(GetRecoveryPointRestoreMetadataCommand)[0].args[0].input).to.deep.equal({BackupVaultName: 'dr-vault', RecoveryPointArn: POINT(1)})
      // Two looks before COMPLETED at the 30 s default interval, in fake time.
      expect(ctx.sleeps).to.deep.equal([30_000, 30_000])
      expect(r.outputs).to.deep.include({restoreJobId: '1F2E3D4C-0000-1111-2222-333344445555', createdResourceArn: created, recoveryPointArn: POINT(1)})
      // 05:01 (fake now after the polls) − 04:20 = 41 minutes: the achieved RPO.
      expect(r.outputs.dataAgeSeconds).to.equal(41 * 60)
      expect(ctx.resources).to.deep.equal([{kind: 'backup:restored-resource', id: created, region: 'us-west-2', stepId: 'restore-db'}])
      // Tagged with the run, so a drill's sweep finds it; and removeResource deletes the volume.
      expect(aws.ec2.tagged('lifeboat:run-id', ctx.runId)).to.deep.equal(['vol-0fedcba9876543210'])
      await backupRestore.removeResource!(ctx.resources[0], ctx)
      expect(aws.ec2.volumes.size).to.equal(0)
    })

    it('a FAILED job fails the step with its StatusMessage; a resume polls the saved job instead of starting another', async () => {
      backup.on(DescribeRestoreJobCommand).resolves({RestoreJobId: '1F2E3D4C-0000-1111-2222-333344445555', Status: 'FAILED', StatusMessage: 'Access denied to KMS key arn:aws:kms:us-west-2:111122223333:key/abcd'})
      const ctx = testContext({stepId: 'restore-db'})
      const err = await backupRestore.run(params(), ctx).catch((error) => error)
      expect(err.code).to.equal('DR_RESTORE_FAILED')
      expect(err.message).to.equal('restore job 1F2E3D4C-0000-1111-2222-333344445555 FAILED: Access denied to KMS key arn:aws:kms:us-west-2:111122223333:key/abcd')

      backup.on(DescribeRestoreJobCommand).resolves({RestoreJobId: '1F2E3D4C-0000-1111-2222-333344445555', Status: 'COMPLETED', CreatedResourceArn: 'arn:aws:elasticfilesystem:us-west-2:111122223333:file-system/fs-0123456789abcdef0'})
      const again = testContext({stepId: 'restore-db', state: ctx.state})
      const r = await backupRestore.run(params(), again)
      expect(backup.commandCalls(StartRestoreJobCommand)).to.have.length(1)
      expect(r.outputs.createdResourceArn).to.match(/file-system/)
      // Not a resource lifeboat deletes: reported as left for the user.
      const left = await backupRestore.removeResource!(again.resources[0], again).catch((error) => error)
      expect(left.code).to.equal('DR_MANUAL_CLEANUP')
    })

    it('an explicit recoveryPointArn is restored with its own creation date as the data age', async () => {
      backup.on(DescribeRecoveryPointCommand).resolves({RecoveryPointArn: POINT(3), BackupVaultName: 'dr-vault', Status: 'COMPLETED', CreationDate: new Date('2026-11-21T05:00:00Z')})
      backup.on(DescribeRestoreJobCommand).resolves({RestoreJobId: '1F2E3D4C-0000-1111-2222-333344445555', Status: 'COMPLETED', CreatedResourceArn: 'arn:aws:elasticfilesystem:us-west-2:111122223333:file-system/fs-0123456789abcdef0'})
      const p = backupRestore.params.parse({awsBackup: {...params().awsBackup, vault: 'dr-vault', recoveryPointArn: POINT(3)}})
      const r = await backupRestore.run(p, testContext())
      expect(backup.commandCalls(StartRestoreJobCommand)[0].args[0].input.RecoveryPointArn).to.equal(POINT(3))
      expect(r.outputs.dataAgeSeconds).to.equal(24 * 3600)
    })

    it('no completed recovery point: a clear error; readiness compares the newest point with the RPO target', async () => {
      backup.on(ListRecoveryPointsByBackupVaultCommand).rejects(new ResourceNotFoundException({message: 'Backup vault with name nope does not exist', $metadata: {httpStatusCode: 400}}))
      const readyCtx = {...testContext(), targets: {rtoMs: 30 * 60_000, rpoMs: 3_600_000}}
      const ok = await backupRestore.readiness!(params(), readyCtx)
      expect(ok[0].ok).to.equal(true)
      expect(ok[0].detail).to.contain('40m old (RPO 60m)')
      const strict = await backupRestore.readiness!(backupRestore.params.parse({...params(), maxAge: '30m'}), readyCtx)
      expect(strict[0].ok).to.equal(false)
      const noVault = await backupRestore.readiness!(backupRestore.params.parse({awsBackup: {...params().awsBackup, vault: 'nope'}}), readyCtx)
      expect(noVault[0].ok).to.equal(false)
      expect(noVault[0].detail).to.match(/Backup vault with name nope does not exist/)

      backup.on(ListRecoveryPointsByResourceCommand).resolves({RecoveryPoints: []})
      const err = await backupRestore.run(params(), testContext()).catch((error) => error)
      expect(err.code).to.equal('DR_NO_RECOVERY_POINT')
      expect(backup.commandCalls(StartRestoreJobCommand)).to.have.length(0)
    })
  })

  describe('backup.restore from a lifeboat repository', function () {
    before(function () {
      if (!hasRestic()) this.skip()
    })

    it('restores the latest snapshot into the target and outputs its age as dataAgeSeconds', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-dr-restore-'))
      try {
        const repo = path.join(dir, 'repo')
        const src = path.join(dir, 'src')
        fs.mkdirSync(src)
        fs.writeFileSync(path.join(src, 'orders.csv'), 'id,total\n1,9.99\n')
        const pw = await writePasswordFile(dir, 'dr-restore-test')
        await restic(repo, pw, ['init'])
        await restic(repo, pw, ['backup', '--time', '2026-11-22 03:00:00', src], {TZ: 'UTC'})
        const target = path.join(dir, 'out')
        const ctx = testContext({stepId: 'restore-files'})
        const r = await backupRestore.run(backupRestore.params.parse({repository: {location: repo, passwordFile: pw, target}}), ctx)
        expect(fs.readFileSync(path.join(target, src, 'orders.csv'), 'utf8')).to.equal('id,total\n1,9.99\n')
        expect(r.outputs).to.deep.include({dataTime: '2026-11-22T03:00:00.000Z', dataAgeSeconds: 7200, files: 1})
        const line = await backupRestore.plan(backupRestore.params.parse({repository: {location: repo, passwordFile: pw, target}}), ctx)
        expect(line.summary).to.match(/^restore snapshot [0-9a-f]{8} \(2h old\) into /)

        process.env.LIFEBOAT_DR_TEST_PW = 'wrong password'
        const bad = await backupRestore.run(backupRestore.params.parse({repository: {location: repo, passwordEnv: 'LIFEBOAT_DR_TEST_PW', target}}), ctx).catch((error) => error)
        expect(bad).to.be.instanceOf(Error)
        expect(bad.message).to.match(/password|key/i)
        delete process.env.LIFEBOAT_DR_TEST_PW
      } finally {
        fs.rmSync(dir, {recursive: true, force: true})
      }
    })
  })
})
