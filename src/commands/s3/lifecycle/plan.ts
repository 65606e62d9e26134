import {changeLines, lifecycleRuleFlags, S3Command, s3Flags, summarizeChanges} from '../../../cli/s3-command.js'
import {planLifecycle, readLifecycle, wantedLifecycle, type LifecyclePlan} from '../../../s3/lifecycle.js'

export default class S3LifecyclePlan extends S3Command<typeof S3LifecyclePlan> {
  static override description = `Show what \`s3 lifecycle apply\` would change: the bucket's rules against the wanted ones, rule by rule and field by field. Changes nothing.
Rules in the bucket that the wanted rules do not name are kept, unless --replace is given.`
  static override examples = [
    '<%= config.bin %> s3 lifecycle plan --bucket my-backups --preset backup-repo --prefix lifeboat --cold-after 30 --cold-class DEEP_ARCHIVE',
    '<%= config.bin %> s3 lifecycle plan --bucket my-backups -f rules.yaml --json',
    '<%= config.bin %> s3 lifecycle plan --bucket my-logs --rule-id logs --filter-prefix logs/ --transition 30:STANDARD_IA --transition 120:GLACIER --expire-days 400',
  ]
  static override flags = {...s3Flags, ...lifecycleRuleFlags}

  async run(): Promise<LifecyclePlan> {
    const plan = await this.makePlan()
    this.render(plan)
    return plan
  }

  protected async makePlan(): Promise<LifecyclePlan> {
    const f = this.flags
    const bucket = this.bucket
    const wanted = await wantedLifecycle({
      file: f.file,
      preset: f.preset as 'backup-repo' | undefined,
      prefix: f.prefix,
      coldAfterDays: f['cold-after'],
      coldClass: f['cold-class'],
      rule: {
        id: f['rule-id'],
        prefix: f['filter-prefix'],
        tags: f.tag,
        transitions: f.transition,
        expireDays: f['expire-days'],
        noncurrentExpireDays: f['noncurrent-expire-days'],
        abortUploadsDays: f['abort-uploads-days'],
      },
    })
    const plan = planLifecycle(await readLifecycle(await this.s3(), bucket), wanted, {replace: f.replace})
    for (const w of plan.warnings) this.addWarning(w)
    return plan
  }

  protected render(plan: LifecyclePlan): void {
    if (this.jsonEnabled()) return
    this.log(`lifecycle plan for bucket ${plan.bucket}${plan.replace ? ' (--replace: rules not named are removed)' : ' (rules not named are kept)'}:`)
    for (const c of plan.changes) this.log(changeLines(c, {keep: 'keep', unchanged: 'unchanged'}).join('\n'))
    if (plan.write.kind === 'delete') this.log('  (no rule would remain: the whole lifecycle configuration would be deleted)')
    this.log(plan.changed ? summarizeChanges(plan.changes) : 'no changes: the bucket already has these rules')
  }
}
