#!/usr/bin/env node
// Entry point: loads tsx so the TypeScript sources (and TS processor modules) run without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
