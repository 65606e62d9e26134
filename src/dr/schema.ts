import {z} from 'zod'

/**
 * The DR playbook: name, strategy, the two regions, RTO/RPO targets and ordered waves of steps. Steps of a
 * wave run concurrently (subject to `dependsOn`); waves run one after the other. Validated by zod; the
 * loader (src/dr/playbook.ts) adds file:line positions and the cross-step checks zod cannot do.
 */

export const STRATEGIES = ['backup-restore', 'pilot-light', 'warm-standby', 'multi-site'] as const
export type Strategy = (typeof STRATEGIES)[number]
export const WHEN = ['failover', 'failback', 'drill', 'always'] as const
export type When = (typeof WHEN)[number]

const UNIT_MS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000}

/**
 * "500ms", "90s", "30m", "1h30m", "2d", or a number of seconds (also as a string) → milliseconds; undefined
 * when malformed. The one duration parser of DR: playbook targets here, step params via steps/common.ts.
 */
export function parseDurationMs(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v * 1000 : undefined
  const s = v.trim()
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy
  let total = 0
  let matched = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]]
    matched = re.lastIndex
  }
  if (matched === 0 || matched !== s.length) return undefined
  return Math.round(total)
}

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDurationMs(v)
  if (ms === undefined) {
    ctx.addIssue({code: 'custom', message: `"${v}" is not a duration (use e.g. 90s, 30m, 1h30m, 2d)`})
    return z.NEVER
  }
  return ms
})

const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'not an AWS region name (e.g. us-west-2)')
const stepId = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'step ids are letters, digits, - and _ (they appear in ${steps.<id>...} and --approve)')
const params = z.record(z.string(), z.unknown())

export const stepSchema = z.strictObject({
  id: stepId,
  type: z.string().min(1),
  description: z.string().optional(),
  params: params.default({}),
  dependsOn: z.array(stepId).default([]),
  /** Per attempt; the step's signal is aborted and the attempt fails when it runs out. */
  timeout: duration.optional(),
  /** Extra attempts after a failure (backoff from retryDelay, doubled each time, at most 5 minutes). */
  retries: z.number().int().min(0).max(20).default(0),
  retryDelay: duration.default(5000),
  when: z.union([z.enum(WHEN), z.array(z.enum(WHEN)).min(1)]).default('always'),
  /** A failure of this step is recorded but does not stop the run. */
  continueOnError: z.boolean().default(false),
  /**
   * Undo: false = nothing to undo; omitted = the step type's own rollback (or removal of what it created);
   * {type, params} = a step of that type run at rollback.
   */
  rollback: z.union([z.literal(false), z.strictObject({type: z.string().min(1), params: params.default({})})]).optional(),
  /** Params merged over `params` when the run is a failback (see docs/dr.md "Failback"). */
  failback: z.strictObject({params}).optional(),
  /** Params merged over `params` in a drill (e.g. a health check against the drill record's URL). */
  drill: z.strictObject({params}).optional(),
})
export type PlaybookStep = z.infer<typeof stepSchema>

export const waveSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  steps: z.array(stepSchema).min(1, 'a wave needs at least one step'),
})
export type PlaybookWave = z.infer<typeof waveSchema>

export const playbookSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, 'a playbook name is letters, digits, ., - and _'),
  description: z.string().optional(),
  strategy: z.enum(STRATEGIES),
  regions: z.strictObject({primary: region, dr: region}).refine((r) => r.primary !== r.dr, 'primary and dr must be different regions'),
  targets: z.strictObject({rto: duration, rpo: duration}),
  waves: z.array(waveSchema).min(1, 'a playbook needs at least one wave'),
})
export type Playbook = z.infer<typeof playbookSchema>

export function whenList(w: PlaybookStep['when']): When[] {
  return Array.isArray(w) ? w : [w]
}
