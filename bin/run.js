#!/usr/bin/env -S UV_THREADPOOL_SIZE=16 node --max-semi-space-size=1
// A small young generation: the backup, restore and check pipelines allocate a short-lived buffer per blob,
// and collecting them often keeps peak memory far lower at no cost in speed; 16 thread-pool threads let the
// scanner stat many files at once on a cold cache (bench/backup.ts).
import {execute} from '@oclif/core'

// The AWS SDK warns on every run that its 2027 releases need Node 22; users cannot act on it (Lifeboat pins
// SDK versions that run on Node 20), so it is off unless set explicitly.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

await execute({dir: import.meta.url})
