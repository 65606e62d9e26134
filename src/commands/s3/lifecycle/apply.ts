import {dryRunFlag} from '../../../cli/s3-command.js'
import {applyLifecyclePlan, type ApplyResult, type LifecyclePlan} from '../../../s3/lifecycle.js'
import S3LifecyclePlan from './plan.js'

export default class S3LifecycleApply extends S3LifecyclePlan {
  static override description = `Set a bucket's lifecycle rules: shows the plan, asks (or needs --yes), writes only when something changes, then reads the rules back and fails unless they match.
Rules in the bucket that the wanted rules do not name are kept, unless --replace is given.`
  static override examples = [
    '<%= config.bin %> s3 lifecycle apply --bucket my-backups --preset backup-repo --prefix lifeboat --cold-after 30 --cold-class GLACIER --yes',
    '<%= config.bin %> s3 lifecycle apply --bucket my-backups -f rules.yaml --dry-run',
  ]
  static override flags = {...S3LifecyclePlan.flags, ...dryRunFlag}

  override async run(): Promise<LifecyclePlan & {dryRun: boolean; applied: ApplyResult | null}> {
    const plan = await this.makePlan()
    this.render(plan)
    const dryRun = Boolean((this.flags as {'dry-run'?: boolean})['dry-run'])
    if (!plan.changed) return {...plan, dryRun, applied: {written: 'none', verified: true, verifyReads: 0}}
    if (dryRun) {
      this.info('dry run: nothing was changed')
      return {...plan, dryRun, applied: null}
    }
    await this.confirmChange(`Apply these lifecycle changes to bucket ${plan.bucket}?`)
    const applied = await applyLifecyclePlan(await this.s3(), plan, this.applyOptions)
    if (!this.jsonEnabled()) this.log(`applied to ${plan.bucket} and verified: the bucket's rules read back as planned`)
    return {...plan, dryRun, applied}
  }
}
