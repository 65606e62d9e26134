/**
 * A small in-memory EC2 + Route 53 behind aws-sdk-client-mock, for DR step and runner tests.
 *
 *   const aws = installFakeAws()          // mocks every EC2Client / Route53Client made in this process
 *   aws.ec2.addImage('us-east-1', {ImageId: 'ami-0123456789abcdef0', Name: 'shop'})
 *   aws.r53.addZone('Z0123456789ABC', [...records])
 *   ... run steps with a ctx whose client() does `new Ctor({region})` ...
 *   aws.ec2.live('us-west-2')             // what is left (not terminated / not deregistered)
 *   aws.restore()
 *
 * Requests are dispatched on the calling client's region (`await client.config.region()`), so a call made on
 * the wrong region's client finds nothing, as in AWS. Objects move through their states on each Describe*
 * (pending → available/running after `delayPolls` looks). Errors are shaped like the SDK's: `name` is the
 * AWS error code, `$metadata.httpStatusCode` set; Route 53 uses the SDK's own exception classes where the
 * SDK has one. `failNext(command, error, times)` injects failures before the fake handles a request.
 */
import * as ec2sdk from '@aws-sdk/client-ec2'
import type {Filter, Image, Instance, Snapshot, Tag, TagSpecification, Volume} from '@aws-sdk/client-ec2'
import * as r53sdk from '@aws-sdk/client-route-53'
import {InvalidChangeBatch, NoSuchHostedZone, type ResourceRecordSet} from '@aws-sdk/client-route-53'
import {type AwsStub, mockClient} from 'aws-sdk-client-mock'

export function awsError(name: string, message: string, status = 400): Error {
  return Object.assign(new Error(message), {name, Code: name, $fault: status >= 500 ? 'server' : 'client', $metadata: {httpStatusCode: status, requestId: 'fake-req'}})
}

type Injected = {error: Error | (() => Error); times: number}

let counter = 0x1000
function hexId(prefix: string, width = 17): string {
  counter++
  return `${prefix}-${counter.toString(16).padStart(width, '0')}`
}

function tagsFor(specs: TagSpecification[] | undefined, type: string): Tag[] {
  return (specs ?? []).filter((s) => s.ResourceType === type).flatMap((s) => s.Tags ?? [])
}

function wildcard(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$')
  return re.test(value)
}

function matchesFilters(tags: Tag[] | undefined, fields: Record<string, string | undefined>, filters: Filter[] | undefined): boolean {
  for (const f of filters ?? []) {
    const values = f.Values ?? []
    let actual: string | undefined
    if (f.Name?.startsWith('tag:')) actual = tags?.find((t) => t.Key === f.Name!.slice(4))?.Value
    else if (f.Name === 'tag-key') {
      if (!values.some((v) => tags?.some((t) => t.Key === v))) return false
      continue
    } else actual = fields[f.Name ?? '']
    if (!values.some((v) => wildcard(v, actual))) return false
  }
  return true
}

class Injector {
  private injected = new Map<string, Injected[]>()
  /** The next `times` calls of `command` (e.g. 'ChangeResourceRecordSets') fail with `error`. */
  failNext(command: string, error: Error | (() => Error), times = 1): void {
    const list = this.injected.get(command) ?? []
    list.push({error, times})
    this.injected.set(command, list)
  }

  take(command: string): void {
    const list = this.injected.get(command)
    const head = list?.[0]
    if (!head) return
    head.times--
    if (head.times <= 0) list!.shift()
    throw typeof head.error === 'function' ? head.error() : head.error
  }
}

interface FakeImage extends Image {
  region: string
  looks: number
}
interface FakeInstance extends Instance {
  region: string
  looks: number
  target?: string
}

export class FakeEc2 extends Injector {
  images = new Map<string, FakeImage>()
  snapshots = new Map<string, Snapshot & {region: string}>()
  instances = new Map<string, FakeInstance>()
  volumes = new Map<string, Volume & {region: string; deleteOnTermination: boolean}>()
  /** Root volumes of new instances are deleted with them (DeleteOnTermination), unless this is false. */
  deleteOnTermination = true
  addresses = new Map<string, {region: string; AllocationId: string; PublicIp: string; AssociationId?: string; InstanceId?: string; NetworkInterfaceId?: string}>()
  subnets = new Map<string, {region: string; SubnetId: string; AvailabilityZone: string}>()
  securityGroups = new Map<string, {region: string; GroupId: string}>()
  launchTemplates = new Map<string, {region: string; LaunchTemplateId: string; LaunchTemplateName: string; ImageId: string; InstanceType: string}>()
  tokens = new Map<string, unknown>()
  /** How many Describe looks a pending image/instance/stop/start takes. */
  delayPolls = 2
  /** The next copied image ends in this state with this reason (e.g. {state:'failed', message:'...'}). */
  copyOutcome?: {state: 'failed' | 'invalid'; code?: string; message: string}
  calls: Array<{command: string; region: string; input: any}> = []

  addImage(region: string, img: Partial<Image> & {ImageId: string}): FakeImage {
    const snap = hexId('snap')
    this.snapshots.set(snap, {region, SnapshotId: snap, State: 'completed', Description: `Created by CreateImage for ${img.ImageId}`, Tags: []})
    const full: FakeImage = {
      region,
      looks: 0,
      State: 'available',
      Name: img.ImageId,
      CreationDate: '2026-11-20T10:00:00.000Z',
      BlockDeviceMappings: [{DeviceName: '/dev/xvda', Ebs: {SnapshotId: snap, VolumeSize: 8}}],
      Tags: [],
      ...img,
    }
    this.images.set(img.ImageId, full)
    return full
  }

  addSubnet(region: string, SubnetId: string): void {
    this.subnets.set(SubnetId, {region, SubnetId, AvailabilityZone: `${region}a`})
  }

  addSecurityGroup(region: string, GroupId: string): void {
    this.securityGroups.set(GroupId, {region, GroupId})
  }

  addLaunchTemplate(region: string, t: {LaunchTemplateId: string; LaunchTemplateName: string; ImageId: string; InstanceType: string}): void {
    this.launchTemplates.set(t.LaunchTemplateId, {region, ...t})
  }

  addAddress(region: string, AllocationId: string, PublicIp: string): void {
    this.addresses.set(AllocationId, {region, AllocationId, PublicIp})
  }

  /** Instances that are not terminated, images not deregistered, snapshots: what a drill would leak. */
  live(region?: string): {instances: FakeInstance[]; images: FakeImage[]; snapshots: Snapshot[]; volumes: Volume[]} {
    const inRegion = <T extends {region: string}>(x: T) => region === undefined || x.region === region
    return {
      instances: [...this.instances.values()].filter((i) => inRegion(i) && i.State?.Name !== 'terminated'),
      images: [...this.images.values()].filter((i) => inRegion(i)),
      snapshots: [...this.snapshots.values()].filter((s) => inRegion(s)),
      volumes: [...this.volumes.values()].filter((v) => inRegion(v)),
    }
  }

  /** Resources carrying a tag (e.g. lifeboat:run-id) that are still alive. */
  tagged(key: string, value: string): string[] {
    const has = (tags: Tag[] | undefined) => tags?.some((t) => t.Key === key && t.Value === value)
    const l = this.live()
    return [
      ...l.instances.filter((i) => has(i.Tags)).map((i) => i.InstanceId!),
      ...l.images.filter((i) => has(i.Tags)).map((i) => i.ImageId!),
      ...l.snapshots.filter((s) => has(s.Tags)).map((s) => s.SnapshotId!),
      ...l.volumes.filter((v) => has(v.Tags)).map((v) => v.VolumeId!),
    ]
  }

  private step(inst: FakeInstance): void {
    const s = inst.State?.Name
    if (s !== 'pending' && s !== 'stopping' && s !== 'shutting-down') return
    inst.looks++
    if (inst.looks < this.delayPolls) return
    inst.looks = 0
    const next = s === 'pending' ? 'running' : s === 'stopping' ? 'stopped' : 'terminated'
    inst.State = {Name: next, Code: {running: 16, stopped: 80, terminated: 48}[next]}
    if (next === 'terminated') {
      for (const v of this.volumes.values()) {
        if (v.Attachments?.[0]?.InstanceId !== inst.InstanceId) continue
        if (v.deleteOnTermination) this.volumes.delete(v.VolumeId!)
        else Object.assign(v, {State: 'available', Attachments: []})
      }
    }
    if (next === 'running') inst.PublicIpAddress ??= `203.0.113.${(counter++ % 200) + 10}`
    if (next === 'stopped' || next === 'terminated') inst.PublicIpAddress = undefined
  }

  private inst(region: string, id: string): FakeInstance {
    const i = this.instances.get(id)
    if (!i || i.region !== region) throw awsError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`)
    return i
  }

  handle(command: string, region: string, input: any): any {
    this.calls.push({command, region, input})
    this.take(command)
    switch (command) {
      case 'CopyImage': {
        const key = `CopyImage:${region}:${input.ClientToken}`
        if (input.ClientToken && this.tokens.has(key)) return {ImageId: this.tokens.get(key)}
        const src = this.images.get(input.SourceImageId)
        if (!src || src.region !== input.SourceRegion) throw awsError('InvalidAMIID.NotFound', `The image id '[${input.SourceImageId}]' does not exist`)
        if ([...this.images.values()].some((i) => i.region === region && i.Name === input.Name)) {
          throw awsError('InvalidAMIName.Duplicate', `AMI name ${input.Name} is already in use by AMI`)
        }
        const id = hexId('ami')
        const snap = hexId('snap')
        const tags = [...(input.CopyImageTags ? (src.Tags ?? []) : []), ...tagsFor(input.TagSpecifications, 'image')]
        this.snapshots.set(snap, {
          region,
          SnapshotId: snap,
          State: 'completed',
          Description: `Copied for DestinationAmi ${id} from SourceAmi ${src.ImageId} for SourceSnapshot ${src.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId}. Task created on 1,763,800,000,000.`,
          Tags: tagsFor(input.TagSpecifications, 'snapshot'),
        })
        this.images.set(id, {
          region,
          looks: 0,
          ImageId: id,
          Name: input.Name,
          State: 'pending',
          CreationDate: new Date().toISOString(),
          BlockDeviceMappings: [{DeviceName: '/dev/xvda', Ebs: {SnapshotId: snap, VolumeSize: 8}}],
          Tags: tags,
        })
        if (input.ClientToken) this.tokens.set(key, id)
        return {ImageId: id}
      }

      case 'DescribeImages': {
        let list = [...this.images.values()].filter((i) => i.region === region)
        if (input.ImageIds?.length) {
          for (const id of input.ImageIds) {
            if (!list.some((i) => i.ImageId === id)) throw awsError('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`)
          }
          list = list.filter((i) => input.ImageIds.includes(i.ImageId))
        }
        list = list.filter((i) => matchesFilters(i.Tags, {name: i.Name, state: i.State, 'image-id': i.ImageId}, input.Filters))
        for (const i of list) {
          if (i.State !== 'pending') continue
          if (++i.looks < this.delayPolls) continue
          if (this.copyOutcome) {
            i.State = this.copyOutcome.state
            i.StateReason = {Code: this.copyOutcome.code ?? 'Client.UnsupportedOperation', Message: this.copyOutcome.message}
            this.copyOutcome = undefined
          } else i.State = 'available'
        }
        return {Images: list.map(({region: _r, looks: _l, ...img}) => structuredClone(img))}
      }

      case 'DeregisterImage': {
        const img = this.images.get(input.ImageId)
        if (!img || img.region !== region) throw awsError('InvalidAMIID.NotFound', `The image id '[${input.ImageId}]' does not exist`)
        this.images.delete(input.ImageId)
        return {Return: true}
      }

      case 'DescribeSnapshots': {
        const list = [...this.snapshots.values()].filter(
          (s) => s.region === region && (!input.SnapshotIds?.length || input.SnapshotIds.includes(s.SnapshotId)) && matchesFilters(s.Tags, {description: s.Description, 'snapshot-id': s.SnapshotId}, input.Filters),
        )
        return {Snapshots: list.map(({region: _r, ...s}) => structuredClone(s))}
      }

      case 'DeleteSnapshot': {
        const s = this.snapshots.get(input.SnapshotId)
        if (!s || s.region !== region) throw awsError('InvalidSnapshot.NotFound', `The snapshot '${input.SnapshotId}' does not exist.`)
        const user = [...this.images.values()].find((i) => i.BlockDeviceMappings?.some((b) => b.Ebs?.SnapshotId === input.SnapshotId))
        if (user) throw awsError('InvalidSnapshot.InUse', `The snapshot ${input.SnapshotId} is currently in use by ${user.ImageId}`)
        this.snapshots.delete(input.SnapshotId)
        return {}
      }

      case 'RunInstances': {
        const key = `RunInstances:${region}:${input.ClientToken}`
        if (input.ClientToken && this.tokens.has(key)) {
          const prev = this.tokens.get(key) as {ids: string[]; input: any}
          if (prev.input.MinCount !== input.MinCount || prev.input.ImageId !== input.ImageId) {
            throw awsError('IdempotentParameterMismatch', 'The client token you have provided is associated with a resource that has different parameters')
          }
          return {Instances: prev.ids.map((id) => structuredClone(this.strip(this.instances.get(id)!)))}
        }
        let imageId = input.ImageId
        let type = input.InstanceType
        if (input.LaunchTemplate) {
          const t = [...this.launchTemplates.values()].find(
            (x) => x.region === region && (x.LaunchTemplateId === input.LaunchTemplate.LaunchTemplateId || x.LaunchTemplateName === input.LaunchTemplate.LaunchTemplateName),
          )
          if (!t) throw awsError('InvalidLaunchTemplateId.NotFound', 'The specified launch template does not exist')
          imageId ??= t.ImageId
          type ??= t.InstanceType
        }
        const img = this.images.get(imageId)
        if (!img || img.region !== region) throw awsError('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`)
        if (img.State !== 'available') throw awsError('InvalidAMIID.Unavailable', `The image ${imageId} is not available`)
        if (input.SubnetId && !this.subnets.has(input.SubnetId)) throw awsError('InvalidSubnetID.NotFound', `The subnet ID '${input.SubnetId}' does not exist`)
        if (!input.MinCount || !input.MaxCount) throw awsError('MissingParameter', 'The request must contain the parameter MinCount/MaxCount')
        const ids: string[] = []
        for (let n = 0; n < input.MaxCount; n++) {
          const id = hexId('i')
          ids.push(id)
          this.instances.set(id, {
            region,
            looks: 0,
            InstanceId: id,
            ImageId: imageId,
            InstanceType: type ?? 'm1.small',
            State: {Name: 'pending', Code: 0},
            PrivateIpAddress: `10.0.1.${(counter % 200) + 10 + n}`,
            SubnetId: input.SubnetId,
            LaunchTime: new Date(Date.UTC(2026, 10, 22, 5, 0, counter % 60)),
            Tags: tagsFor(input.TagSpecifications, 'instance'),
          })
          const vol = hexId('vol')
          this.volumes.set(vol, {
            region,
            VolumeId: vol,
            State: 'in-use',
            Size: 8,
            Attachments: [{InstanceId: id, Device: '/dev/xvda', State: 'attached', DeleteOnTermination: this.deleteOnTermination}],
            Tags: tagsFor(input.TagSpecifications, 'volume'),
            deleteOnTermination: this.deleteOnTermination,
          })
        }
        if (input.ClientToken) this.tokens.set(key, {ids, input})
        return {ReservationId: hexId('r'), Instances: ids.map((id) => structuredClone(this.strip(this.instances.get(id)!)))}
      }

      case 'DescribeInstances': {
        let list = [...this.instances.values()].filter((i) => i.region === region)
        if (input.InstanceIds?.length) {
          for (const id of input.InstanceIds) this.inst(region, id)
          list = list.filter((i) => input.InstanceIds.includes(i.InstanceId))
        }
        for (const i of list) this.step(i)
        list = list.filter((i) => matchesFilters(i.Tags, {'instance-state-name': i.State?.Name, 'instance-id': i.InstanceId, 'image-id': i.ImageId}, input.Filters))
        return {Reservations: list.length ? [{Instances: list.map((i) => structuredClone(this.strip(i)))}] : []}
      }

      case 'DescribeInstanceStatus': {
        const list = (input.InstanceIds ?? []).map((id: string) => this.inst(region, id))
        return {
          InstanceStatuses: list.map((i: FakeInstance) => ({
            InstanceId: i.InstanceId,
            InstanceState: i.State,
            InstanceStatus: {Status: i.State?.Name === 'running' ? 'ok' : 'not-applicable'},
            SystemStatus: {Status: i.State?.Name === 'running' ? 'ok' : 'not-applicable'},
          })),
        }
      }

      case 'TerminateInstances': {
        const list = (input.InstanceIds ?? []).map((id: string) => this.inst(region, id))
        return {
          TerminatingInstances: list.map((i: FakeInstance) => {
            const prev = i.State
            if (i.State?.Name !== 'terminated') i.State = {Name: 'shutting-down', Code: 32}
            for (const a of this.addresses.values()) if (a.InstanceId === i.InstanceId) Object.assign(a, {InstanceId: undefined, AssociationId: undefined})
            return {InstanceId: i.InstanceId, PreviousState: prev, CurrentState: i.State}
          }),
        }
      }

      case 'StopInstances': {
        const list = (input.InstanceIds ?? []).map((id: string) => this.inst(region, id))
        for (const i of list) if (i.State?.Name === 'running' || i.State?.Name === 'pending') i.State = {Name: 'stopping', Code: 64}
        return {StoppingInstances: list.map((i: FakeInstance) => ({InstanceId: i.InstanceId, CurrentState: i.State}))}
      }

      case 'StartInstances': {
        const list = (input.InstanceIds ?? []).map((id: string) => this.inst(region, id))
        for (const i of list) {
          if (i.State?.Name !== 'stopped' && i.State?.Name !== 'running') throw awsError('IncorrectInstanceState', `The instance '${i.InstanceId}' is not in a state from which it can be started.`)
          if (i.State?.Name === 'stopped') i.State = {Name: 'pending', Code: 0}
        }
        return {StartingInstances: list.map((i: FakeInstance) => ({InstanceId: i.InstanceId, CurrentState: i.State}))}
      }

      case 'ModifyInstanceAttribute': {
        const i = this.inst(region, input.InstanceId)
        if (input.InstanceType) {
          if (i.State?.Name !== 'stopped') throw awsError('IncorrectInstanceState', `The instance '${i.InstanceId}' is not in the 'stopped' state.`)
          i.InstanceType = input.InstanceType.Value
        }
        return {}
      }

      case 'CreateTags': {
        for (const id of input.Resources ?? []) {
          const target = this.instances.get(id) ?? this.images.get(id) ?? this.snapshots.get(id) ?? this.volumes.get(id)
          if (!target) throw awsError('InvalidID', `The ID '${id}' is not valid`)
          const tags = (target.Tags ??= [])
          for (const t of input.Tags ?? []) {
            const at = tags.findIndex((x) => x.Key === t.Key)
            if (at >= 0) tags[at] = t
            else tags.push(t)
          }
        }
        return {}
      }

      case 'DescribeAddresses': {
        const list = [...this.addresses.values()].filter((a) => a.region === region && (!input.AllocationIds?.length || input.AllocationIds.includes(a.AllocationId)))
        for (const id of input.AllocationIds ?? []) {
          if (!list.some((a) => a.AllocationId === id)) throw awsError('InvalidAllocationID.NotFound', `The allocation ID '${id}' does not exist`)
        }
        return {Addresses: list.map(({region: _r, ...a}) => ({...a, Domain: 'vpc'}))}
      }

      case 'AssociateAddress': {
        const a = this.addresses.get(input.AllocationId)
        if (!a || a.region !== region) throw awsError('InvalidAllocationID.NotFound', `The allocation ID '${input.AllocationId}' does not exist`)
        if (input.InstanceId) {
          const i = this.inst(region, input.InstanceId)
          if (i.State?.Name !== 'running') throw awsError('IncorrectInstanceState', `The pending instance '${i.InstanceId}' is not in a valid state for this operation.`)
        }
        if (a.AssociationId && !input.AllowReassociation) throw awsError('Resource.AlreadyAssociated', `resource ${a.AllocationId} is already associated with associate-id ${a.AssociationId}`)
        a.AssociationId = hexId('eipassoc')
        a.InstanceId = input.InstanceId
        a.NetworkInterfaceId = input.NetworkInterfaceId
        return {AssociationId: a.AssociationId}
      }

      case 'DisassociateAddress': {
        const a = [...this.addresses.values()].find((x) => x.region === region && x.AssociationId === input.AssociationId)
        if (!a) throw awsError('InvalidAssociationID.NotFound', `The association ID '${input.AssociationId}' does not exist`)
        Object.assign(a, {AssociationId: undefined, InstanceId: undefined, NetworkInterfaceId: undefined})
        return {}
      }

      case 'DescribeVolumes': {
        const list = [...this.volumes.values()].filter((v) => v.region === region && matchesFilters(v.Tags, {status: v.State, 'volume-id': v.VolumeId}, input.Filters))
        return {Volumes: list.map(({region: _r, deleteOnTermination: _d, ...v}) => structuredClone(v))}
      }

      case 'DeleteVolume': {
        const v = this.volumes.get(input.VolumeId)
        if (!v || v.region !== region) throw awsError('InvalidVolume.NotFound', `The volume '${input.VolumeId}' does not exist.`)
        if (v.State === 'in-use') throw awsError('VolumeInUse', `Volume ${input.VolumeId} is currently attached to ${v.Attachments?.[0]?.InstanceId}`)
        this.volumes.delete(input.VolumeId)
        return {}
      }

      case 'DescribeSubnets': {
        for (const id of input.SubnetIds ?? []) {
          const s = this.subnets.get(id)
          if (!s || s.region !== region) throw awsError('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`)
        }
        return {Subnets: (input.SubnetIds ?? []).map((id: string) => ({...this.subnets.get(id), region: undefined, AvailableIpAddressCount: 250}))}
      }

      case 'DescribeSecurityGroups': {
        for (const id of input.GroupIds ?? []) {
          const g = this.securityGroups.get(id)
          if (!g || g.region !== region) throw awsError('InvalidGroup.NotFound', `The security group '${id}' does not exist`)
        }
        return {SecurityGroups: (input.GroupIds ?? []).map((id: string) => ({GroupId: id}))}
      }

      case 'DescribeLaunchTemplates': {
        const list = [...this.launchTemplates.values()].filter(
          (t) => t.region === region && (input.LaunchTemplateIds?.includes(t.LaunchTemplateId) || input.LaunchTemplateNames?.includes(t.LaunchTemplateName)),
        )
        if (list.length === 0) throw awsError('InvalidLaunchTemplateId.NotFound', 'At least one of the launch templates specified in the request does not exist.')
        return {LaunchTemplates: list.map((t) => ({LaunchTemplateId: t.LaunchTemplateId, LaunchTemplateName: t.LaunchTemplateName, DefaultVersionNumber: 1, LatestVersionNumber: 1}))}
      }

      default:
        throw new Error(`fake EC2 does not implement ${command}`)
    }
  }

  private strip(i: FakeInstance): Instance {
    const {region: _r, looks: _l, target: _t, ...rest} = i
    return rest
  }
}

interface Zone {
  id: string
  records: ResourceRecordSet[]
}

export class FakeRoute53 extends Injector {
  zones = new Map<string, Zone>()
  changes = new Map<string, {status: 'PENDING' | 'INSYNC'; looks: number; submitted: Date; batch: any}>()
  /** GetChange looks before a change is INSYNC. */
  insyncAfter = 2
  /** Health check id → status reports of the checkers ("Success: HTTP Status Code 200, OK" or "Failure: ..."). */
  health = new Map<string, string[] | (() => string[])>()
  batches: Array<{zone: string; changes: any[]}> = []
  calls: Array<{command: string; input: any}> = []

  addZone(id: string, records: ResourceRecordSet[]): void {
    this.zones.set(id, {id, records: structuredClone(records)})
  }

  record(zone: string, name: string, type: string, setId?: string): ResourceRecordSet | undefined {
    return this.zones.get(zone)?.records.find((r) => r.Name === name && r.Type === type && r.SetIdentifier === setId)
  }

  private zone(id: string): Zone {
    const z = this.zones.get(id.replace(/^\/hostedzone\//, ''))
    if (!z) throw new NoSuchHostedZone({message: `No hosted zone found with ID: ${id}`, $metadata: {httpStatusCode: 404}})
    return z
  }

  handle(command: string, input: any): any {
    this.calls.push({command, input})
    this.take(command)
    switch (command) {
      case 'ListResourceRecordSets': {
        const z = this.zone(input.HostedZoneId)
        const sorted = [...z.records].sort((a, b) => (a.Name! + a.Type! + (a.SetIdentifier ?? '')).localeCompare(b.Name! + b.Type! + (b.SetIdentifier ?? '')))
        let start = 0
        if (input.StartRecordName) {
          start = sorted.findIndex((r) => r.Name! >= input.StartRecordName && (!input.StartRecordType || r.Name !== input.StartRecordName || r.Type! >= input.StartRecordType))
          if (start < 0) start = sorted.length
        }
        const max = Number(input.MaxItems ?? 300)
        const page = sorted.slice(start, start + max)
        const next = sorted[start + max]
        return {
          ResourceRecordSets: structuredClone(page),
          IsTruncated: Boolean(next),
          NextRecordName: next?.Name,
          NextRecordType: next?.Type,
          NextRecordIdentifier: next?.SetIdentifier,
          MaxItems: String(max),
        }
      }

      case 'ChangeResourceRecordSets': {
        const z = this.zone(input.HostedZoneId)
        const next = structuredClone(z.records)
        const errors: string[] = []
        for (const ch of input.ChangeBatch?.Changes ?? []) {
          const rr: ResourceRecordSet = ch.ResourceRecordSet
          const at = next.findIndex((r) => r.Name === rr.Name && r.Type === rr.Type && r.SetIdentifier === rr.SetIdentifier)
          if (rr.Weight !== undefined && (rr.Weight < 0 || rr.Weight > 255)) errors.push(`Invalid weight ${rr.Weight}`)
          if (ch.Action === 'UPSERT') {
            if (at >= 0) next[at] = structuredClone(rr)
            else next.push(structuredClone(rr))
          } else if (ch.Action === 'CREATE') {
            if (at >= 0) errors.push(`Tried to create resource record set [name='${rr.Name}', type='${rr.Type}', set-identifier='${rr.SetIdentifier}'] but it already exists`)
            else next.push(structuredClone(rr))
          } else if (ch.Action === 'DELETE') {
            if (at < 0 || JSON.stringify(next[at]) !== JSON.stringify(rr)) errors.push(`Tried to delete resource record set [name='${rr.Name}', type='${rr.Type}', set-identifier='${rr.SetIdentifier}'] but it was not found`)
            else next.splice(at, 1)
          }
        }
        if (errors.length) throw new InvalidChangeBatch({message: `[${errors.join(', ')}]`, messages: errors, $metadata: {httpStatusCode: 400}})
        z.records = next
        this.batches.push({zone: z.id, changes: structuredClone(input.ChangeBatch.Changes)})
        const id = `/change/C${hexId('x', 12).slice(2).toUpperCase()}`
        this.changes.set(id, {status: 'PENDING', looks: 0, submitted: new Date(), batch: input})
        return {ChangeInfo: {Id: id, Status: 'PENDING', SubmittedAt: new Date(), Comment: input.ChangeBatch?.Comment}}
      }

      case 'GetChange': {
        const id = input.Id.startsWith('/change/') ? input.Id : `/change/${input.Id}`
        const c = this.changes.get(id)
        if (!c) throw awsError('NoSuchChange', 'A change with the specified change ID does not exist.', 404)
        if (c.status === 'PENDING' && ++c.looks >= this.insyncAfter) c.status = 'INSYNC'
        return {ChangeInfo: {Id: id, Status: c.status, SubmittedAt: c.submitted}}
      }

      case 'GetHealthCheck': {
        if (!this.health.has(input.HealthCheckId)) throw awsError('NoSuchHealthCheck', `A health check with id ${input.HealthCheckId} does not exist.`, 404)
        return {HealthCheck: {Id: input.HealthCheckId, CallerReference: 'fake', HealthCheckVersion: 1, HealthCheckConfig: {Type: 'HTTPS', FullyQualifiedDomainName: 'app.example.com', ResourcePath: '/health'}}}
      }

      case 'GetHealthCheckStatus': {
        const h = this.health.get(input.HealthCheckId)
        if (!h) throw awsError('NoSuchHealthCheck', `A health check with id ${input.HealthCheckId} does not exist.`, 404)
        const reports = typeof h === 'function' ? h() : h
        return {
          HealthCheckObservations: reports.map((r, n) => ({
            Region: ['us-east-1', 'us-west-1', 'us-west-2', 'eu-west-1', 'ap-southeast-1', 'ap-southeast-2', 'ap-northeast-1', 'sa-east-1'][n % 8],
            IPAddress: `15.177.${n}.1`,
            StatusReport: {Status: r, CheckedTime: new Date()},
          })),
        }
      }

      default:
        throw new Error(`fake Route 53 does not implement ${command}`)
    }
  }
}

export interface FakeAws {
  ec2: FakeEc2
  r53: FakeRoute53
  ec2Mock: AwsStub<any, any, any>
  r53Mock: AwsStub<any, any, any>
  restore(): void
}

/** The requests the fakes answer (any other request of a mocked client fails the test). */
const EC2_COMMANDS = [
  'AssociateAddress', 'CopyImage', 'CreateTags', 'DeleteSnapshot', 'DeleteVolume', 'DeregisterImage', 'DescribeAddresses',
  'DescribeImages', 'DescribeInstanceStatus', 'DescribeInstances', 'DescribeLaunchTemplates', 'DescribeSecurityGroups',
  'DescribeSnapshots', 'DescribeSubnets', 'DescribeVolumes', 'DisassociateAddress', 'ModifyInstanceAttribute', 'RunInstances',
  'StartInstances', 'StopInstances', 'TerminateInstances',
]
const R53_COMMANDS = ['ChangeResourceRecordSets', 'GetChange', 'GetHealthCheck', 'GetHealthCheckStatus', 'ListResourceRecordSets']

/** Mocks EC2Client and Route53Client (all instances) with the in-memory fakes. Call restore() in afterEach. */
export function installFakeAws(): FakeAws {
  const ec2 = new FakeEc2()
  const r53 = new FakeRoute53()
  const ec2Mock = mockClient(ec2sdk.EC2Client)
  const r53Mock = mockClient(r53sdk.Route53Client)
  for (const name of EC2_COMMANDS) {
    ec2Mock.on((ec2sdk as any)[`${name}Command`]).callsFake(async (input: any, getClient: () => any) => {
      const region = await getClient().config.region()
      return ec2.handle(name, region, input)
    })
  }
  for (const name of R53_COMMANDS) r53Mock.on((r53sdk as any)[`${name}Command`]).callsFake(async (input: any) => r53.handle(name, input))
  return {
    ec2,
    r53,
    ec2Mock,
    r53Mock,
    restore() {
      ec2Mock.restore()
      r53Mock.restore()
    },
  }
}
