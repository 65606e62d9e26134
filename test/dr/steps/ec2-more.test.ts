import {AssociateAddressCommand, ModifyInstanceAttributeCommand, RunInstancesCommand, StopInstancesCommand, TerminateInstancesCommand} from '@aws-sdk/client-ec2'
import {expect} from 'chai'

import {amiCopy} from '../../../src/dr/steps/ami-copy.js'
import {ec2Launch} from '../../../src/dr/steps/ec2-launch.js'
import {ec2Resize} from '../../../src/dr/steps/ec2-resize.js'
import {ec2Scale} from '../../../src/dr/steps/ec2-scale.js'
import {eipAssociate} from '../../../src/dr/steps/eip-associate.js'
import {sweepRunResources} from '../../../src/dr/sweep.js'
import {type FakeAws, installFakeAws} from '../fake-aws.js'
import {testContext} from '../step-context.js'

const AMI = 'ami-0dddddddddddddd01'

describe('dr steps: ec2.resize, ec2.scale, eip.associate, sweep', () => {
  let aws: FakeAws
  beforeEach(() => {
    aws = installFakeAws()
    aws.ec2.addImage('us-west-2', {ImageId: AMI, Name: 'shop-dr'})
    aws.ec2.addImage('us-east-1', {ImageId: 'ami-0123456789abcdef0', Name: 'shop'})
  })
  afterEach(() => aws.restore())

  async function launch(count: number, tags: Record<string, string> = {app: 'shop'}, runId = 'run-base', stepId = 'base'): Promise<string[]> {
    const ctx = testContext({runId, stepId})
    const r = await ec2Launch.run(ec2Launch.params.parse({imageId: AMI, instanceType: 't3.small', count, tags}), ctx)
    return r.outputs.instanceIds as string[]
  }

  describe('ec2.resize', () => {
    it('stop → wait stopped → modify type → start → wait running; rollback restores the saved type', async () => {
      const [id] = await launch(1)
      const ctx = testContext({stepId: 'grow'})
      const p = ec2Resize.params.parse({instanceIds: id, instanceType: 'm5.large'})
      const r = await ec2Resize.run(p, ctx)
      expect(aws.ec2.instances.get(id)).to.deep.include({InstanceType: 'm5.large', State: {Name: 'running', Code: 16}})
      expect(ctx.state.previousTypes).to.deep.equal({[id]: 't3.small'})
      const order = aws.ec2.calls.map((c) => c.command).filter((c) => ['StopInstances', 'ModifyInstanceAttribute', 'StartInstances'].includes(c))
      expect(order).to.deep.equal(['StopInstances', 'ModifyInstanceAttribute', 'StartInstances'])
      expect(aws.ec2Mock.commandCalls(ModifyInstanceAttributeCommand)[0].args[0].input).to.deep.equal({InstanceId: id, InstanceType: {Value: 'm5.large'}})

      await ec2Resize.rollback!(p, r, ctx)
      expect(aws.ec2.instances.get(id)).to.deep.include({InstanceType: 't3.small', State: {Name: 'running', Code: 16}})
    })

    it('resuming after a crash between modify and start only starts it; an instance at the type is left alone', async () => {
      const [id] = await launch(1)
      const inst = aws.ec2.instances.get(id)!
      inst.State = {Name: 'stopped', Code: 80}
      inst.InstanceType = 'm5.large'
      const ctx = testContext({stepId: 'grow', state: {previousTypes: {[id]: 't3.small'}, wasRunning: {[id]: true}}})
      await ec2Resize.run(ec2Resize.params.parse({instanceIds: [id], instanceType: 'm5.large'}), ctx)
      expect(aws.ec2Mock.commandCalls(StopInstancesCommand)).to.have.length(0)
      expect(aws.ec2Mock.commandCalls(ModifyInstanceAttributeCommand)).to.have.length(0)
      expect(inst.State!.Name).to.equal('running')
      const line = await ec2Resize.plan(ec2Resize.params.parse({instanceIds: [id], instanceType: 'm5.large'}), ctx)
      expect(line.action).to.equal('none')
    })
  })

  describe('ec2.scale', () => {
    it('scales a tagged group up with a ClientToken (same instances on resume), then down terminating the newest', async () => {
      const base = await launch(1, {app: 'shop', tier: 'web'})
      const p = ec2Scale.params.parse({selector: {tier: 'web'}, count: 3, imageId: AMI, instanceType: 't3.small'})
      const up = testContext({stepId: 'scale-up'})
      const r = await ec2Scale.run(p, up)
      expect(r.outputs.count).to.equal(3)
      expect(r.outputs.launched).to.have.length(2)
      const run = aws.ec2Mock.commandCalls(RunInstancesCommand).at(-1)!.args[0].input
      expect(run).to.include({MinCount: 2, MaxCount: 2, ClientToken: up.token('scale-3')})
      expect(run.TagSpecifications![0].Tags).to.deep.include({Key: 'tier', Value: 'web'})
      expect(up.resources.map((x) => x.id)).to.deep.equal(r.outputs.launched)

      const again = testContext({stepId: 'scale-up', state: up.state})
      const r2 = await ec2Scale.run(p, again)
      expect(r2.outputs.launched).to.deep.equal(r.outputs.launched)
      expect(aws.ec2.live('us-west-2').instances).to.have.length(3)

      const down = testContext({stepId: 'scale-down'})
      const d = await ec2Scale.run(ec2Scale.params.parse({selector: {tier: 'web'}, count: 1}), down)
      expect(d.outputs.instanceIds).to.deep.equal(base)
      expect(new Set(d.outputs.terminated as string[])).to.deep.equal(new Set(r.outputs.launched as string[]))
      expect(aws.ec2.live('us-west-2').instances.map((i) => i.InstanceId)).to.deep.equal(base)
    })

    it('rollback of a scale-up terminates what it launched', async () => {
      await launch(1, {tier: 'web'})
      const p = ec2Scale.params.parse({selector: {tier: 'web'}, count: 2, imageId: AMI, instanceType: 't3.small'})
      const ctx = testContext({stepId: 'scale-up'})
      const r = await ec2Scale.run(p, ctx)
      await ec2Scale.rollback!(p, r, ctx)
      const launched = aws.ec2.instances.get((r.outputs.launched as string[])[0])!
      expect(launched.State!.Name).to.be.oneOf(['shutting-down', 'terminated'])
      expect(aws.ec2.live('us-west-2').instances.filter((i) => i.State?.Name === 'running')).to.have.length(1)
    })

    it('in a drill it never terminates instances this run did not launch', async () => {
      await launch(2, {tier: 'web'})
      const ctx = testContext({stepId: 'scale-down', mode: 'drill'})
      const r = await ec2Scale.run(ec2Scale.params.parse({selector: {tier: 'web'}, count: 0}), ctx)
      expect(r.outputs.terminated).to.deep.equal([])
      expect(aws.ec2Mock.commandCalls(TerminateInstancesCommand)).to.have.length(0)
      expect(aws.ec2.live('us-west-2').instances).to.have.length(2)
    })

    it('refuses to scale up without a launch source', async () => {
      const err = await ec2Scale.run(ec2Scale.params.parse({selector: {tier: 'web'}, count: 1}), testContext()).catch((error) => error)
      expect(err.code).to.equal('DR_SCALE_NO_SOURCE')
    })
  })

  describe('eip.associate', () => {
    beforeEach(() => aws.ec2.addAddress('us-west-2', 'eipalloc-0123456789abcdef0', '198.51.100.77'))

    it('associates with AllowReassociation, outputs associationId and publicIp, and rollback restores the previous association', async () => {
      const [old] = await launch(1)
      const [fresh] = await launch(1, {app: 'shop'}, 'run-base', 'other')
      const first = testContext({stepId: 'eip0'})
      await eipAssociate.run(eipAssociate.params.parse({allocationId: 'eipalloc-0123456789abcdef0', instanceId: old}), first)

      const ctx = testContext({stepId: 'eip'})
      const p = eipAssociate.params.parse({allocationId: 'eipalloc-0123456789abcdef0', instanceId: fresh})
      const r = await eipAssociate.run(p, ctx)
      expect(r.outputs).to.deep.include({publicIp: '198.51.100.77', allocationId: 'eipalloc-0123456789abcdef0'})
      expect(r.outputs.associationId).to.match(/^eipassoc-/)
      expect(aws.ec2Mock.commandCalls(AssociateAddressCommand).at(-1)!.args[0].input).to.deep.include({AllocationId: 'eipalloc-0123456789abcdef0', InstanceId: fresh, AllowReassociation: true})
      expect(aws.ec2.addresses.get('eipalloc-0123456789abcdef0')!.InstanceId).to.equal(fresh)
      expect((ctx.state.previous as {instanceId: string}).instanceId).to.equal(old)

      await eipAssociate.rollback!(p, r, ctx)
      expect(aws.ec2.addresses.get('eipalloc-0123456789abcdef0')!.InstanceId).to.equal(old)
    })

    it('retries while the instance is still pending (IncorrectInstanceState), then associates', async () => {
      const ctx0 = testContext({runId: 'run-base', stepId: 'app'})
      const r0 = await ec2Launch.run(ec2Launch.params.parse({imageId: AMI, instanceType: 't3.small', waitFor: 'none'}), ctx0)
      const id = (r0.outputs.instanceIds as string[])[0]
      aws.ec2.delayPolls = 1
      const ctx = testContext({
        stepId: 'eip',
        // Time passes: the next Describe moves the instance to running.
        onSleep: () => void aws.ec2.handle('DescribeInstances', 'us-west-2', {InstanceIds: [id]}),
      })
      const r = await eipAssociate.run(eipAssociate.params.parse({allocationId: 'eipalloc-0123456789abcdef0', instanceId: id}), ctx)
      expect(r.outputs.associationId).to.match(/^eipassoc-/)
      expect(aws.ec2Mock.commandCalls(AssociateAddressCommand)).to.have.length(2)
      expect(ctx.sleeps).to.have.length(1)
    })

    it('removeResource disassociates an address that was free before', async () => {
      const [id] = await launch(1)
      const ctx = testContext({stepId: 'eip'})
      await eipAssociate.run(eipAssociate.params.parse({allocationId: 'eipalloc-0123456789abcdef0', instanceId: id}), ctx)
      await eipAssociate.removeResource!(ctx.resources[0], ctx)
      expect(aws.ec2.addresses.get('eipalloc-0123456789abcdef0')!.AssociationId).to.equal(undefined)
    })

    it('in a drill a production address in use is not moved; an unknown allocation fails readiness', async () => {
      const [prod] = await launch(1)
      const [drill] = await launch(1, {app: 'shop'}, 'run-base', 'other')
      await eipAssociate.run(eipAssociate.params.parse({allocationId: 'eipalloc-0123456789abcdef0', instanceId: prod}), testContext({stepId: 'x'}))
      const ctx = testContext({stepId: 'eip', mode: 'drill'})
      const r = await eipAssociate.run(eipAssociate.params.parse({allocationId: 'eipalloc-0123456789abcdef0', instanceId: drill}), ctx)
      expect(r.outputs.skipped).to.equal('drill: address in use')
      expect(aws.ec2.addresses.get('eipalloc-0123456789abcdef0')!.InstanceId).to.equal(prod)
      const checks = await eipAssociate.readiness!(eipAssociate.params.parse({allocationId: 'eipalloc-0ffffffffffffffff', instanceId: 'i-1'}), ctx)
      expect(checks[0]).to.include({ok: false, detail: 'Elastic IP eipalloc-0ffffffffffffffff is not allocated in us-west-2'})
    })
  })

  describe('sweepRunResources', () => {
    it('removes every instance, image, snapshot and volume tagged with the run id (and nothing else), so none is left', async () => {
      const keep = await launch(1, {app: 'prod'}, 'other-run')
      const runId = 'run-drill-1'
      const copy = testContext({runId, stepId: 'copy-ami', mode: 'drill'})
      await amiCopy.run(amiCopy.params.parse({sourceImageId: 'ami-0123456789abcdef0', name: 'shop-drill-copy'}), copy)
      aws.ec2.deleteOnTermination = false
      await launch(2, {app: 'shop'}, runId, 'app')
      expect(aws.ec2.tagged('lifeboat:run-id', runId)).to.have.length(2 + 2 + 2)

      const log: string[] = []
      const found = await sweepRunResources(runId, {regions: ['us-east-1', 'us-west-2'], client: copy.client, sleep: copy.sleep, now: copy.now, log: (m) => log.push(m)})
      expect(found.map((r) => r.kind).sort()).to.deep.equal(['ec2:image', 'ec2:instance', 'ec2:instance', 'ec2:volume', 'ec2:volume'])
      expect(found.every((r) => r.removedAt)).to.equal(true)
      expect(aws.ec2.tagged('lifeboat:run-id', runId)).to.deep.equal([])
      // The snapshot of the copied image went with it; the other run's instance and the source image stay.
      expect(aws.ec2.live('us-west-2').snapshots.filter((s) => s.Description?.startsWith('Copied'))).to.deep.equal([])
      expect(aws.ec2.live('us-west-2').instances.map((i) => i.InstanceId)).to.deep.equal(keep)
      expect(aws.ec2.live('us-east-1').images).to.have.length(1)

      const again = await sweepRunResources(runId, {regions: ['us-west-2'], client: copy.client, sleep: copy.sleep, now: copy.now})
      expect(again).to.deep.equal([])
    })

    it('dryRun lists without deleting; what cannot be removed is returned without removedAt', async () => {
      const runId = 'run-drill-2'
      await launch(1, {app: 'shop'}, runId, 'app')
      const ctx = testContext({runId})
      const listed = await sweepRunResources(runId, {regions: ['us-west-2'], client: ctx.client, dryRun: true})
      expect(listed.map((r) => r.kind)).to.deep.equal(['ec2:instance', 'ec2:volume'])
      expect(aws.ec2Mock.commandCalls(TerminateInstancesCommand)).to.have.length(0)

      aws.ec2.failNext('TerminateInstances', Object.assign(new Error("The instance 'i-x' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again."), {name: 'OperationNotPermitted', $metadata: {httpStatusCode: 400}}))
      const found = await sweepRunResources(runId, {regions: ['us-west-2'], client: ctx.client, sleep: ctx.sleep, now: ctx.now})
      const inst = found.find((r) => r.kind === 'ec2:instance')!
      expect(inst.removedAt).to.equal(undefined)
      expect(inst.undo).to.deep.equal({error: "The instance 'i-x' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again."})
      expect(await sweepRunResources(runId, {regions: ['us-west-2'], client: ctx.client, removeOnly: true, sleep: ctx.sleep, now: ctx.now})).to.have.length(1)
    })
  })
})
