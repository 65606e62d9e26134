import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import {diffPlan} from '../../src/awsbackup/plan-apply.js'
import {formatPlanDiff} from '../../src/awsbackup/plan-render.js'
import {loadPlanFile, parsePlanText, planToAws, planWarnings, scheduleProblem, selectionToAws} from '../../src/awsbackup/plan.js'
import {presetPlan} from '../../src/awsbackup/preset.js'
import {ConfigError} from '../../src/errors.js'
import {ROOT} from '../helpers/env.js'

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'awsbackup', 'plan.yaml')
const fixtureText = () => fs.readFileSync(FIXTURE, 'utf8')

function configError(text: string): ConfigError {
  try {
    parsePlanText(text, 'p.yaml')
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('expected a ConfigError')
}

describe('aws-backup plan files', () => {
  it("the issue's example plan validates and maps to AWS's CreateBackupPlan and CreateBackupSelection shapes", async () => {
    const plan = await loadPlanFile(FIXTURE)
    expect(planWarnings(plan)).to.deep.equal([])
    expect(planToAws(plan)).to.deep.equal({
      BackupPlanName: 'shop-db-hourly',
      Rules: [
        {
          RuleName: 'hourly',
          TargetBackupVaultName: 'shop-vault',
          ScheduleExpression: 'cron(0 * ? * * *)',
          ScheduleExpressionTimezone: 'UTC',
          StartWindowMinutes: 60,
          CompletionWindowMinutes: 180,
          Lifecycle: {DeleteAfterDays: 35},
          CopyActions: [{DestinationBackupVaultArn: 'arn:aws:backup:us-west-2:123456789012:backup-vault:shop-dr-vault', Lifecycle: {DeleteAfterDays: 35}}],
        },
      ],
    })
    expect(selectionToAws(plan.selections![0])).to.deep.equal({
      SelectionName: 'shop-db',
      IamRoleArn: 'arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole',
      Resources: ['arn:aws:rds:us-east-1:123456789012:db:shop'],
    })
  })

  it('the cold-storage rule (delete ≥ cold + 90 days) is checked with file:line, also in copy actions', () => {
    const text = fixtureText().replace('lifecycle: { deleteAfterDays: 35 }\n    copyTo', 'lifecycle: { moveToColdStorageAfterDays: 30, deleteAfterDays: 100 }\n    copyTo')
    const e = configError(text)
    expect(e.exitCode).to.equal(2)
    expect(e.hint).to.contain('plan apply -f p.yaml --dry-run')
    expect(e.issues).to.have.length(1)
    expect(e.issues[0]).to.include({line: 9, path: 'rules[0].lifecycle.deleteAfterDays'})
    expect(e.message).to.match(/p\.yaml:9:\d+: rules\[0\]\.lifecycle\.deleteAfterDays: .*at least moveToColdStorageAfterDays \+ 90 = 120 \(got 100\)/)

    const copy = configError(fixtureText().replace('        lifecycle: { deleteAfterDays: 35 }', '        lifecycle: { moveToColdStorageAfterDays: 10, deleteAfterDays: 99 }'))
    expect(copy.issues[0]).to.include({line: 12, path: 'rules[0].copyTo[0].lifecycle.deleteAfterDays'})
    // exactly 90 days in cold storage is allowed
    expect(() => parsePlanText(text.replace('deleteAfterDays: 100', 'deleteAfterDays: 120'), 'p.yaml')).not.to.throw()
  })

  it('start window < 60, bad schedules, bad vault and role ARNs are reported at their lines', () => {
    const e = configError(
      fixtureText()
        .replace('startWindowMinutes: 60', 'startWindowMinutes: 30')
        .replace('cron(0 * ? * * *)', 'cron(0 * * * *)')
        .replace('backup-vault:shop-dr-vault', 'vault/shop-dr-vault')
        .replace('iamRoleArn: arn:aws:iam::123456789012:role/', 'iamRoleArn: arn:aws:iam::123456789012:user/'),
    )
    const byLine = Object.fromEntries(e.issues.map((i) => [i.line, i.message]))
    expect(byLine[5]).to.match(/6 fields/)
    expect(byLine[7]).to.match(/at least 60 minutes \(got 30\)/)
    expect(byLine[11]).to.match(/backup vault ARN/)
    expect(byLine[15]).to.match(/IAM role ARN/)
    expect(e.issues).to.have.length(4)
  })

  it('unknown fields and duplicate rule names are errors with their lines', () => {
    const e = configError(fixtureText().replace('    timezone: UTC\n', '    timezone: UTC\n    scheduel: oops\n'))
    expect(e.issues[0]).to.include({line: 7, message: 'unknown field "scheduel"'})
    const dup = configError(fixtureText().replace('selections:', '  - name: hourly\n    vault: other-vault\nselections:'))
    expect(dup.issues[0].message).to.match(/rule name "hourly" is used twice/)
    expect(dup.issues[0].line).to.equal(13)
  })

  it('schedule syntax: cron with 6 fields and one "?", hourly at most; rate with the right unit', () => {
    expect(scheduleProblem('cron(0 5 ? * * *)')).to.equal(undefined)
    expect(scheduleProblem('cron(30 2 1 * ? *)')).to.equal(undefined)
    expect(scheduleProblem('cron(0 12 ? * MON-FRI *)')).to.equal(undefined)
    expect(scheduleProblem('cron(0 5 * * * *)')).to.match(/exactly one of day-of-month and day-of-week/)
    expect(scheduleProblem('cron(*/5 * ? * * *)')).to.match(/minutes field/)
    expect(scheduleProblem('rate(1 hour)')).to.equal(undefined)
    expect(scheduleProblem('rate(12 hours)')).to.equal(undefined)
    expect(scheduleProblem('rate(2 hour)')).to.match(/rate\(N hours\)/)
    expect(scheduleProblem('rate(30 minutes)')).to.match(/at least 60/)
    expect(scheduleProblem('every hour')).to.match(/neither cron/)
  })

  it('a plan without selections is valid but warned about', () => {
    const text = fixtureText().split('selections:')[0]
    const plan = parsePlanText(text, 'p.yaml')
    expect(planWarnings(plan)).to.have.length(1)
    expect(planWarnings(plan)[0]).to.match(/no selections.*backs nothing up/)
  })

  it('YAML syntax errors carry file:line', () => {
    const e = configError('name: x\nrules:\n  - name: [unclosed\n')
    expect(e.issues[0].line).to.be.a('number')
    expect(e.message).to.contain('p.yaml:')
  })

  it('--preset hourly builds the same model as the example file', async () => {
    const fromFile = await loadPlanFile(FIXTURE)
    const fromPreset = presetPlan({
      preset: 'hourly',
      name: 'shop-db-hourly',
      selectionName: 'shop-db',
      resources: ['arn:aws:rds:us-east-1:123456789012:db:shop'],
      vault: 'shop-vault',
      copyToRegion: 'us-west-2',
      copyVault: 'shop-dr-vault',
      keepDays: 35,
    })
    expect(fromPreset).to.deep.equal(fromFile)
    expect(() => presetPlan({preset: 'hourly', resources: ['arn:aws:rds:us-east-1:123456789012:db:shop'], vault: 'v1', copyToRegion: 'us-west-2'})).to.throw(/go together/)
    expect(() => presetPlan({preset: 'hourly', resources: ['arn:aws:rds:us-east-1:123456789012:db:shop'], vault: 'x'})).to.throw(/preset's plan is invalid.*vault/)
  })

  it('the diff of a new plan lists every rule and selection as added', async () => {
    const plan = await loadPlanFile(FIXTURE)
    const d = diffPlan(plan, undefined)
    expect(d.planAction).to.equal('create')
    expect(d.rules.map((r) => [r.name, r.action])).to.deep.equal([['hourly', 'add']])
    expect(d.selections.map((r) => [r.name, r.action])).to.deep.equal([['shop-db', 'add']])
    const text = formatPlanDiff(d).join('\n')
    expect(text).to.contain('+ plan shop-db-hourly (new)')
    expect(text).to.contain('+ rule hourly')
    expect(text).to.contain('schedule: cron(0 * ? * * *)')
    expect(text).to.contain('+ selection shop-db')
  })
})
