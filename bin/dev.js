#!/usr/bin/env -S node --import tsx
import {execute} from '@oclif/core'

// The AWS SDK warns on every run that its 2027 releases need Node 22; users cannot act on it (Lifeboat pins
// SDK versions that run on Node 20), so it is off unless set explicitly.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

await execute({development: true, dir: import.meta.url})
