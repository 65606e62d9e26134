import {
  BackupClient,
  type RecoveryPointStatus,
  CreateBackupVaultCommand,
  DescribeBackupVaultCommand,
  ListBackupVaultsCommand,
  ListRecoveryPointsByBackupVaultCommand,
  ListRecoveryPointsByResourceCommand,
  PutBackupVaultLockConfigurationCommand,
} from '@aws-sdk/client-backup'
import {type AwsClientStub, mockClient} from 'aws-sdk-client-mock'
import {expect} from 'chai'

import PointsLatest from '../../src/commands/aws-backup/points/latest.js'
import PointsList from '../../src/commands/aws-backup/points/list.js'
import VaultCreate from '../../src/commands/aws-backup/vault/create.js'
import VaultDescribe from '../../src/commands/aws-backup/vault/describe.js'
import VaultList from '../../src/commands/aws-backup/vault/list.js'
import VaultLock from '../../src/commands/aws-backup/vault/lock.js'
import {checkRpo, latestRecoveryPoint} from '../../src/awsbackup/points.js'
import {isolateEnv} from '../helpers/env.js'
import {awsErr, run} from './helpers.js'

const RDS = 'arn:aws:rds:us-east-1:123456789012:db:shop'
const point = (id: string, created: Date, Status: RecoveryPointStatus = 'COMPLETED', vault = 'shop-vault') => ({
  RecoveryPointArn: `arn:aws:backup:us-east-1:123456789012:recovery-point:${id}`,
  BackupVaultName: vault,
  BackupVaultArn: `arn:aws:backup:us-east-1:123456789012:backup-vault:${vault}`,
  ResourceArn: RDS,
  ResourceType: 'RDS',
  Status,
  CreationDate: created,
  BackupSizeInBytes: 1_073_741_824,
})
const ago = (s: number) => new Date(Date.now() - s * 1000)

describe('aws-backup recovery points, RPO and vaults', () => {
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

  it('latestRecoveryPoint reads every page and takes the newest COMPLETED point (not a newer one still being created)', async () => {
    const now = new Date('2026-11-22T06:00:00Z')
    mock
      .on(ListRecoveryPointsByResourceCommand)
      .resolvesOnce({RecoveryPoints: [point('A', new Date('2026-11-22T03:00:00Z'))], NextToken: 'p2'})
      .resolvesOnce({RecoveryPoints: [point('B', new Date('2026-11-22T05:00:00Z')), point('C', new Date('2026-11-22T05:50:00Z'), 'CREATING')], NextToken: 'p3'})
      .resolves({RecoveryPoints: [point('D', new Date('2026-11-22T04:00:00Z'), 'COMPLETED', 'shop-dr')]})
    const latest = await latestRecoveryPoint({client: new BackupClient({region: 'us-east-1'}), resourceArn: RDS, now})
    expect(mock.commandCalls(ListRecoveryPointsByResourceCommand)).to.have.length(3)
    expect(latest).to.deep.include({recoveryPointArn: 'arn:aws:backup:us-east-1:123456789012:recovery-point:B', vaultName: 'shop-vault', ageSeconds: 3600, status: 'COMPLETED'})
    expect(latest?.creationDate.toISOString()).to.equal('2026-11-22T05:00:00.000Z')
    expect(checkRpo(latest, 3600).ok).to.equal(true)
    expect(checkRpo(latest, 3599)).to.deep.include({ok: false, reason: 'stale'})
    expect(checkRpo(undefined, 3600)).to.deep.include({ok: false, reason: 'none'})
  })

  it('latestRecoveryPoint with a vault lists that vault filtered by resource', async () => {
    mock.on(ListRecoveryPointsByBackupVaultCommand).resolves({RecoveryPoints: [point('V', new Date('2026-11-22T05:30:00Z'))]})
    const latest = await latestRecoveryPoint({client: new BackupClient({region: 'us-east-1'}), resourceArn: RDS, vault: 'shop-vault', now: new Date('2026-11-22T06:00:00Z')})
    expect(mock.commandCalls(ListRecoveryPointsByBackupVaultCommand)[0].args[0].input).to.deep.include({BackupVaultName: 'shop-vault', ByResourceArn: RDS})
    expect(latest?.ageSeconds).to.equal(1800)
    expect(latest?.vaultName).to.equal('shop-vault')
  })

  it('points latest: exit 0 within --max-age, 1 when older, 1 when there is none; JSON has ageSeconds, creationDate, arn', async () => {
    mock.on(ListRecoveryPointsByResourceCommand).resolves({RecoveryPoints: [point('NEW', ago(1800)), point('OLD', ago(90_000))]})
    const fresh = await run(PointsLatest, ['--resource', RDS, '--max-age', '1h', '--json'])
    expect(fresh.code).to.equal(0)
    expect(fresh.json.ok).to.equal(true)
    expect(fresh.json.result).to.include({ok: true, arn: 'arn:aws:backup:us-east-1:123456789012:recovery-point:NEW', vault: 'shop-vault', maxAgeSeconds: 3600})
    expect(fresh.json.result.ageSeconds).to.be.within(1799, 1805)
    expect(fresh.json.result.creationDate).to.equal(new Date(Date.parse(fresh.json.result.creationDate)).toISOString())

    const stale = await run(PointsLatest, ['--resource', RDS, '--max-age', '15m'])
    expect(stale.code).to.equal(1)
    expect(stale.stdout).to.match(/age 30m0\ds \(max 15m00s: TOO OLD\)/)

    const staleJson = await run(PointsLatest, ['--resource', RDS, '--max-age', '15m', '--json'])
    expect(staleJson.code).to.equal(1)
    expect(staleJson.json).to.deep.include({ok: false})
    expect(staleJson.json.result).to.include({ok: false, reason: 'stale'})

    const noMax = await run(PointsLatest, ['--resource', RDS])
    expect(noMax.code).to.equal(0)

    mock.reset()
    mock.on(ListRecoveryPointsByResourceCommand).resolves({RecoveryPoints: [point('X', ago(60), 'CREATING')]})
    const none = await run(PointsLatest, ['--resource', RDS, '--json'])
    expect(none.code).to.equal(1)
    expect(none.json.result).to.include({ok: false, reason: 'none'})
    expect(none.json.result.arn).to.equal(undefined)

    const badAge = await run(PointsLatest, ['--resource', RDS, '--max-age', 'an hour'])
    expect(badAge.code).to.equal(2)
  })

  it('points list without filters walks every vault (paginated) and sorts newest first', async () => {
    mock
      .on(ListBackupVaultsCommand)
      .resolvesOnce({BackupVaultList: [{BackupVaultName: 'a-vault'}], NextToken: 'v2'})
      .resolves({BackupVaultList: [{BackupVaultName: 'b-vault'}]})
    mock.on(ListRecoveryPointsByBackupVaultCommand, {BackupVaultName: 'a-vault'}).resolves({RecoveryPoints: [point('A1', new Date('2026-11-20T00:00:00Z'), 'COMPLETED', 'a-vault')]})
    mock
      .on(ListRecoveryPointsByBackupVaultCommand, {BackupVaultName: 'b-vault'})
      .resolves({RecoveryPoints: [point('B1', new Date('2026-11-21T00:00:00Z'), 'COMPLETED', 'b-vault')], NextToken: 'b2'})
      .on(ListRecoveryPointsByBackupVaultCommand, {BackupVaultName: 'b-vault', NextToken: 'b2'})
      .resolves({RecoveryPoints: [point('B2', new Date('2026-11-19T00:00:00Z'), 'EXPIRED', 'b-vault')]})
    const r = await run(PointsList, ['--json'])
    expect(r.code).to.equal(0)
    expect(r.json.result.points.map((p: any) => [p.recoveryPointArn.split(':').at(-1), p.vault, p.status])).to.deep.equal([
      ['B1', 'b-vault', 'COMPLETED'],
      ['A1', 'a-vault', 'COMPLETED'],
      ['B2', 'b-vault', 'EXPIRED'],
    ])
  })

  it('vault list (paginated), describe, and create with AlreadyExistsException', async () => {
    mock
      .on(ListBackupVaultsCommand)
      .resolvesOnce({BackupVaultList: [{BackupVaultName: 'Default', NumberOfRecoveryPoints: 0, CreationDate: new Date('2026-01-01T00:00:00Z')}], NextToken: 'n'})
      .resolves({BackupVaultList: [{BackupVaultName: 'shop-vault', NumberOfRecoveryPoints: 48, Locked: true, MinRetentionDays: 7, MaxRetentionDays: 365}]})
    const l = await run(VaultList, [])
    expect(l.code).to.equal(0)
    expect(l.stdout).to.match(/shop-vault\s+48\s+yes\s+7\/365/)
    expect(l.stdout).to.contain('2 vaults')

    mock.on(DescribeBackupVaultCommand).resolves({BackupVaultName: 'shop-vault', BackupVaultArn: 'arn:aws:backup:us-east-1:123456789012:backup-vault:shop-vault', NumberOfRecoveryPoints: 48, Locked: false})
    const d = await run(VaultDescribe, ['shop-vault', '--json'])
    expect(d.json.result.vault).to.include({name: 'shop-vault', recoveryPoints: 48, locked: false})

    mock.on(CreateBackupVaultCommand).rejects(awsErr('AlreadyExistsException', 'Backup vault with the same name already exists'))
    const c = await run(VaultCreate, ['shop-vault', '--json'])
    expect(c.code).to.equal(1)
    expect(c.json.error.code).to.equal('AWS_ALREADY_EXISTS')
    expect(c.json.error.message).to.contain('vault shop-vault already exists')
    const ok = await run(VaultCreate, ['shop-vault', '--if-not-exists', '--json'])
    expect(ok.code).to.equal(0)
    expect(ok.json.result.created).to.equal(false)
  })

  it('vault lock shows what it will do, needs confirmation, then sends the lock', async () => {
    mock.on(DescribeBackupVaultCommand).resolves({BackupVaultName: 'shop-vault', Locked: false})
    mock.on(PutBackupVaultLockConfigurationCommand).resolves({})
    const dry = await run(VaultLock, ['shop-vault', '--min-retention-days', '7', '--changeable-for-days', '3', '--dry-run'])
    expect(dry.code).to.equal(0)
    expect(dry.stdout).to.contain('COMPLIANCE MODE: after 3 days the lock becomes IMMUTABLE')
    const refused = await run(VaultLock, ['shop-vault', '--min-retention-days', '7'])
    expect(refused.code).to.equal(2)
    expect(refused.stderr).to.contain('pass --confirm shop-vault')
    expect(mock.commandCalls(PutBackupVaultLockConfigurationCommand)).to.have.length(0)
    const bad = await run(VaultLock, ['shop-vault', '--min-retention-days', '30', '--max-retention-days', '7', '--yes'])
    expect(bad.code).to.equal(2)
    const ok = await run(VaultLock, ['shop-vault', '--min-retention-days', '7', '--max-retention-days', '365', '--confirm', 'shop-vault', '--json'])
    expect(ok.code, ok.stdout).to.equal(0)
    expect(ok.json.result).to.include({mode: 'governance', applied: true})
    expect(mock.commandCalls(PutBackupVaultLockConfigurationCommand)[0].args[0].input).to.deep.equal({BackupVaultName: 'shop-vault', MinRetentionDays: 7, MaxRetentionDays: 365, ChangeableForDays: undefined})
  })
})
