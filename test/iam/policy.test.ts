import {runCommand} from '@oclif/test'
import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import {UsageError} from '../../src/errors.js'
import {bucketOfLocation, buildPolicy, type PolicyDocument, type Statement} from '../../src/iam/policy.js'
import {ROOT, isolateEnv} from '../helpers/env.js'

function actions(p: PolicyDocument): string[] {
  return p.Statement.flatMap((s) => s.Action)
}

function statementsWith(p: PolicyDocument, action: string): Statement[] {
  return p.Statement.filter((s) => s.Action.includes(action))
}

const S3_REPO = ['s3:ListBucket', 's3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:GetObjectTagging', 's3:PutObjectTagging', 's3:RestoreObject', 's3:GetBucketObjectLockConfiguration']
const S3_ADMIN = ['s3:GetLifecycleConfiguration', 's3:PutLifecycleConfiguration', 's3:GetBucketVersioning', 's3:PutBucketVersioning', 's3:GetReplicationConfiguration', 's3:PutReplicationConfiguration', 's3:PutBucketObjectLockConfiguration', 'iam:PassRole']
const AWS_BACKUP = ['backup:CreateBackupPlan', 'backup:UpdateBackupPlan', 'backup:CreateBackupSelection', 'backup:StartBackupJob', 'backup:DescribeBackupJob', 'backup:ListRecoveryPointsByResource', 'backup:ListRecoveryPointsByBackupVault', 'backup:GetRecoveryPointRestoreMetadata', 'backup:StartRestoreJob', 'backup:StartCopyJob', 'backup:CreateBackupVault', 'backup:PutBackupVaultLockConfiguration', 'iam:PassRole']
const DR = ['ec2:CopyImage', 'ec2:RunInstances', 'ec2:DescribeImages', 'ec2:DescribeInstances', 'ec2:CreateTags', 'ec2:TerminateInstances', 'ec2:ModifyInstanceAttribute', 'ec2:AssociateAddress', 'route53:ChangeResourceRecordSets', 'route53:ListResourceRecordSets', 'route53:GetChange', 'route53:GetHealthCheckStatus']

describe('iam policy per feature', () => {
  it('backup-s3: list scoped by a prefix condition, object actions on bucket/prefix/*, nothing else', () => {
    const {policy} = buildPolicy({features: ['backup-s3'], buckets: [{bucket: 'pi-backups', prefix: 'home/'}]})
    expect(policy.Version).to.equal('2012-10-17')
    expect(actions(policy)).to.include.members(S3_REPO)
    const list = statementsWith(policy, 's3:ListBucket')
    expect(list).to.have.length(1)
    expect(list[0].Resource).to.equal('arn:aws:s3:::pi-backups')
    expect(list[0].Condition).to.deep.equal({StringLike: {'s3:prefix': ['home/*', 'home']}})
    const put = statementsWith(policy, 's3:PutObject')[0]
    expect(put.Resource).to.deep.equal(['arn:aws:s3:::pi-backups/home/*'])
    expect(put.Action).not.to.include('s3:ListBucket')
    expect(actions(policy).some((a) => a.endsWith('*'))).to.equal(false) // no wildcard actions
    for (const a of [...S3_ADMIN, ...AWS_BACKUP, ...DR].filter((x) => !S3_REPO.includes(x) && x !== 's3:GetBucketVersioning')) expect(actions(policy)).not.to.include(a)
  })

  it('s3-admin: bucket configuration on the bucket ARN and PassRole only to the replication role for S3', () => {
    const role = 'arn:aws:iam::123456789012:role/lifeboat-replication'
    const {policy} = buildPolicy({features: ['s3-admin'], buckets: [{bucket: 'pi-backups', prefix: ''}], replicationRoleArns: [role]})
    expect(actions(policy)).to.include.members(S3_ADMIN)
    expect(statementsWith(policy, 's3:PutLifecycleConfiguration')[0].Resource).to.deep.equal(['arn:aws:s3:::pi-backups'])
    const pass = statementsWith(policy, 'iam:PassRole')[0]
    expect(pass.Resource).to.deep.equal([role])
    expect(pass.Condition).to.deep.equal({StringEquals: {'iam:PassedToService': 's3.amazonaws.com'}})
    expect(actions(policy)).not.to.include('s3:PutObject')
  })

  it('aws-backup: the actions the aws-backup commands call + PassRole to backup.amazonaws.com; aws-backup-rpo is read-only', () => {
    const {policy, notes} = buildPolicy({features: ['aws-backup'], buckets: []})
    expect(actions(policy)).to.include.members(AWS_BACKUP)
    expect(statementsWith(policy, 'iam:PassRole')[0].Condition).to.deep.equal({StringEquals: {'iam:PassedToService': 'backup.amazonaws.com'}})
    expect(notes.join()).to.match(/AWSBackupDefaultServiceRole/)
    const ro = buildPolicy({features: ['aws-backup-rpo'], buckets: []}).policy
    expect(actions(ro).sort()).to.deep.equal(['backup:DescribeRecoveryPoint', 'backup:ListRecoveryPointsByBackupVault', 'backup:ListRecoveryPointsByResource'])
  })

  it('dr: EC2 and Route 53; tags only on create, deletes only of resources tagged by a run, zones and regions scoped', () => {
    const {policy} = buildPolicy({features: ['dr'], buckets: [], hostedZoneIds: ['Z0123456789ABC'], regions: ['us-west-2']})
    expect(actions(policy)).to.include.members(DR)
    const tags = statementsWith(policy, 'ec2:CreateTags')[0]
    expect(tags.Condition!.StringEquals['ec2:CreateAction']).to.deep.equal(['RunInstances', 'CopyImage'])
    const term = statementsWith(policy, 'ec2:TerminateInstances')[0]
    expect(term.Condition!.Null).to.deep.equal({'aws:ResourceTag/lifeboat:run-id': 'false'})
    expect(statementsWith(policy, 'ec2:RunInstances')[0].Condition).to.deep.equal({StringEquals: {'aws:RequestedRegion': ['us-west-2']}})
    expect(statementsWith(policy, 'route53:ChangeResourceRecordSets')[0].Resource).to.deep.equal(['arn:aws:route53:::hostedzone/Z0123456789ABC'])
    expect(actions(policy).filter((a) => a.startsWith('s3:') || a.startsWith('backup:'))).to.deep.equal([])
  })

  it('refuses S3 features without buckets and unknown input', () => {
    expect(() => buildPolicy({features: ['backup-s3'], buckets: []})).to.throw(UsageError, /needs the buckets/)
    expect(() => buildPolicy({features: [], buckets: []})).to.throw(UsageError)
    expect(bucketOfLocation('s3://b1/pi/repo')).to.deep.equal({bucket: 'b1', prefix: 'pi/repo'})
    expect(bucketOfLocation('s3:https://s3.eu-west-1.amazonaws.com/b2/x')).to.deep.equal({bucket: 'b2', prefix: 'x'})
    expect(bucketOfLocation('/srv/repo')).to.equal(undefined)
  })
})

describe('lifeboat iam policy (command)', () => {
  let env: ReturnType<typeof isolateEnv>
  before(() => (env = isolateEnv()))
  after(() => env.restore())

  it('derives features and buckets from the config and prints the policy JSON', async () => {
    const cfg = path.join(env.dir, 'config.yaml')
    fs.writeFileSync(
      cfg,
      'repositories:\n  offsite:\n    location: s3://pi-offsite/lifeboat\nnotifications:\n  - name: mail\n    type: sns\n    topicArn: arn:aws:sns:us-east-1:123456789012:lifeboat-alerts\n',
    )
    const {stdout, error} = await runCommand(['iam', 'policy', '--config', cfg, '--json'], {root: ROOT})
    expect(error).to.equal(undefined)
    const out = JSON.parse(stdout)
    expect(out.result.features).to.deep.equal(['backup-s3', 'notify-sns'])
    const p = out.result.policy as PolicyDocument
    expect(statementsWith(p, 's3:GetObject')[0].Resource).to.deep.equal(['arn:aws:s3:::pi-offsite/lifeboat/*'])
    expect(statementsWith(p, 'sns:Publish')[0].Resource).to.deep.equal(['arn:aws:sns:us-east-1:123456789012:lifeboat-alerts'])
    const bad = await runCommand(['iam', 'policy', '--config', cfg, '--features', 'backup-s3,everything'], {root: ROOT})
    expect(bad.error?.oclif?.exit).to.equal(2)
  })
})
