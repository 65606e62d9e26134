import {
  BackupClient,
  CreateBackupPlanCommand,
  CreateBackupSelectionCommand,
  DeleteBackupPlanCommand,
  DeleteBackupSelectionCommand,
  GetBackupPlanCommand,
  GetBackupSelectionCommand,
  ListBackupPlansCommand,
  ListBackupSelectionsCommand,
  UpdateBackupPlanCommand,
} from '@aws-sdk/client-backup'
import {type AwsClientStub, mockClient} from 'aws-sdk-client-mock'
import {expect} from 'chai'
import path from 'node:path'

import PlanApply from '../../src/commands/aws-backup/plan/apply.js'
import PlanDelete from '../../src/commands/aws-backup/plan/delete.js'
import PlanDiff from '../../src/commands/aws-backup/plan/diff.js'
import PlanShow from '../../src/commands/aws-backup/plan/show.js'
import {applyPlan} from '../../src/awsbackup/plan-apply.js'
import {loadPlanFile} from '../../src/awsbackup/plan.js'
import {ROOT, isolateEnv, tempDir} from '../helpers/env.js'
import {awsErr, run, scriptedClient} from './helpers.js'

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'awsbackup', 'plan.yaml')
const PLAN_ID = '8a2f6c1e-0b4d-4c55-9f1e-2d3c4b5a6f70'
const SEL_ID = '5c0e8a9b-1d2e-4f3a-8b7c-6d5e4f3a2b1c'
const ROLE = 'arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole'
const DR_VAULT = 'arn:aws:backup:us-west-2:123456789012:backup-vault:shop-dr-vault'

/** GetBackupPlan as AWS returns the example plan: RuleId, default-valued fields spelled out. */
function awsPlan(overrides: {deleteAfterDays?: number; timezone?: string} = {}) {
  return {
    BackupPlan: {
      BackupPlanName: 'shop-db-hourly',
      Rules: [
        {
          RuleName: 'hourly',
          RuleId: 'f3c1a2b4-5d6e-4f70-8a9b-0c1d2e3f4a5b',
          TargetBackupVaultName: 'shop-vault',
          ScheduleExpression: 'cron(0 * ? * * *)',
          ScheduleExpressionTimezone: overrides.timezone ?? 'Etc/UTC',
          StartWindowMinutes: 60,
          CompletionWindowMinutes: 180,
          Lifecycle: {DeleteAfterDays: overrides.deleteAfterDays ?? 35, OptInToArchiveForSupportedResources: false},
          RecoveryPointTags: {},
          CopyActions: [{DestinationBackupVaultArn: DR_VAULT, Lifecycle: {DeleteAfterDays: 35, OptInToArchiveForSupportedResources: false}}],
          EnableContinuousBackup: false,
        },
      ],
    },
    BackupPlanId: PLAN_ID,
    BackupPlanArn: `arn:aws:backup:us-east-1:123456789012:backup-plan:${PLAN_ID}`,
    VersionId: 'ZjQ2ZTI5YTQtNjk1Mi00ZDRjLWE2NjgtMDc4NmZkYTUxZWYz',
    CreationDate: new Date('2026-11-01T10:00:00Z'),
  }
}

function awsSelection(resources = ['arn:aws:rds:us-east-1:123456789012:db:shop']) {
  return {
    BackupSelection: {
      SelectionName: 'shop-db',
      IamRoleArn: ROLE,
      Resources: resources,
      NotResources: [],
      ListOfTags: [],
      Conditions: {StringEquals: [], StringNotEquals: [], StringLike: [], StringNotLike: []},
    },
    SelectionId: SEL_ID,
    BackupPlanId: PLAN_ID,
    CreationDate: new Date('2026-11-01T10:00:05Z'),
  }
}

const WRITES = [CreateBackupPlanCommand, UpdateBackupPlanCommand, CreateBackupSelectionCommand, DeleteBackupSelectionCommand, DeleteBackupPlanCommand]

describe('aws-backup plan apply / diff / show / delete', () => {
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

  const writeCalls = () => WRITES.flatMap((c) => mock.commandCalls(c as any))

  /** AWS has the plan on the second page of ListBackupPlans, with its one selection. */
  function existing(plan: ReturnType<typeof awsPlan> & Record<string, unknown> = awsPlan(), selection = awsSelection()) {
    mock
      .on(ListBackupPlansCommand)
      .resolves({BackupPlansList: [{BackupPlanName: 'other', BackupPlanId: 'other-id'}], NextToken: 'page2'})
      .on(ListBackupPlansCommand, {NextToken: 'page2'})
      .resolves({BackupPlansList: [{BackupPlanName: 'shop-db-hourly', BackupPlanId: PLAN_ID, VersionId: plan.VersionId, CreationDate: plan.CreationDate}]})
    mock.on(GetBackupPlanCommand, {BackupPlanId: PLAN_ID}).resolves(plan)
    mock
      .on(ListBackupSelectionsCommand, {BackupPlanId: PLAN_ID})
      .resolves({BackupSelectionsList: [], NextToken: 's2'})
      .on(ListBackupSelectionsCommand, {BackupPlanId: PLAN_ID, NextToken: 's2'})
      .resolves({BackupSelectionsList: [{SelectionId: SEL_ID, SelectionName: 'shop-db', BackupPlanId: PLAN_ID, IamRoleArn: ROLE}]})
    mock.on(GetBackupSelectionCommand, {BackupPlanId: PLAN_ID, SelectionId: SEL_ID}).resolves(selection)
  }

  it('creates the plan and its selection when AWS has none, exactly as the file says', async () => {
    mock.on(ListBackupPlansCommand).resolves({BackupPlansList: []})
    mock.on(CreateBackupPlanCommand).resolves({BackupPlanId: PLAN_ID, BackupPlanArn: `arn:aws:backup:us-east-1:123456789012:backup-plan:${PLAN_ID}`, VersionId: 'v1'})
    mock.on(CreateBackupSelectionCommand).resolves({SelectionId: SEL_ID, BackupPlanId: PLAN_ID, CreationDate: new Date()})
    const r = await run(PlanApply, ['-f', FIXTURE, '--json'])
    expect(r.code, r.stdout + r.stderr).to.equal(0)
    expect(r.json.ok).to.equal(true)
    expect(r.json.result.diff.planAction).to.equal('create')
    expect(r.json.result.planId).to.equal(PLAN_ID)
    const create = mock.commandCalls(CreateBackupPlanCommand)
    expect(create).to.have.length(1)
    const input = create[0].args[0].input
    expect(input.BackupPlan?.Rules?.[0]).to.deep.include({RuleName: 'hourly', TargetBackupVaultName: 'shop-vault', StartWindowMinutes: 60, CompletionWindowMinutes: 180, ScheduleExpressionTimezone: 'UTC'})
    const sel = mock.commandCalls(CreateBackupSelectionCommand)
    expect(sel).to.have.length(1)
    expect(sel[0].args[0].input).to.deep.include({BackupPlanId: PLAN_ID})
    expect(sel[0].args[0].input.BackupSelection).to.deep.equal({SelectionName: 'shop-db', IamRoleArn: ROLE, Resources: ['arn:aws:rds:us-east-1:123456789012:db:shop']})
    expect(mock.commandCalls(UpdateBackupPlanCommand)).to.have.length(0)
  })

  it('re-applying the same file is a no-op: no write call, "up to date" (AWS defaults and Etc/UTC normalised)', async () => {
    existing()
    const r = await run(PlanApply, ['-f', FIXTURE])
    expect(r.code, r.stderr).to.equal(0)
    expect(writeCalls()).to.have.length(0)
    expect(r.stdout).to.contain('no changes')
    expect(r.stdout).to.contain('plan shop-db-hourly is up to date')
    // it read both pages of plans and of selections
    expect(mock.commandCalls(ListBackupPlansCommand)).to.have.length(2)
    expect(mock.commandCalls(ListBackupSelectionsCommand)).to.have.length(2)
    const j = await run(PlanApply, ['-f', FIXTURE, '--json'])
    expect(j.json.result.diff).to.deep.include({planAction: 'none', changed: false, rules: [], selections: []})
    expect(j.json.result.actions).to.deep.equal([])
  })

  it('a changed rule updates the plan in place (UpdateBackupPlan, not Create), and the diff names the field', async () => {
    existing(awsPlan({deleteAfterDays: 14}))
    mock.on(UpdateBackupPlanCommand).resolves({BackupPlanId: PLAN_ID, VersionId: 'v2'})
    const r = await run(PlanApply, ['-f', FIXTURE])
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.contain(`~ plan shop-db-hourly (${PLAN_ID})`)
    expect(r.stdout).to.contain('~ rule hourly')
    expect(r.stdout).to.contain('lifecycle.deleteAfterDays: 14 → 35')
    expect(mock.commandCalls(CreateBackupPlanCommand)).to.have.length(0)
    const upd = mock.commandCalls(UpdateBackupPlanCommand)
    expect(upd).to.have.length(1)
    expect(upd[0].args[0].input.BackupPlanId).to.equal(PLAN_ID)
    expect(upd[0].args[0].input.BackupPlan?.Rules?.[0].Lifecycle).to.deep.equal({DeleteAfterDays: 35})
    // the selection did not change: not touched
    expect(mock.commandCalls(DeleteBackupSelectionCommand)).to.have.length(0)
    expect(mock.commandCalls(CreateBackupSelectionCommand)).to.have.length(0)
  })

  it('a changed selection is deleted and created again; the plan itself is left alone', async () => {
    existing(awsPlan(), awsSelection(['arn:aws:rds:us-east-1:123456789012:db:old']))
    mock.on(DeleteBackupSelectionCommand).resolves({})
    mock.on(CreateBackupSelectionCommand).resolves({SelectionId: 'new-sel', BackupPlanId: PLAN_ID})
    const r = await run(PlanApply, ['-f', FIXTURE, '--json'])
    expect(r.code, r.stdout).to.equal(0)
    const sel = r.json.result.diff.selections
    expect(sel).to.deep.equal([
      {name: 'shop-db', action: 'replace', changes: [{field: 'resources', from: ['arn:aws:rds:us-east-1:123456789012:db:old'], to: ['arn:aws:rds:us-east-1:123456789012:db:shop']}]},
    ])
    expect(mock.commandCalls(UpdateBackupPlanCommand)).to.have.length(0)
    expect(mock.commandCalls(DeleteBackupSelectionCommand)[0].args[0].input).to.deep.equal({BackupPlanId: PLAN_ID, SelectionId: SEL_ID})
    expect(mock.commandCalls(CreateBackupSelectionCommand)).to.have.length(1)
    expect(r.json.result.actions).to.deep.equal(['delete selection shop-db (to create it again changed)', 'create selection shop-db'])
  })

  it('settings the file cannot express (index actions, Windows VSS) are not a diff and are kept by an update', async () => {
    const plan = awsPlan()
    const withExtras = {
      ...plan,
      AdvancedBackupSettings: [{ResourceType: 'EC2', BackupOptions: {WindowsVSS: 'enabled'}}],
      BackupPlan: {...plan.BackupPlan, Rules: [{...plan.BackupPlan.Rules[0], IndexActions: [{ResourceTypes: ['EBS']}]}]},
    }
    existing(withExtras)
    const same = await run(PlanApply, ['-f', FIXTURE, '--json'])
    expect(same.json.result.diff.changed).to.equal(false)
    expect(writeCalls()).to.have.length(0)

    mock.reset()
    const changed = {...withExtras, BackupPlan: {...withExtras.BackupPlan, Rules: [{...withExtras.BackupPlan.Rules[0], StartWindowMinutes: 120}]}}
    existing(changed)
    mock.on(UpdateBackupPlanCommand).resolves({BackupPlanId: PLAN_ID, VersionId: 'v2'})
    const r = await run(PlanApply, ['-f', FIXTURE, '--json'])
    expect(r.code, r.stdout).to.equal(0)
    expect(r.json.warnings.join('\n')).to.match(/rule "hourly" has settings Lifeboat does not manage \(IndexActions\); the update keeps them/)
    const sent = mock.commandCalls(UpdateBackupPlanCommand)[0].args[0].input.BackupPlan
    expect(sent?.Rules?.[0]).to.deep.include({StartWindowMinutes: 60, IndexActions: [{ResourceTypes: ['EBS']}]})
    expect(sent?.AdvancedBackupSettings).to.deep.equal([{ResourceType: 'EC2', BackupOptions: {WindowsVSS: 'enabled'}}])
  })

  it('--dry-run prints the diff and writes nothing', async () => {
    existing(awsPlan({deleteAfterDays: 14, timezone: 'Europe/Berlin'}))
    const r = await run(PlanApply, ['-f', FIXTURE, '--dry-run'])
    expect(r.code).to.equal(0)
    expect(r.stdout).to.contain('timezone: Europe/Berlin → UTC')
    expect(r.stdout).to.contain('dry run: nothing was changed')
    expect(writeCalls()).to.have.length(0)
  })

  it('plan diff shows the same diff, human and JSON; NAME must match the file', async () => {
    existing(awsPlan({deleteAfterDays: 14}))
    const h = await run(PlanDiff, ['-f', FIXTURE])
    expect(h.code).to.equal(0)
    expect(h.stdout).to.contain('lifecycle.deleteAfterDays: 14 → 35')
    const j = await run(PlanDiff, ['shop-db-hourly', '-f', FIXTURE, '--json'])
    expect(j.json.result).to.deep.include({name: 'shop-db-hourly', planId: PLAN_ID, planAction: 'update', changed: true})
    expect(j.json.result.rules).to.deep.equal([{name: 'hourly', action: 'change', changes: [{field: 'lifecycle.deleteAfterDays', from: 14, to: 35}]}])
    const wrong = await run(PlanDiff, ['other-plan', '-f', FIXTURE, '--json'])
    expect(wrong.code).to.equal(2)
    expect(writeCalls()).to.have.length(0)
  })

  it('a rule removed from the file and a new one added both show, and go in one UpdateBackupPlan', async () => {
    existing()
    mock.on(UpdateBackupPlanCommand).resolves({BackupPlanId: PLAN_ID, VersionId: 'v3'})
    const dir = tempDir()
    const file = path.join(dir, 'plan.yaml')
    const text = (await import('node:fs')).readFileSync(FIXTURE, 'utf8').replace('  - name: hourly', '  - name: every-hour')
    ;(await import('node:fs')).writeFileSync(file, text)
    const r = await run(PlanApply, ['-f', file])
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.match(/\+ rule every-hour/)
    expect(r.stdout).to.match(/- rule hourly/)
    expect(mock.commandCalls(UpdateBackupPlanCommand)).to.have.length(1)
    expect(mock.commandCalls(UpdateBackupPlanCommand)[0].args[0].input.BackupPlan?.Rules?.map((x) => x.RuleName)).to.deep.equal(['every-hour'])
  })

  it('--preset hourly applies the same plan as the file (a no-op against AWS holding it)', async () => {
    existing()
    const r = await run(PlanApply, [
      '--preset', 'hourly', '--name', 'shop-db-hourly', '--selection-name', 'shop-db',
      '--resource', 'arn:aws:rds:us-east-1:123456789012:db:shop', '--vault', 'shop-vault',
      '--copy-to-region', 'us-west-2', '--copy-vault', 'shop-dr-vault', '--keep-days', '35', '--json',
    ])
    expect(r.code, r.stdout).to.equal(0)
    expect(r.json.result.diff.changed).to.equal(false)
    expect(writeCalls()).to.have.length(0)
  })

  it('an invalid plan file is exit 2 with file:line and no AWS call at all', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'bad.yaml')
    ;(await import('node:fs')).writeFileSync(file, (await import('node:fs')).readFileSync(FIXTURE, 'utf8').replace('startWindowMinutes: 60', 'startWindowMinutes: 59'))
    const r = await run(PlanApply, ['-f', file, '--json'])
    expect(r.code).to.equal(2)
    expect(r.json.error).to.include({code: 'CONFIG_INVALID', where: `${file}:7:25`})
    expect(mock.calls()).to.have.length(0)
  })

  it('a plan without selections applies with a warning in the envelope', async () => {
    mock.on(ListBackupPlansCommand).resolves({BackupPlansList: []})
    mock.on(CreateBackupPlanCommand).resolves({BackupPlanId: PLAN_ID, VersionId: 'v1'})
    const dir = tempDir()
    const file = path.join(dir, 'nosel.yaml')
    ;(await import('node:fs')).writeFileSync(file, (await import('node:fs')).readFileSync(FIXTURE, 'utf8').split('selections:')[0])
    const r = await run(PlanApply, ['-f', file, '--json'])
    expect(r.code).to.equal(0)
    expect(r.json.warnings.join('\n')).to.match(/no selections/)
    expect(mock.commandCalls(CreateBackupSelectionCommand)).to.have.length(0)
  })

  it('AlreadyExistsException (someone created it meanwhile) is a clear exit-1 error', async () => {
    mock.on(ListBackupPlansCommand).resolves({BackupPlansList: []})
    mock.on(CreateBackupPlanCommand).rejects(awsErr('AlreadyExistsException', 'Backup plan with the same plan document already exists'))
    const r = await run(PlanApply, ['-f', FIXTURE, '--json'])
    expect(r.code).to.equal(1)
    expect(r.json.error.code).to.equal('AWS_ALREADY_EXISTS')
    expect(r.json.error.message).to.match(/plan shop-db-hourly already exists \(CreateBackupPlan\)/)
    expect(mock.commandCalls(CreateBackupSelectionCommand)).to.have.length(0)
  })

  it('AccessDeniedException names the operation and the permission', async () => {
    mock.on(ListBackupPlansCommand).rejects(awsErr('AccessDeniedException', 'User: arn:aws:iam::123456789012:user/ci is not authorized to perform: backup:ListBackupPlans'))
    const r = await run(PlanApply, ['-f', FIXTURE])
    expect(r.code).to.equal(1)
    expect(r.stderr).to.contain('Error: access denied to ListBackupPlans')
    expect(r.stderr).to.contain('backup:ListBackupPlans')
    expect(r.stderr).not.to.match(/\n\s+at /) // no stack trace
  })

  it('plan show prints a plan file that re-applies as a no-op', async () => {
    existing()
    const r = await run(PlanShow, ['shop-db-hourly'])
    expect(r.code, r.stderr).to.equal(0)
    const dir = tempDir()
    const file = path.join(dir, 'shown.yaml')
    ;(await import('node:fs')).writeFileSync(file, r.stdout)
    const shown = await loadPlanFile(file)
    expect(shown.rules[0]).to.deep.include({name: 'hourly', vault: 'shop-vault', startWindowMinutes: 60})
    const again = await run(PlanApply, ['-f', file, '--json'])
    expect(again.json.result.diff.changed).to.equal(false)
    expect(writeCalls()).to.have.length(0)
  })

  it('plan delete shows the plan, refuses without confirmation, and deletes selections before the plan', async () => {
    existing()
    mock.on(DeleteBackupSelectionCommand).resolves({})
    mock.on(DeleteBackupPlanCommand).resolves({BackupPlanId: PLAN_ID, DeletionDate: new Date()})
    const refused = await run(PlanDelete, ['shop-db-hourly', '--json'])
    expect(refused.code).to.equal(2)
    expect(refused.json.error.code).to.equal('CONFIRMATION_REQUIRED')
    const wrong = await run(PlanDelete, ['shop-db-hourly', '--confirm', 'shop-db'])
    expect(wrong.code).to.equal(2)
    const dry = await run(PlanDelete, ['shop-db-hourly', '--dry-run'])
    expect(dry.stdout).to.contain('delete selection shop-db')
    expect(dry.stdout).to.contain(`delete plan shop-db-hourly (${PLAN_ID})`)
    expect(writeCalls()).to.have.length(0)
    const ok = await run(PlanDelete, ['shop-db-hourly', '--confirm', 'shop-db-hourly', '--json'])
    expect(ok.code, ok.stdout).to.equal(0)
    const order = mock.calls().map((c) => c.args[0].constructor.name).filter((n) => n.startsWith('Delete'))
    expect(order).to.deep.equal(['DeleteBackupSelectionCommand', 'DeleteBackupPlanCommand'])
  })

  it('throttling: the SDK retries ListBackupPlans and apply goes on; persistent throttling is a clear error', async () => {
    mock.restore()
    try {
      const plan = await loadPlanFile(FIXTURE)
      const throttle = {status: 400, errorType: 'ThrottlingException', body: {message: 'Rate exceeded'}}
      const {client, requests} = await scriptedClient([
        throttle,
        throttle,
        {status: 200, body: {BackupPlansList: []}},
        {status: 200, body: {BackupPlanId: PLAN_ID, BackupPlanArn: `arn:aws:backup:us-east-1:123456789012:backup-plan:${PLAN_ID}`, VersionId: 'v1', CreationDate: 1_763_800_000}},
        {status: 200, body: {SelectionId: SEL_ID, BackupPlanId: PLAN_ID, CreationDate: 1_763_800_001}},
      ])
      const result = await applyPlan(plan, {client})
      expect(result.planId).to.equal(PLAN_ID)
      expect(result.actions).to.deep.equal(['create plan shop-db-hourly', 'create selection shop-db'])
      expect(requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
        'GET /backup/plans',
        'GET /backup/plans',
        'GET /backup/plans',
        'PUT /backup/plans',
        `PUT /backup/plans/${PLAN_ID}/selections`,
      ])

      const always = await scriptedClient([throttle])
      const err = await applyPlan(plan, {client: always.client}).then(
        () => undefined,
        (error: unknown) => error as {code: string; message: string; hint: string},
      )
      expect(err?.code).to.equal('AWS_THROTTLED')
      expect(err?.message).to.match(/AWS Backup throttled ListBackupPlans and was still throttling after 5 attempts: Rate exceeded/)
      expect(err?.hint).to.match(/wait a minute and re-run/)
      expect(always.requests).to.have.length(5)
    } finally {
      mock = mockClient(BackupClient)
    }
  })
})
