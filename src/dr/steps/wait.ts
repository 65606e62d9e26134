import {z} from 'zod'

import type {PlanLine, StepDefinition} from '../step-types.js'
import {checkAborted, duration, formatMs} from './common.js'

export const waitParams = z.object({duration, reason: z.string().optional()}).strict()
export type WaitParams = z.output<typeof waitParams>

/** Pauses (e.g. for DNS TTLs to run out). Sleeps in slices so Ctrl-C stops it quickly. */
export const waitStep: StepDefinition<WaitParams> = {
  type: 'wait',
  params: waitParams,

  async run(p, ctx) {
    const until = ctx.now().getTime() + p.duration
    // On resume, the wait counts from the first start (kept in the journal), not again from zero.
    const end = typeof ctx.state.until === 'number' ? ctx.state.until : until
    if (ctx.state.until === undefined) await ctx.saveState({until: end})
    for (;;) {
      checkAborted(ctx, 'wait')
      const left = end - ctx.now().getTime()
      if (left <= 0) break
      ctx.log.progress(`${formatMs(left)} left${p.reason ? ` (${p.reason})` : ''}`)
      await ctx.sleep(Math.min(left, 5_000))
    }
    return {outputs: {waitedUntil: ctx.now().toISOString()}}
  },

  async plan(p): Promise<PlanLine> {
    return {action: 'wait', summary: `wait ${formatMs(p.duration)}${p.reason ? ` (${p.reason})` : ''}`}
  },
}
