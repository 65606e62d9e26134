import type {Strategy} from './schema.js'

/** The answers `dr init` asks for (flags or TTY questions); every one has a placeholder default. */
export interface TemplateAnswers {
  name: string
  primary: string
  dr: string
  rto: string
  rpo: string
  amiId: string
  hostedZoneId: string
  record: string
  allocationId: string
  url: string
  instanceType: string
  vault: string
  resourceArn: string
  restoreRole: string
  standbyInstance: string
}

export const TEMPLATE_DEFAULTS: TemplateAnswers = {
  name: 'shop',
  primary: 'us-east-1',
  dr: 'us-west-2',
  rto: '30m',
  rpo: '1h',
  amiId: 'ami-0123456789abcdef0',
  hostedZoneId: 'Z0123456789ABC',
  record: 'app.example.com.',
  allocationId: 'eipalloc-0123456789abcdef0',
  url: 'https://app.example.com/health',
  instanceType: 't3.small',
  vault: 'lifeboat-dr',
  resourceArn: 'arn:aws:ec2:us-east-1:111122223333:volume/vol-0123456789abcdef0',
  restoreRole: 'arn:aws:iam::111122223333:role/lifeboat-restore',
  standbyInstance: 'i-0123456789abcdef0',
}

const HEADER = (a: TemplateAnswers, strategy: Strategy, what: string) => `# Lifeboat DR playbook (${strategy}) — written by \`lifeboat dr init\`.
#
# ${what}
#
# Waves run one after the other; the steps of a wave run at the same time unless one lists another in
# dependsOn. Later steps use earlier outputs as \${steps.<id>.<output>} (e.g. \${steps.app.instanceIds[0]}).
# Every step also takes: timeout (per attempt, e.g. 10m), retries (extra attempts, with backoff from
# retryDelay, default 5s), when (failover | failback | drill | always, or a list), continueOnError,
# rollback (false, or {type, params}), failback.params and drill.params (overrides used by \`dr failback\`
# and \`dr drill\`).
#
# Check it:        lifeboat dr validate -f THIS.yaml
# See the plan:    lifeboat dr plan -f THIS.yaml          (reads AWS, changes nothing)
# Prerequisites:   lifeboat dr readiness -f THIS.yaml
# Rehearse:        lifeboat dr drill -f THIS.yaml --approve go   (drill resources are removed afterwards)
# The real thing:  lifeboat dr failover -f THIS.yaml --approve go
name: ${a.name}-${strategy}
strategy: ${strategy}
regions: { primary: ${a.primary}, dr: ${a.dr} }
# RTO: run start → first passing health check after the DNS shift. RPO: age of the restored/replicated data.
targets: { rto: ${a.rto}, rpo: ${a.rpo} }
waves:`

const COPY_AMI = (a: TemplateAnswers) => `      # CopyImage runs in the DR region; copies across regions can take 30+ minutes.
      - id: copy-ami
        type: ami.copy
        timeout: 1h
        params: { sourceImageId: ${a.amiId}, sourceRegion: primary, name: ${a.name}-dr }
`

const GO = (a: TemplateAnswers) => `      # A person says go (on a terminal), or the script passes --approve go; otherwise the run stops with
      # exit 10 and \`lifeboat dr resume RUN --approve go\` continues it.
      - id: go
        type: approval
        params: { message: "Shift ${a.record} traffic to ${a.dr}?" }
`
const TRAFFIC = (a: TemplateAnswers, approveWave = true) => `${approveWave ? `  - name: approve\n    steps:\n${GO(a)}` : ''}  - name: traffic
    steps:
      # weights are keyed by the records' SetIdentifier; both change in one atomic Route 53 batch.
      # In a drill, production DNS is left alone unless drillRecord names a record to shift instead, e.g.
      #   drillRecord: { name: drill.example.com. }
      - id: dns
        type: route53.weights
        params:
          hostedZoneId: ${a.hostedZoneId}
          name: ${a.record}
          type: A
          weights: { primary: 0, dr: 100 }
      - id: smoke
        type: http.check
        dependsOn: [dns]
        params: { url: "${a.url}", expectStatus: 200, retries: 10 }
        # In a drill, check through the drill record instead:
        # drill: { params: { url: "https://drill.example.com/health" } }
`

export function playbookTemplate(strategy: Strategy, a: TemplateAnswers = TEMPLATE_DEFAULTS): string {
  switch (strategy) {
    case 'backup-restore': {
      return `${HEADER(a, strategy, 'Backup & restore: nothing runs in the DR region until a disaster. The newest recovery point\n# in the DR vault is restored, then servers are launched from the AMI and traffic is shifted.')}
  - name: restore
    steps:
      # The newest recovery point of this resource in the DR region's vault (its age is the achieved RPO).
      # Or restore a lifeboat repository instead: repository: { location: /srv/backup, target: /srv/data }
      - id: restore
        type: backup.restore
        timeout: 2h
        params:
          awsBackup:
            resourceArn: ${a.resourceArn}
            vault: ${a.vault}
            iamRoleArn: ${a.restoreRole}
${COPY_AMI(a)}  - name: launch
    steps:
      - id: app
        type: ec2.launch
        params: { imageId: "\${steps.copy-ami.imageId}", instanceType: ${a.instanceType}, count: 1, tags: { app: ${a.name} } }
      - id: eip
        type: eip.associate
        dependsOn: [app]
        params: { allocationId: ${a.allocationId}, instanceId: "\${steps.app.instanceIds[0]}" }
${TRAFFIC(a)}`
    }
    case 'pilot-light': {
      return `${HEADER(a, strategy, 'Pilot light: data is replicated to the DR region all the time; servers are launched from\n# AMIs only when needed.')}
  - name: prepare
    steps:
${COPY_AMI(a)}  - name: launch
    steps:
      # A ClientToken makes the launch idempotent: a resumed run gets the same instances back.
      - id: app
        type: ec2.launch
        params: { imageId: "\${steps.copy-ami.imageId}", instanceType: ${a.instanceType}, count: 2, tags: { app: ${a.name} } }
  - name: network
    steps:
      - id: eip
        type: eip.associate
        params: { allocationId: ${a.allocationId}, instanceId: "\${steps.app.instanceIds[0]}" }
${GO(a)}${TRAFFIC(a, false)}`
    }
    case 'warm-standby': {
      return `${HEADER(a, strategy, 'Warm standby: a small copy runs in the DR region all the time; on failover it is scaled\n# up (bigger instance, more instances) and traffic is shifted.')}
  - name: scale-up
    steps:
      # stop → change the instance type → start (the standby's instance id).
      - id: resize
        type: ec2.resize
        # rollback (dr rollback) puts the previous instance types back.
        params: { instanceIds: [${a.standbyInstance}], instanceType: m5.large }
      - id: more
        type: ec2.launch
        params: { imageId: ${a.amiId}, instanceType: m5.large, count: 2, tags: { app: ${a.name} } }
${TRAFFIC(a)}`
    }
    case 'multi-site': {
      return `${HEADER(a, strategy, 'Multi-site: both regions serve traffic; failover moves the weights, in stages with a\n# health gate between them.')}
  - name: check
    steps:
      # The DR side must be healthy before it gets more traffic.
      - id: dr-healthy
        type: http.check
        params: { url: "${a.url}", expectStatus: 200, retries: 5 }
${TRAFFIC(a)}`
    }
  }
}
