import {z} from 'zod'

import {ApprovalRequiredError} from '../../errors.js'
import type {PlanLine, StepDefinition} from '../step-types.js'

export const approvalParams = z.object({message: z.string().min(1)}).strict()
export type ApprovalParams = z.output<typeof approvalParams>

/** Asks the runner (prompt on a TTY, --approve STEP in scripts); not approved → exit 10. */
export const approval: StepDefinition<ApprovalParams> = {
  type: 'approval',
  params: approvalParams,

  async run(p, ctx) {
    const ok = await ctx.approve(p.message)
    if (!ok) {
      throw new ApprovalRequiredError(`step "${ctx.stepId}" needs approval: ${p.message}`, {
        where: ctx.stepId,
        hint: `approve it with --approve ${ctx.stepId} (or answer the prompt on a terminal), then resume the run`,
      })
    }
    return {outputs: {approvedAt: ctx.now().toISOString()}}
  },

  async plan(p, ctx): Promise<PlanLine> {
    return {action: 'ask', summary: `ask for approval: "${p.message}" (--approve ${ctx.stepId} in scripts)`}
  },
}
