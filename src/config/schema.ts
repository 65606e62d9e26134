import {z} from 'zod'

/**
 * The configuration file (`$XDG_CONFIG_HOME/lifeboat/config.yaml`). Every section is optional; unknown keys
 * are errors (a typo should not be silently ignored). Secrets belong in files or the environment: fields
 * named like secrets are accepted but always redacted when shown.
 */

const duration = z.string().regex(/^\d+(s|m|h|d|w)$/, 'a duration such as 30m, 1h, 7d')

export const repositorySchema = z.strictObject({
  location: z.string().min(1).describe('a folder path, s3:https://HOST/BUCKET/PREFIX or s3://BUCKET/PREFIX'),
  passwordFile: z.string().min(1).optional(),
  passwordCommand: z.string().min(1).optional(),
  password: z.string().optional(),
  compression: z.enum(['auto', 'off', 'max']).optional(),
  rpo: duration.optional(),
})

export const backupSchema = z.strictObject({
  paths: z.array(z.string().min(1)).optional(),
  exclude: z.array(z.string().min(1)).optional(),
  excludeFile: z.string().optional(),
  oneFileSystem: z.boolean().optional(),
  host: z.string().optional(),
  tags: z.array(z.string()).optional(),
  keep: z
    .strictObject({
      last: z.number().int().nonnegative().optional(),
      hourly: z.number().int().nonnegative().optional(),
      daily: z.number().int().nonnegative().optional(),
      weekly: z.number().int().nonnegative().optional(),
      monthly: z.number().int().nonnegative().optional(),
      yearly: z.number().int().nonnegative().optional(),
      within: duration.optional(),
    })
    .optional(),
})

export const raidSchema = z.strictObject({
  engine: z.enum(['md', 'btrfs']).optional(),
  arrays: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        engine: z.enum(['md', 'btrfs']).optional(),
        device: z.string().optional(),
        mountpoint: z.string().optional(),
      }),
    )
    .optional(),
  monitor: z.strictObject({interval: duration.optional(), notify: z.array(z.string()).optional()}).optional(),
  scrub: z.strictObject({every: duration.optional()}).optional(),
})

const sinkEvent = z.enum(['success', 'failure', 'warning'])
const seconds = z.number().positive().max(3600)
/**
 * Notification sinks. `on` lists the outcomes that are sent (default: all three); `events` is its older name.
 * Secrets: a webhook's HMAC key comes from `secretEnv` (an environment variable's name; preferred), `secretFile`
 * or `secret`.
 */
const sinkBase = {
  name: z.string().min(1),
  on: z.array(sinkEvent).optional(),
  events: z.array(sinkEvent).optional(),
  timeoutSeconds: seconds.optional(),
}
export const sinkSchema = z.discriminatedUnion('type', [
  z.strictObject({
    ...sinkBase,
    type: z.literal('sns'),
    topicArn: z.string().regex(/^arn:aws[\w-]*:sns:/, 'an SNS topic ARN'),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region such as eu-west-1').optional(),
    profile: z.string().min(1).optional(),
  }),
  z.strictObject({
    ...sinkBase,
    type: z.literal('webhook'),
    url: z.url(),
    secret: z.string().optional(),
    secretFile: z.string().optional(),
    secretEnv: z.string().regex(/^[A-Za-z_]\w*$/, 'an environment variable name').optional(),
    retries: z.number().int().min(0).max(10).optional(),
  }),
  z.strictObject({...sinkBase, type: z.literal('command'), command: z.array(z.string()).min(1)}),
])
export type SinkConfig = z.infer<typeof sinkSchema>

/**
 * `notifications:` is a list of sinks; the older `{sinks: [...]}` form is still read. Both become `{sinks}` so code
 * reads `config.notifications?.sinks`. The list is validated as written, so errors name `notifications[0].url`.
 */
const notificationsSchema = z
  .preprocess(
    (v) => (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && 'sinks' in v ? ((v as {sinks: unknown}).sinks ?? []) : v),
    z.array(sinkSchema),
  )
  .transform((sinks) => ({sinks}))

/** Operations: where jobs write metrics and logs, what `lifeboat status` watches beyond repositories. */
export const opsSchema = z.strictObject({
  /** Prometheus textfile-collector file every job merges its metrics into (flag --metrics-file wins). */
  metricsFile: z.string().min(1).optional(),
  /** JSON-lines log every job appends to (flag --log-file wins). */
  logFile: z.string().min(1).optional(),
  /** Where job results are recorded (default $XDG_STATE_HOME/lifeboat/jobs). */
  stateDir: z.string().min(1).optional(),
  /** Where schedules were written (`schedule add --root`); status reads them from here (default /). */
  scheduleRoot: z.string().min(1).optional(),
  /** AWS Backup resources whose newest recovery point `status` checks against an RPO. */
  awsBackup: z
    .array(
      z.strictObject({
        resourceArn: z.string().regex(/^arn:aws[\w-]*:/, 'a resource ARN'),
        vault: z.string().min(1).optional(),
        region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region such as eu-west-1').optional(),
        rpo: duration,
      }),
    )
    .optional(),
})

export const awsSchema = z.strictObject({
  profile: z.string().min(1).optional(),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region such as eu-west-1').optional(),
  s3: z
    .strictObject({
      pathStyle: z.boolean().optional(),
      connections: z.number().int().min(1).max(128).optional(),
      storageClass: z.string().optional(),
      sse: z.enum(['aws:kms', 'AES256']).optional(),
      kmsKeyId: z.string().min(1).optional(),
      cacert: z.string().min(1).optional(),
    })
    .optional(),
})

export const drSchema = z.strictObject({
  playbooks: z.array(z.string()).optional(),
  runDir: z.string().optional(),
})

export const configSchema = z.strictObject({
  defaultRepository: z.string().min(1).optional(),
  repositories: z.record(z.string().regex(/^[\w.-]+$/, 'a name of letters, digits, . _ -'), repositorySchema).optional(),
  backup: backupSchema.optional(),
  raid: raidSchema.optional(),
  notifications: notificationsSchema.optional(),
  ops: opsSchema.optional(),
  dr: drSchema.optional(),
  aws: awsSchema.optional(),
})

export type LifeboatConfig = z.infer<typeof configSchema>
export type RepositoryConfig = z.infer<typeof repositorySchema>
