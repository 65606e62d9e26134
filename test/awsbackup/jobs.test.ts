import {
  BackupClient,
  type BackupJobState,
  DescribeBackupJobCommand,
  DescribeCopyJobCommand,
  DescribeRecoveryPointCommand,
  DescribeRestoreJobCommand,
  GetRecoveryPointRestoreMetadataCommand,
  ListBackupJobsCommand,
  ListBackupVaultsCommand,
  ListRestoreJobsCommand,
  StartBackupJobCommand,
  StartCopyJobCommand,
  StartRestoreJobCommand,
} from '@aws-sdk/client-backup'
import {type AwsClientStub, mockClient} from 'aws-sdk-client-mock'
import {expect} from 'chai'

import CopyStart from '../../src/commands/aws-backup/copy/start.js'
import JobList from '../../src/commands/aws-backup/job/list.js'
import JobShow from '../../src/commands/aws-backup/job/show.js'
import JobStart from '../../src/commands/aws-backup/job/start.js'
import RestoreList from '../../src/commands/aws-backup/restore/list.js'
import RestoreStart from '../../src/commands/aws-backup/restore/start.js'
import {startBackupJob, waitForJob} from '../../src/awsbackup/jobs.js'
import {isolateEnv} from '../helpers/env.js'
import {awsErr, run} from './helpers.js'

const RDS = 'arn:aws:rds:us-east-1:123456789012:db:shop'
const ROLE = 'arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole'
const POINT = 'arn:aws:backup:us-east-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45'
const JOB = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d'

function backupJob(State: BackupJobState, extra: Record<string, unknown> = {}) {
  return {
    AccountId: '123456789012',
    BackupJobId: JOB,
    BackupVaultName: 'shop-vault',
    BackupVaultArn: 'arn:aws:backup:us-east-1:123456789012:backup-vault:shop-vault',
    ResourceArn: RDS,
    ResourceType: 'RDS',
    IamRoleArn: ROLE,
    CreationDate: new Date('2026-11-22T05:00:00Z'),
    State,
    PercentDone: State === 'COMPLETED' ? '100.0' : '42.0',
    ...extra,
  }
}

/** A fake clock: sleep advances it, no real waiting. */
function fakeClock() {
  let t = 1_000_000
  return {now: () => t, sleep: async (ms: number) => void (t += ms), slept: () => t - 1_000_000}
}

describe('aws-backup jobs, restores and copies', () => {
  let mock: AwsClientStub<BackupClient>
  // Mocked only while this file's tests run: other files (the S3 backend, over real HTTP) need the real client.
  before(() => {
    mock = mockClient(BackupClient)
  })
  after(() => mock.restore())
  let env: ReturnType<typeof isolateEnv>
  before(() => {
    env = isolateEnv()
  })
  after(() => env.restore())
  beforeEach(() => mock.reset())

  it('job start sends a deterministic idempotency token: the same request in the same hour reuses it, a new hour does not', async () => {
    mock.on(StartBackupJobCommand).resolves({BackupJobId: JOB, RecoveryPointArn: POINT, CreationDate: new Date()})
    const base = {client: new BackupClient({region: 'us-east-1'}), resourceArn: RDS, vault: 'shop-vault', iamRoleArn: ROLE}
    const a = await startBackupJob({...base, now: new Date('2026-11-22T05:01:00Z')})
    const b = await startBackupJob({...base, now: new Date('2026-11-22T05:59:00Z')})
    const c = await startBackupJob({...base, now: new Date('2026-11-22T06:00:00Z')})
    const d = await startBackupJob({...base, vault: 'other-vault', now: new Date('2026-11-22T05:01:00Z')})
    const e = await startBackupJob({...base, token: 'my-token'})
    expect(a.idempotencyToken).to.equal(b.idempotencyToken)
    expect(c.idempotencyToken).not.to.equal(a.idempotencyToken)
    expect(d.idempotencyToken).not.to.equal(a.idempotencyToken)
    expect(e.idempotencyToken).to.equal('my-token')
    const sent = mock.commandCalls(StartBackupJobCommand).map((x) => x.args[0].input.IdempotencyToken)
    expect(sent).to.deep.equal([a.idempotencyToken, a.idempotencyToken, c.idempotencyToken, d.idempotencyToken, 'my-token'])
    expect(mock.commandCalls(StartBackupJobCommand)[0].args[0].input).to.deep.include({BackupVaultName: 'shop-vault', ResourceArn: RDS, IamRoleArn: ROLE})
  })

  it('job start --wait polls DescribeBackupJob until COMPLETED, with progress on stderr', async () => {
    mock.on(StartBackupJobCommand).resolves({BackupJobId: JOB, RecoveryPointArn: POINT, CreationDate: new Date()})
    mock
      .on(DescribeBackupJobCommand, {BackupJobId: JOB})
      .resolvesOnce(backupJob('CREATED'))
      .resolvesOnce(backupJob('RUNNING'))
      .resolves(backupJob('COMPLETED', {RecoveryPointArn: POINT, BackupSizeInBytes: 5_368_709_120, CompletionDate: new Date('2026-11-22T05:20:00Z')}))
    const r = await run(JobStart, ['--resource', RDS, '--vault', 'shop-vault', '--role', ROLE, '--wait', '--poll-interval', '0s'])
    expect(r.code, r.stderr).to.equal(0)
    expect(mock.commandCalls(DescribeBackupJobCommand)).to.have.length(3)
    expect(r.stderr).to.contain(`backup job ${JOB}: CREATED`)
    expect(r.stderr).to.contain(`backup job ${JOB}: RUNNING 42%`)
    expect(r.stdout).to.contain(`backup job ${JOB}: COMPLETED 100% 5.00 GiB (${POINT})`)
  })

  it('a FAILED job exits 1 with AWS\'s status message', async () => {
    mock.on(StartBackupJobCommand).resolves({BackupJobId: JOB, RecoveryPointArn: POINT, CreationDate: new Date()})
    mock
      .on(DescribeBackupJobCommand)
      .resolvesOnce(backupJob('RUNNING'))
      .resolves(backupJob('FAILED', {StatusMessage: 'IAM Role arn:aws:iam::123456789012:role/x does not have sufficient permissions to execute the backup'}))
    const r = await run(JobStart, ['--resource', RDS, '--vault', 'shop-vault', '--role', ROLE, '--wait', '--poll-interval', '0s', '--json'])
    expect(r.code).to.equal(1)
    expect(r.json.error.code).to.equal('JOB_FAILED')
    expect(r.json.error.message).to.equal(`backup job ${JOB} FAILED: IAM Role arn:aws:iam::123456789012:role/x does not have sufficient permissions to execute the backup`)
    expect(r.json.error.details.state).to.equal('FAILED')
  })

  it('ABORTED and EXPIRED also fail; PARTIAL finishes with a warning (exit 3)', async () => {
    for (const state of ['ABORTED', 'EXPIRED'] as const) {
      mock.reset()
      mock.on(DescribeBackupJobCommand).resolves(backupJob(state, {StatusMessage: `job ${state.toLowerCase()}`}))
      const r = await run(JobShow, [JOB, '--wait', '--poll-interval', '0s'])
      expect(r.code).to.equal(1)
      expect(r.stderr).to.contain(`${state}: job ${state.toLowerCase()}`)
    }
    mock.reset()
    mock.on(DescribeBackupJobCommand).resolves(backupJob('PARTIAL', {StatusMessage: '1 of 3 volumes failed'}))
    const p = await run(JobShow, [JOB, '--wait', '--json'])
    expect(p.code).to.equal(3)
    expect(p.json.warnings[0]).to.match(/PARTIAL: 1 of 3 volumes failed/)
    // without --wait a failed job is shown and exits 1
    mock.reset()
    mock.on(DescribeBackupJobCommand).resolves(backupJob('FAILED', {StatusMessage: 'boom'}))
    const s = await run(JobShow, [JOB, '--json'])
    expect(s.code).to.equal(1)
    expect(s.json).to.deep.include({ok: false})
    expect(s.json.result.job.statusMessage).to.equal('boom')
  })

  it('the wait times out (fake clock, no real waiting) with an error that says how to follow the job', async () => {
    mock.on(DescribeBackupJobCommand).resolves(backupJob('RUNNING'))
    const clock = fakeClock()
    const progress: string[] = []
    const err = await waitForJob('backup', JOB, {
      client: new BackupClient({region: 'us-east-1'}),
      timeoutSeconds: 3600,
      intervalSeconds: 30,
      sleep: clock.sleep,
      now: clock.now,
      onProgress: (s) => progress.push(s.state),
    }).then(
      () => undefined,
      (error: any) => error,
    )
    expect(err?.code).to.equal('JOB_WAIT_TIMEOUT')
    expect(err?.message).to.match(/still RUNNING after 1h00m/)
    expect(err?.hint).to.contain(`lifeboat aws-backup job show ${JOB} --type backup --wait`)
    expect(clock.slept()).to.equal(3_600_000)
    expect(progress).to.have.length(121) // one check every 30 s for an hour, plus the first
    // through the command: --timeout 0s gives up after the first check
    const r = await run(JobShow, [JOB, '--wait', '--timeout', '0s', '--json'])
    expect(r.code).to.equal(1)
    expect(r.json.error.code).to.equal('JOB_WAIT_TIMEOUT')
    expect(r.json.error.hint).to.contain(`job show ${JOB} --type backup --wait`)
  })

  it('a throttled status check during a wait is retried; access denied ends the wait at once', async () => {
    mock
      .on(DescribeBackupJobCommand)
      .resolvesOnce(backupJob('RUNNING'))
      .rejectsOnce(awsErr('ThrottlingException', 'Rate exceeded', {$metadata: {attempts: 5}}))
      .resolves(backupJob('COMPLETED'))
    const r = await run(JobShow, [JOB, '--wait', '--poll-interval', '0s'])
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stderr).to.contain('status check failed, retrying: AWS Backup throttled DescribeBackupJob')
    expect(mock.commandCalls(DescribeBackupJobCommand)).to.have.length(3)

    mock.reset()
    mock.on(DescribeBackupJobCommand).rejects(awsErr('AccessDeniedException', 'not authorized to perform: backup:DescribeBackupJob'))
    const d = await run(JobShow, [JOB, '--wait', '--poll-interval', '0s', '--json'])
    expect(d.code).to.equal(1)
    expect(d.json.error.code).to.equal('AWS_ACCESS_DENIED')
    expect(mock.commandCalls(DescribeBackupJobCommand)).to.have.length(1)
  })

  it('job list reads every page and passes the filters', async () => {
    mock
      .on(ListBackupJobsCommand)
      .resolvesOnce({BackupJobs: [backupJob('FAILED', {BackupJobId: 'j1'})], NextToken: 't2'})
      .resolvesOnce({BackupJobs: [backupJob('FAILED', {BackupJobId: 'j2'})], NextToken: 't3'})
      .resolves({BackupJobs: [backupJob('FAILED', {BackupJobId: 'j3'})]})
    const r = await run(JobList, ['--state', 'FAILED', '--resource', RDS, '--json'])
    expect(r.code).to.equal(0)
    expect(r.json.result.jobs.map((j: any) => j.id)).to.deep.equal(['j1', 'j2', 'j3'])
    const calls = mock.commandCalls(ListBackupJobsCommand)
    expect(calls).to.have.length(3) // (the SDK paginator reuses one input object, so the tokens cannot be compared per call)
    expect(calls[0].args[0].input).to.deep.include({ByState: 'FAILED', ByResourceArn: RDS})
  })

  it('restore start merges --metadata over GetRecoveryPointRestoreMetadata, finds the vault, uses the point\'s role', async () => {
    mock.on(ListBackupVaultsCommand).resolves({BackupVaultList: [{BackupVaultName: 'Default'}, {BackupVaultName: 'shop-vault'}]})
    mock.on(DescribeRecoveryPointCommand, {BackupVaultName: 'Default'}).rejects(awsErr('ResourceNotFoundException', 'Recovery point not found'))
    mock.on(DescribeRecoveryPointCommand, {BackupVaultName: 'shop-vault'}).resolves({
      RecoveryPointArn: POINT,
      BackupVaultName: 'shop-vault',
      ResourceArn: RDS,
      ResourceType: 'RDS',
      IamRoleArn: ROLE,
      Status: 'COMPLETED',
      CreationDate: new Date('2026-11-22T04:00:00Z'),
    })
    mock.on(GetRecoveryPointRestoreMetadataCommand).resolves({
      BackupVaultArn: 'arn:aws:backup:us-east-1:123456789012:backup-vault:shop-vault',
      RecoveryPointArn: POINT,
      ResourceType: 'RDS',
      RestoreMetadata: {DBInstanceIdentifier: 'shop', DBInstanceClass: 'db.t3.medium', MultiAZ: 'false'},
    })
    mock.on(StartRestoreJobCommand).resolves({RestoreJobId: 'r-1'})
    mock
      .on(DescribeRestoreJobCommand)
      .resolvesOnce({RestoreJobId: 'r-1', Status: 'RUNNING', PercentDone: '10.00%'})
      .resolves({RestoreJobId: 'r-1', Status: 'COMPLETED', CreatedResourceArn: 'arn:aws:rds:us-east-1:123456789012:db:shop-restored', CompletionDate: new Date()})
    const r = await run(RestoreStart, ['--point', POINT, '--metadata', 'DBInstanceIdentifier=shop-restored', '--unset', 'MultiAZ', '--wait', '--poll-interval', '0s', '--json'])
    expect(r.code, r.stdout).to.equal(0)
    const input = mock.commandCalls(StartRestoreJobCommand)[0].args[0].input
    expect(input.Metadata).to.deep.equal({DBInstanceIdentifier: 'shop-restored', DBInstanceClass: 'db.t3.medium'})
    expect(input).to.deep.include({RecoveryPointArn: POINT, IamRoleArn: ROLE, ResourceType: 'RDS'})
    expect(input.IdempotencyToken).to.match(/^lifeboat-[0-9a-f]{40}$/)
    expect(mock.commandCalls(GetRecoveryPointRestoreMetadataCommand)[0].args[0].input).to.deep.equal({BackupVaultName: 'shop-vault', RecoveryPointArn: POINT})
    expect(r.json.result.final).to.deep.include({state: 'COMPLETED', createdResourceArn: 'arn:aws:rds:us-east-1:123456789012:db:shop-restored'})
    expect(r.json.result.job.metadata.DBInstanceIdentifier).to.equal('shop-restored')
  })

  it('restore start refuses a point that is not COMPLETED; a failed restore exits 1 with its message', async () => {
    mock.on(DescribeRecoveryPointCommand).resolves({RecoveryPointArn: POINT, BackupVaultName: 'shop-vault', Status: 'PARTIAL', IamRoleArn: ROLE})
    const r = await run(RestoreStart, ['--point', POINT, '--vault', 'shop-vault', '--json'])
    expect(r.code).to.equal(1)
    expect(r.json.error.code).to.equal('POINT_NOT_RESTORABLE')
    expect(mock.commandCalls(StartRestoreJobCommand)).to.have.length(0)

    mock.reset()
    mock.on(DescribeRecoveryPointCommand).resolves({RecoveryPointArn: POINT, BackupVaultName: 'shop-vault', Status: 'COMPLETED', IamRoleArn: ROLE, ResourceType: 'RDS'})
    mock.on(GetRecoveryPointRestoreMetadataCommand).resolves({RestoreMetadata: {DBInstanceIdentifier: 'shop'}, ResourceType: 'RDS'})
    mock.on(StartRestoreJobCommand).resolves({RestoreJobId: 'r-2'})
    mock.on(DescribeRestoreJobCommand).resolves({RestoreJobId: 'r-2', Status: 'FAILED', StatusMessage: 'DB instance already exists'})
    const f = await run(RestoreStart, ['--point', POINT, '--vault', 'shop-vault', '--wait', '--poll-interval', '0s'])
    expect(f.code).to.equal(1)
    expect(f.stderr).to.contain('restore job r-2 FAILED: DB instance already exists')
  })

  it('restore list reads every page', async () => {
    mock
      .on(ListRestoreJobsCommand)
      .resolvesOnce({RestoreJobs: [{RestoreJobId: 'r1', Status: 'COMPLETED', CreationDate: new Date()}], NextToken: 'n'})
      .resolves({RestoreJobs: [{RestoreJobId: 'r2', Status: 'FAILED', StatusMessage: 'x', CreationDate: new Date()}]})
    const r = await run(RestoreList, ['--json'])
    expect(r.json.result.jobs.map((j: any) => [j.id, j.state])).to.deep.equal([
      ['r1', 'COMPLETED'],
      ['r2', 'FAILED'],
    ])
  })

  it('copy start sends the source vault, the destination ARN and a token; --wait follows DescribeCopyJob', async () => {
    mock.on(DescribeRecoveryPointCommand).resolves({RecoveryPointArn: POINT, BackupVaultName: 'shop-vault', Status: 'COMPLETED', IamRoleArn: ROLE})
    mock.on(StartCopyJobCommand).resolves({CopyJobId: 'c-1', CreationDate: new Date()})
    mock.on(DescribeCopyJobCommand).resolves({CopyJob: {CopyJobId: 'c-1', State: 'COMPLETED', DestinationRecoveryPointArn: 'arn:aws:backup:us-west-2:123456789012:recovery-point:X'}})
    const dest = 'arn:aws:backup:us-west-2:123456789012:backup-vault:shop-dr-vault'
    const r = await run(CopyStart, ['--point', POINT, '--vault', 'shop-vault', '--to-vault-arn', dest, '--wait', '--poll-interval', '0s', '--json'])
    expect(r.code, r.stdout).to.equal(0)
    const input = mock.commandCalls(StartCopyJobCommand)[0].args[0].input
    expect(input).to.deep.include({RecoveryPointArn: POINT, SourceBackupVaultName: 'shop-vault', DestinationBackupVaultArn: dest, IamRoleArn: ROLE})
    expect(input.IdempotencyToken).to.match(/^lifeboat-/)
    expect(r.json.result.final.destinationRecoveryPointArn).to.equal('arn:aws:backup:us-west-2:123456789012:recovery-point:X')
    const bad = await run(CopyStart, ['--point', POINT, '--to-vault-arn', 'shop-dr-vault'])
    expect(bad.code).to.equal(2)
    expect(bad.stderr).to.contain('not a backup vault ARN')
  })

  it('job start checks its inputs before calling AWS (role ARN, start window, cold-storage rule)', async () => {
    const bad = await run(JobStart, ['--resource', RDS, '--vault', 'v1', '--role', 'AWSBackupDefaultServiceRole'])
    expect(bad.code).to.equal(2)
    const cold = await run(JobStart, ['--resource', RDS, '--vault', 'v1', '--role', ROLE, '--cold-after-days', '30', '--delete-after-days', '60'])
    expect(cold.code).to.equal(2)
    expect(cold.stderr).to.contain('at least --cold-after-days + 90 = 120')
    expect(mock.calls()).to.have.length(0)
  })
})
